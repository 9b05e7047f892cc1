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
        if i % 10_000 == 0 {
            peak = peak.max(rss_bytes());
        }
    }
    tracker.flush(Duration::from_mins(2));
    let after = rss_bytes();
    peak = peak.max(after);
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    println!("memory/rss before tracker      {:8.1} MiB", mib(before));
    println!(
        "memory/rss tracker started     {:8.1} MiB  (+{:.1} MiB)",
        mib(started),
        mib(started.saturating_sub(before))
    );
    println!(
        "memory/rss after 100k tasks    {:8.1} MiB  (+{:.1} MiB)",
        mib(after),
        mib(after.saturating_sub(before))
    );
    println!(
        "memory/rss peak during loop    {:8.1} MiB  (+{:.1} MiB)",
        mib(peak),
        mib(peak.saturating_sub(before))
    );
}
