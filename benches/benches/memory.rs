//! Resident memory a tracker adds to a script (budget: < 10 MB RSS): RSS before
//! the tracker exists, after it started (writer thread, runtime, store), and
//! after 100,000 tasks; printed, not timed.

use std::time::Duration;

use pipetrack_benches::{Scratch, rss_bytes, tracker};
use tracker_client::InitOptions;

fn spin(duration: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

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
    let observe = |peak: &mut (u64, u64, u64)| {
        let now = rss_bytes();
        *peak = (peak.0.max(now.0), peak.1.max(now.1), peak.2.max(now.2));
    };
    // A script at a realistic pace: 50,000 tasks of 100 µs (10,000 tasks/s).
    for i in 0..50_000 {
        tracker.enter("Load county").expect("enter");
        spin(Duration::from_micros(100));
        tracker.progress(i % 100, 100).expect("progress");
        tracker.exit().expect("exit");
        if i % 5_000 == 0 {
            observe(&mut peak);
        }
    }
    tracker.flush(Duration::from_mins(2));
    let paced = rss_bytes();
    observe(&mut peak);
    let paced_peak = peak;
    // A burst: 100,000 tasks as fast as the calls go (the queue overflows into the spool).
    for i in 0..100_000 {
        tracker.enter("Load county").expect("enter");
        tracker.progress(i % 100, 100).expect("progress");
        tracker.exit().expect("exit");
        if i % 5_000 == 0 {
            observe(&mut peak);
        }
    }
    tracker.flush(Duration::from_mins(2));
    let burst = rss_bytes();
    let mib = |bytes: u64| bytes as f64 / 1_048_576.0;
    let line = |label: &str, (all, anon, file): (u64, u64, u64)| {
        println!(
            "memory/{label:<26} RSS {:6.1} MiB (+{:5.1})   anon {:6.1} MiB (+{:5.1})   file {:6.1} MiB (+{:5.1})",
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
    line("after 50k paced tasks", paced);
    line("peak, paced", paced_peak);
    line("after 100k-task burst", burst);
    line("peak, burst", peak);
}
