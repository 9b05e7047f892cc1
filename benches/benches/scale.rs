//! Scale benchmark of the read model (docs/performance.md, "Queries at scale").
//!
//! ```text
//! cargo bench -p pipetrack-benches --bench scale -- --database-url URL [--runs 1000000]
//!     [--iterations 50] [--batch-events 20000] [--generate-only] [--skip-generate]
//! ```
//!
//! Generates realistic history with `history-gen` (seed 42) into an empty
//! store, then times every query with the cache off and prints p50/p95/max.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use history_gen::{History, HistoryConfig};
use monitor_queries::{
    ErrorGroupFilter, HistoryFilter, HistorySort, ManualClock, Monitor, MonitorConfig, TrendScope,
};
use tracker_core::RunStatus;
use tracker_db::config::Source;
use tracker_db::{Backend, Store, StoreConfig};

struct Args {
    url: String,
    runs: u64,
    iterations: usize,
    batch_events: usize,
    generate_only: bool,
    skip_generate: bool,
}

fn args() -> Args {
    let mut args = Args {
        url: String::new(),
        runs: 1_000_000,
        iterations: 50,
        batch_events: 20_000,
        generate_only: false,
        skip_generate: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--database-url" => args.url = it.next().unwrap_or_default(),
            "--runs" => args.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--iterations" => {
                args.iterations = it.next().and_then(|v| v.parse().ok()).expect("--iterations N");
            }
            "--batch-events" => {
                args.batch_events = it.next().and_then(|v| v.parse().ok()).expect("--batch-events N");
            }
            "--generate-only" => args.generate_only = true,
            "--skip-generate" => args.skip_generate = true,
            _ => {} // cargo bench passes --bench
        }
    }
    assert!(!args.url.is_empty(), "usage: scale --database-url URL [--runs N] [--iterations N]");
    args
}

async fn count(store: &Store, table: &str) -> i64 {
    let rows = store.query(&format!("SELECT count(*) AS n FROM {table}"), Vec::new()).await.unwrap();
    rows[0].int("n").unwrap().unwrap_or(0)
}

async fn size_bytes(store: &Store, url: &str) -> i64 {
    match store.backend() {
        Backend::Postgres => {
            let rows = store
                .query(
                    "SELECT CAST(sum(pg_total_relation_size(c.oid)) AS bigint) AS n FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind = 'r' AND n.nspname = current_schema()",
                    Vec::new(),
                )
                .await
                .unwrap();
            rows[0].int("n").unwrap().unwrap_or(0)
        }
        Backend::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            std::fs::metadata(path).map_or(0, |m| m.len() as i64)
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let config = StoreConfig::from_url(&args.url, Source::Flag).expect("database URL");
    let store = Store::open(&config).await.expect("open store");
    store.migrate().await.expect("migrate");
    let history = HistoryConfig::scale(args.runs, 42);
    let end: DateTime<Utc> = history.start + Duration::days(i64::from(history.days));

    if !args.skip_generate && count(&store, "runs").await == 0 {
        println!(
            "generating ~{} runs: {} days from {}, DAILY pipeline {}x a day, seed {}",
            args.runs, history.days, history.start, history.daily_runs_per_day, history.seed
        );
        let started = Instant::now();
        let mut last_report = Instant::now();
        let summary = history_gen::write(
            &store,
            History::new(history.clone()).take(args.runs as usize),
            args.batch_events,
            |progress| {
                if last_report.elapsed().as_secs() >= 30 {
                    last_report = Instant::now();
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "  {:>9} runs {:>11} events in {:>6.0} s ({:.0} events/s)",
                        progress.runs,
                        progress.events,
                        secs,
                        progress.events as f64 / secs
                    );
                }
            },
        )
        .await
        .expect("write history");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "generated {} runs, {} tasks, {} events in {:.0} s ({:.0} events/s)",
            summary.runs,
            summary.tasks,
            summary.events,
            secs,
            summary.events as f64 / secs
        );
    }
    // What an operator does after a bulk import: fresh statistics (and, in
    // Postgres, the `scripts` rows updated once per run vacuumed away).
    let maintenance = match store.backend() {
        Backend::Postgres => "VACUUM ANALYZE",
        Backend::Sqlite => "ANALYZE",
    };
    let started = Instant::now();
    store.execute(maintenance, Vec::new()).await.expect("vacuum / analyze");
    println!("{maintenance}: {:.0} s", started.elapsed().as_secs_f64());
    let (runs, tasks, events, samples) = (
        count(&store, "runs").await,
        count(&store, "tasks").await,
        count(&store, "events").await,
        count(&store, "resource_samples").await,
    );
    println!(
        "store: {} ({}), {runs} runs, {tasks} tasks, {events} events, {samples} resource samples, {:.2} GB",
        store.location(),
        store.backend().as_str(),
        size_bytes(&store, &args.url).await as f64 / 1e9
    );
    if args.generate_only {
        return;
    }

    // "Now" is just after the latest run, so that "the last 30 days" hold data
    // even when generation was stopped early.
    let latest = store.query("SELECT max(started_at) AS latest FROM runs", Vec::new()).await.unwrap();
    let end = latest[0].time("latest").unwrap().map_or(end, |t| t + Duration::hours(1));
    let clock = ManualClock::new(end);
    let monitor = Monitor::new(
        store.clone(),
        MonitorConfig { cache_ttl: Duration::zero(), ..MonitorConfig::default() },
    )
    .with_clock(std::sync::Arc::new(clock));
    // Inputs taken from the data: a recent run, and a cursor 20 pages deep.
    let recent = monitor.history(&HistoryFilter::default(), None).await.unwrap();
    let detail_ids: Vec<_> = recent.items.iter().map(|r| r.run_id).collect();
    let mut deep_cursor = recent.next_cursor.clone();
    for _ in 0..19 {
        let page = monitor.history(&HistoryFilter::default(), deep_cursor.as_deref()).await.unwrap();
        deep_cursor = page.next_cursor;
    }
    let month_ago = end - Duration::days(30);
    let week_ago = end - Duration::days(7);
    let script = "DAILY_01_BDC_Locations.R".to_owned();

    let mut results: Vec<(&str, Vec<f64>)> = Vec::new();
    macro_rules! measure {
        ($name:expr, |$i:ident| $body:expr) => {{
            let mut times = Vec::with_capacity(args.iterations);
            for $i in 0..args.iterations {
                let started = Instant::now();
                let _ = $body.await.unwrap();
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            results.push(($name, times));
        }};
    }
    let filter = |f: HistoryFilter| f;
    measure!("current_status (all scripts)", |_i| monitor.current_status());
    measure!("history, newest first, page 1 (50)", |_i| monitor.history(&HistoryFilter::default(), None));
    measure!("history, page 21 (cursor)", |_i| monitor
        .history(&HistoryFilter::default(), deep_cursor.as_deref()));
    let by_script = filter(HistoryFilter { script: Some(script.clone()), ..HistoryFilter::default() });
    measure!("history, one script", |_i| monitor.history(&by_script, None));
    let failed_daily = filter(HistoryFilter {
        category: Some("DAILY".into()),
        statuses: vec![RunStatus::Failed],
        ..HistoryFilter::default()
    });
    measure!("history, category + failed", |_i| monitor.history(&failed_daily, None));
    let last_month =
        filter(HistoryFilter { from: Some(month_ago), to: Some(end), ..HistoryFilter::default() });
    measure!("history, last 30 days", |_i| monitor.history(&last_month, None));
    let by_duration = filter(HistoryFilter { sort: HistorySort::Duration, ..HistoryFilter::default() });
    measure!("history, sort by duration", |_i| monitor.history(&by_duration, None));
    let by_name = filter(HistoryFilter { sort: HistorySort::Name, ..HistoryFilter::default() });
    measure!("history, sort by name", |_i| monitor.history(&by_name, None));
    let by_end = filter(HistoryFilter { sort: HistorySort::Ended, ..HistoryFilter::default() });
    measure!("history, sort by end time", |_i| monitor.history(&by_end, None));
    let by_error = filter(HistoryFilter { sort: HistorySort::Error, ..HistoryFilter::default() });
    measure!("history, sort by error", |_i| monitor.history(&by_error, None));
    let by_end_asc = filter(HistoryFilter {
        sort: HistorySort::Ended,
        descending: Some(false),
        ..HistoryFilter::default()
    });
    measure!("history, sort by end time, oldest first", |_i| monitor.history(&by_end_asc, None));
    let by_error_desc = filter(HistoryFilter {
        sort: HistorySort::Error,
        descending: Some(true),
        ..HistoryFilter::default()
    });
    measure!("history, sort by error, descending", |_i| monitor.history(&by_error_desc, None));
    let search_month = filter(HistoryFilter {
        from: Some(month_ago),
        search: Some("timeout".into()),
        ..HistoryFilter::default()
    });
    measure!("history, search, last 30 days", |_i| monitor.history(&search_month, None));
    let search_all = filter(HistoryFilter { search: Some("timeout".into()), ..HistoryFilter::default() });
    measure!("history, search, all time", |_i| monitor.history(&search_all, None));
    measure!("running", |_i| monitor.running());
    measure!("recent_failures (7 days, 50)", |_i| monitor.recent_failures(week_ago, 50));
    measure!("run_detail", |i| monitor.run_detail(detail_ids[i % detail_ids.len()]));
    let script_scope = TrendScope::Script(script.clone());
    measure!("trends, one script, 30 days", |_i| monitor.trends(&script_scope, month_ago, end));
    let category_scope = TrendScope::Category("DAILY".into());
    measure!("trends, DAILY category, 30 days", |_i| monitor.trends(&category_scope, month_ago, end));
    let year_scope = TrendScope::Script(script.clone());
    measure!("trends, one script, 365 days", |_i| monitor.trends(
        &year_scope,
        end - Duration::days(365),
        end
    ));
    measure!("trends, DAILY category, 365 days", |_i| monitor.trends(
        &category_scope,
        end - Duration::days(365),
        end
    ));
    measure!("trends, everything, 30 days", |_i| monitor.trends(&TrendScope::All, month_ago, end));
    let groups =
        ErrorGroupFilter { from: month_ago, to: None, script: None, search: None, include_resolved: true };
    measure!("error_groups, 30 days", |_i| monitor.error_groups(&groups));
    measure!("lost_runs", |_i| monitor.lost_runs());
    measure!("stalled_runs", |_i| monitor.stalled_runs());

    println!("\n| query | p50 ms | p95 ms | max ms |\n| --- | ---: | ---: | ---: |");
    for (name, mut times) in results {
        times.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times.last().copied().unwrap_or_default()
        );
    }
}
