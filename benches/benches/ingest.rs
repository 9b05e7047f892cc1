//! Sustained ingest into the store (budgets: >= 50k events/s SQLite, >= 100k/s
//! Postgres on 2 cores): batches of 1,000 task events, as the writer sends
//! them, appended one after the other to one run; plus the same through the
//! whole client (calls -> queue -> writer -> store).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pipetrack_benches::{PgSchema, Scratch, open_store, run_id, start_event, task_events, tracker};
use tracker_client::InitOptions;
use tracker_db::{Store, StoreConfig};

const BATCH: usize = 1_000;

fn append_bench(c: &mut Criterion, name: &str, config: &StoreConfig, rt: &tokio::runtime::Runtime) {
    let store: Store = rt.block_on(open_store(config));
    let run = run_id(1);
    rt.block_on(store.append(vec![start_event(run)])).expect("start");
    let next = AtomicU64::new(2);
    let mut group = c.benchmark_group("ingest");
    group
        .throughput(Throughput::Elements(BATCH as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(15));
    group.bench_function(format!("{name} append 1000"), |b| {
        b.iter(|| {
            let first = next.fetch_add(BATCH as u64, Ordering::Relaxed);
            rt.block_on(store.append(task_events(run, first, BATCH))).expect("append");
        });
    });
    group.finish();
}

fn end_to_end(c: &mut Criterion, name: &str, config: &StoreConfig, scratch: &Scratch) {
    let tracker = tracker(config.clone(), scratch.dir.join(format!("spool-{name}")));
    tracker
        .init(InitOptions {
            script_name: Some(format!("DAILY_96_E2E_{name}.R")),
            skip_env: true,
            skip_git: true,
            ..InitOptions::default()
        })
        .expect("init");
    let mut group = c.benchmark_group("ingest");
    group
        .throughput(Throughput::Elements(2 * 10_000))
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function(format!("{name} client end-to-end 20000"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..10_000 {
                    tracker.enter("county").expect("enter");
                    tracker.exit().expect("exit");
                }
                let report = tracker.flush(Duration::from_mins(2));
                assert!(report.complete, "{report:?}");
            }
            start.elapsed()
        });
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let scratch = Scratch::new("ingest");
    let sqlite = scratch.sqlite();
    append_bench(c, "sqlite", &sqlite, &rt);
    end_to_end(c, "sqlite", &sqlite, &scratch);
    let pg = PgSchema::new("ingest");
    append_bench(c, "postgres", &pg.config, &rt);
    end_to_end(c, "postgres", &pg.config, &scratch);
    rt.block_on(pg.drop_schema());
}

criterion_group!(benches, ingest);
criterion_main!(benches);
