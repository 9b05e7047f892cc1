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

/// Wall time spent inside tracking: `[track_init, the calls of the loop,
/// track_finish + exit flush]`.
type Inside = [Duration; 3];

/// One script run: (wall time, CPU time of the script's thread, time inside tracking).
fn script(scratch: Option<&Scratch>, rounds: u64, n: usize) -> (Duration, Duration, Inside) {
    let (wall, cpu) = (Instant::now(), thread_cpu_time());
    let mut inside: Inside = [Duration::ZERO; 3];
    let mut timed = |part: usize, f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        inside[part] += start.elapsed();
    };
    let mut session = None;
    if let Some(s) = scratch {
        // Creating the store is the test set-up, not tracking: migrate before timing.
        let t = tracker(s.sqlite(), s.dir.join("spool"));
        timed(0, &mut || {
            t.init(InitOptions {
                script_name: Some(format!("DAILY_97_Loop_{n}.R")),
                ..InitOptions::default()
            })
            .expect("init");
        });
        session = Some(t);
    }
    for task in 0..TASKS {
        if let Some(t) = &session {
            timed(1, &mut || {
                t.enter("Load county").expect("enter");
                t.message("reading shapes").expect("message");
            });
        }
        black_box(work(rounds));
        if let Some(t) = &session {
            timed(1, &mut || {
                t.progress(task + 1, TASKS).expect("progress");
                t.exit().expect("exit");
            });
        }
    }
    if let Some(t) = session {
        timed(2, &mut || {
            t.finish().expect("finish");
            let report = t.shutdown(tracker_client::ExitReason::Code(0));
            assert!(report.complete, "{report:?}");
        });
    }
    (wall.elapsed(), thread_cpu_time().saturating_sub(cpu), inside)
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
    let (mut direct, mut overheads, mut plain, mut tracked) = (vec![], vec![], vec![], vec![]);
    for pair in 0..pairs {
        let (u, t) = if pair % 2 == 0 {
            let u = script(None, rounds, pair);
            (u, script(Some(&scratch), rounds, pair))
        } else {
            let t = script(Some(&scratch), rounds, pair);
            (script(None, rounds, pair), t)
        };
        let pct = (t.0.as_secs_f64() / u.0.as_secs_f64() - 1.0) * 100.0;
        let total: Duration = t.2.iter().sum();
        let inside = total.as_secs_f64() / u.0.as_secs_f64() * 100.0;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "script_loop/pair {pair}: untracked {:.3} s, tracked {:.3} s ({pct:+.2} % wall, noisy); \
             inside tracking {:.1} ms = {inside:.3} % of the untracked run \
             (init {:.1} ms, 40,000 calls {:.1} ms, finish + exit flush {:.1} ms)",
            u.0.as_secs_f64(),
            t.0.as_secs_f64(),
            ms(total),
            ms(t.2[0]),
            ms(t.2[1]),
            ms(t.2[2]),
        );
        direct.push(inside);
        overheads.push(pct);
        plain.push(u.0.as_secs_f64());
        tracked.push(t.0.as_secs_f64());
    }
    println!(
        "script_loop/median of {pairs} pairs: untracked {:.3} s, tracked {:.3} s, paired wall difference {:+.2} %, \
         time inside tracking {:.3} % of the untracked run",
        median(plain),
        median(tracked),
        median(overheads),
        median(direct)
    );
}
