//! Cost of one tracking call on the caller's thread (budget: median < 200 ns).
//!
//! The tracker writes to a real SQLite store in the background. Calls are timed
//! in chunks of 10,000 and the queue is flushed between chunks (untimed), so
//! what is measured is the caller's cost with a queue that is not full, the
//! normal state of a script (the writer drains far faster than scripts report).
//! Each call is measured twice: wall-clock (`call/...`) and CPU time of the
//! calling thread (`call-thread-cpu/...`), which on a loaded machine leaves out
//! the time other processes held the core.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pipetrack_benches::{Scratch, thread_cpu_time, tracker};
use tracker_client::{InitOptions, Tracker};

const CHUNK: u64 = 10_000;

#[derive(Clone, Copy)]
enum Clock {
    Wall,
    ThreadCpu,
}

fn timed(tracker: &Tracker, clock: Clock, iters: u64, call: impl Fn(&Tracker, u64)) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = CHUNK.min(iters - done);
        let (wall, cpu) = (Instant::now(), thread_cpu_time());
        for i in 0..n {
            call(tracker, done + i);
        }
        total += match clock {
            Clock::Wall => wall.elapsed(),
            Clock::ThreadCpu => thread_cpu_time().saturating_sub(cpu),
        };
        done += n;
        tracker.flush(Duration::from_mins(1));
    }
    total
}

fn calls(c: &mut Criterion) {
    let scratch = Scratch::new("client");
    let tracker = tracker(scratch.sqlite(), scratch.dir.join("spool"));
    tracker
        .init(InitOptions {
            script_name: Some("DAILY_98_Call_Bench.R".into()),
            skip_env: true,
            skip_git: true,
            ..InitOptions::default()
        })
        .expect("init");
    for (group_name, clock) in [("call", Clock::Wall), ("call-thread-cpu", Clock::ThreadCpu)] {
        let mut group = c.benchmark_group(group_name);
        group.bench_function("genter+gexit", |b| {
            b.iter_custom(|iters| {
                timed(&tracker, clock, iters, |t, _| {
                    t.enter(black_box("Load county")).expect("enter");
                    t.exit().expect("exit");
                })
            });
        });
        group.bench_function("gmessage", |b| {
            tracker.enter("messages").expect("enter");
            b.iter_custom(|iters| {
                timed(&tracker, clock, iters, |t, _| {
                    t.message(black_box("Loading Alabama")).expect("message");
                })
            });
            tracker.exit().expect("exit");
        });
        group.bench_function("progress", |b| {
            tracker.enter("counter").expect("enter");
            b.iter_custom(|iters| {
                timed(&tracker, clock, iters, |t, i| {
                    t.progress(black_box(i as i64 % 3_143), 3_143).expect("progress");
                })
            });
            tracker.exit().expect("exit");
        });
        group.finish();
    }
    drop(tracker);
}

/// `PIPETRACK_DISABLED=1`: a call is one atomic load.
fn disabled(c: &mut Criterion) {
    // SAFETY: set before any other thread of this bench reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("PIPETRACK_DISABLED", "1");
    }
    assert!(!tracker_client::enabled());
    c.bench_function("call/disabled genter+gexit", |b| {
        b.iter(|| {
            tracker_client::genter(black_box("Load county")).expect("genter");
            tracker_client::gexit().expect("gexit");
        });
    });
}

criterion_group!(benches, calls, disabled);
criterion_main!(benches);
