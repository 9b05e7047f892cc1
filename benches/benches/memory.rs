//! Resident memory a tracker adds to a script (budget: < 10 MB RSS): RSS before
//! the tracker exists, after it started (writer thread, runtime, store), and
//! after 100,000 tasks; printed, not timed.

use std::time::Duration;

use pipetrack_benches::{Scratch, rss_bytes, tracker};
use tracker_client::InitOptions;

#[allow(clippy::print_stdout)] // the bench's result is its output
fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let scratch = Scratch::new("memory");
    let before = rss_bytes();
    let tracker = tracker(scratch.sqlite(), scratch.dir.join("spool"));
    tracker
        .init(InitOptions { script_name: Some("DAILY_95_Memory.R".into()), ..InitOptions::default() })
        .expect("init");
    tracker.flush(Duration::from_secs(30));
    let started = rss_bytes();
    let mut peak = started;
    for i in 0..100_000 {
        tracker.enter("Load county").expect("enter");
        tracker.progress(i % 100, 100).expect("progress");
        tracker.exit().expect("exit");
        if i % 5_000 == 0 {
            let now = rss_bytes();
            peak = (peak.0.max(now.0), peak.1.max(now.1), peak.2.max(now.2));
        }
    }
    tracker.flush(Duration::from_mins(2));
    let after = rss_bytes();
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    let line = |label: &str, (all, anon, file): (u64, u64, u64)| {
        println!(
            "memory/{label:<22} RSS {:6.1} MiB (+{:5.1})   anon {:6.1} MiB (+{:5.1})   file {:6.1} MiB (+{:5.1})",
            mib(all),
            mib(all.saturating_sub(before.0)),
            mib(anon),
            mib(anon.saturating_sub(before.1)),
            mib(file),
            mib(file.saturating_sub(before.2)),
        );
    };
    line("before tracker", before);
    line("tracker started", started);
    line("after 100k tasks", after);
    line("peak during loop", peak);
}
