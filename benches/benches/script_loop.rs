//! A realistic script loop: 10,000 tasks of about 1 ms of work each, with and
//! without tracking (genter, one gmessage, one progress tick, gexit per task).
//! Budget: < 1 % wall-time overhead.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use pipetrack_benches::{Scratch, tracker};
use tracker_client::{InitOptions, Tracker};

const TASKS: i64 = 10_000;

/// About 1 ms of CPU work (checksumming a buffer), sized once at start.
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
        if took >= Duration::from_millis(20) {
            return (rounds as f64 * 1e6 / took.as_nanos() as f64) as u64;
        }
        rounds *= 2;
    }
}

fn script(tracker: Option<&Tracker>, rounds: u64) {
    for task in 0..TASKS {
        if let Some(t) = tracker {
            t.enter("Load county").expect("enter");
            t.message("reading shapes").expect("message");
        }
        black_box(work(rounds));
        if let Some(t) = tracker {
            t.progress(task + 1, TASKS).expect("progress");
            t.exit().expect("exit");
        }
    }
}

fn script_loop(c: &mut Criterion) {
    let rounds = rounds_per_ms();
    let scratch = Scratch::new("loop");
    let mut group = c.benchmark_group("script_loop_10k_tasks_1ms");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(100));
    group.bench_function("untracked", |b| b.iter(|| script(None, rounds)));
    group.bench_function("tracked", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let tracker = tracker(scratch.sqlite(), scratch.dir.join("spool"));
                let start = Instant::now();
                tracker
                    .init(InitOptions {
                        script_name: Some(format!("DAILY_97_Loop_{i}.R")),
                        ..InitOptions::default()
                    })
                    .expect("init");
                script(Some(&tracker), rounds);
                tracker.finish().expect("finish");
                // The exit flush is part of the script's wall time.
                tracker.shutdown(tracker_client::ExitReason::Code(0));
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, script_loop);
criterion_main!(benches);
