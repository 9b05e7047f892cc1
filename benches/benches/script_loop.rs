//! A realistic script loop: 10,000 tasks of about 1 ms of work each, with and
//! without tracking (genter, one gmessage, one progress tick, gexit per task;
//! the tracked run also pays track_init, track_finish and the exit flush).
//! Budget: < 1 % wall-time overhead.
//!
//! Not a criterion bench on purpose: on a shared machine whose load changes
//! within minutes, timing all untracked runs and then all tracked runs measures
//! the load, not the tracking. This runs untracked/tracked *pairs*, alternating
//! which goes first, and reports the overhead of each pair and their median.
//! `PAIRS` (default 5) sets the number of pairs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pipetrack_benches::{Scratch, thread_cpu_time, tracker};
use tracker_client::InitOptions;

const TASKS: i64 = 10_000;

/// About 1 ms of CPU work (mixing integers), sized once at start.
fn work(rounds: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..rounds {
        acc = acc.rotate_left(5) ^ black_box(i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    acc
}

fn rounds_per_ms() -> u64 {
    let mut rounds = 100_000;
    loop {
        let start = Instant::now();
        black_box(work(rounds));
        let took = start.elapsed();
        if took >= Duration::from_millis(50) {
            return (rounds as f64 * 1e6 / took.as_nanos() as f64) as u64;
        }
        rounds *= 2;
    }
}

/// One script run: (wall time, CPU time of the script's thread).
fn script(scratch: Option<&Scratch>, rounds: u64, n: usize) -> (Duration, Duration) {
    let (wall, cpu) = (Instant::now(), thread_cpu_time());
    let tracker = scratch.map(|s| {
        let t = tracker(s.sqlite(), s.dir.join("spool"));
        t.init(InitOptions { script_name: Some(format!("DAILY_97_Loop_{n}.R")), ..InitOptions::default() })
            .expect("init");
        t
    });
    for task in 0..TASKS {
        if let Some(t) = &tracker {
            t.enter("Load county").expect("enter");
            t.message("reading shapes").expect("message");
        }
        black_box(work(rounds));
        if let Some(t) = &tracker {
            t.progress(task + 1, TASKS).expect("progress");
            t.exit().expect("exit");
        }
    }
    if let Some(t) = tracker {
        t.finish().expect("finish");
        let report = t.shutdown(tracker_client::ExitReason::Code(0));
        assert!(report.complete, "{report:?}");
    }
    (wall.elapsed(), thread_cpu_time().saturating_sub(cpu))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[allow(clippy::print_stdout)] // the bench's result is its output
fn main() {
    let pairs: usize = std::env::var("PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let scratch = Scratch::new("loop");
    let rounds = rounds_per_ms();
    let (mut overheads, mut cpu_overheads, mut plain, mut tracked) = (vec![], vec![], vec![], vec![]);
    for pair in 0..pairs {
        let (u, t) = if pair % 2 == 0 {
            let u = script(None, rounds, pair);
            (u, script(Some(&scratch), rounds, pair))
        } else {
            let t = script(Some(&scratch), rounds, pair);
            (script(None, rounds, pair), t)
        };
        let pct = (t.0.as_secs_f64() / u.0.as_secs_f64() - 1.0) * 100.0;
        let cpu_pct = (t.1.as_secs_f64() / u.1.as_secs_f64() - 1.0) * 100.0;
        println!(
            "script_loop/pair {pair}: untracked {:.3} s, tracked {:.3} s, overhead {pct:+.2} % wall, {cpu_pct:+.2} % script-thread CPU",
            u.0.as_secs_f64(),
            t.0.as_secs_f64()
        );
        overheads.push(pct);
        cpu_overheads.push(cpu_pct);
        plain.push(u.0.as_secs_f64());
        tracked.push(t.0.as_secs_f64());
    }
    println!(
        "script_loop/median of {pairs} pairs: untracked {:.3} s, tracked {:.3} s, overhead {:+.2} % wall, {:+.2} % script-thread CPU",
        median(plain),
        median(tracked),
        median(overheads),
        median(cpu_overheads)
    );
}
