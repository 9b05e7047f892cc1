//! Shared set-up of pipetrack's criterion benches (see `benches/`): throwaway
//! stores and trackers. Run them with `cargo bench -p pipetrack-benches`;
//! docs/performance.md records the figures and how they were measured.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tracker_client::config::StoreSetting;
use tracker_client::{ClientConfig, Tracker};
use tracker_core::{Event, EventKind, RunId, RunMeta, StreamId, TaskStatus};
use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

/// A scratch directory removed on drop.
pub struct Scratch {
    /// The directory.
    pub dir: PathBuf,
}

impl Scratch {
    /// A new empty directory under the system temporary directory.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pt_bench_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self { dir }
    }

    /// A SQLite store configuration in this directory.
    pub fn sqlite(&self) -> StoreConfig {
        StoreConfig::sqlite(self.dir.join("bench.db"), Source::Code)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Postgres schema for one bench run (`PIPETRACK_TEST_PG_URL`, else the local
/// server), dropped with [`PgSchema::drop_schema`].
pub struct PgSchema {
    /// Configuration of the store in the schema.
    pub config: StoreConfig,
    admin: String,
    schema: String,
}

impl PgSchema {
    /// Creates the configuration; the schema is created by `migrate`.
    pub fn new(name: &str) -> Self {
        let admin = std::env::var("PIPETRACK_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let schema = format!("pt_bench_{name}_{}", std::process::id());
        let separator = if admin.contains('?') { '&' } else { '?' };
        let config =
            StoreConfig::from_url(&format!("{admin}{separator}schema={schema}"), Source::Code).expect("url");
        Self { config, admin, schema }
    }

    /// Drops the schema.
    pub async fn drop_schema(&self) {
        let admin = StoreConfig::from_url(&self.admin, Source::Code).expect("admin url");
        if let Ok(store) = Store::open(&admin).await {
            let _ =
                store.execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema), Vec::new()).await;
        }
    }
}

/// Opens and migrates a store.
pub async fn open_store(config: &StoreConfig) -> Store {
    let store =
        Store::open(config).await.expect("open store (is Postgres running? see scripts/ensure-postgres)");
    store.migrate().await.expect("migrate");
    store
}

/// A tracker writing to `store` (migrated first: a configured store is never
/// migrated by the tracker), spooling into `spool`, with default batching.
pub fn tracker(store: StoreConfig, spool: PathBuf) -> Tracker {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(open_store(&store));
    Tracker::new(ClientConfig {
        store: StoreSetting::Given(store),
        spool_dir: spool,
        sample_interval: None,
        exit_flush_timeout: Duration::from_mins(1),
        ..ClientConfig::default()
    })
}

fn at(seq: u64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap() + chrono::Duration::microseconds(seq as i64)
}

/// The start event of a synthetic run.
pub fn start_event(run_id: RunId) -> Event {
    Event {
        run_id,
        stream: StreamId::MAIN,
        seq: 1,
        at: at(1),
        kind: EventKind::RunStarted(Box::new(RunMeta {
            script_name: "DAILY_99_Ingest_Bench.R".into(),
            category: "DAILY".into(),
            ..RunMeta::default()
        })),
    }
}

/// `count` task events (enter, exit, enter, exit ...) of a run, from `first_seq`.
pub fn task_events(run_id: RunId, first_seq: u64, count: usize) -> Vec<Event> {
    (0..count as u64)
        .map(|i| {
            let seq = first_seq + i;
            let task = (seq / 2) as u32;
            let kind = if seq.is_multiple_of(2) {
                EventKind::TaskEntered { task, depth: 0, name: format!("county {task}") }
            } else {
                EventKind::TaskExited { task, depth: 0, status: TaskStatus::Completed }
            };
            Event { run_id, stream: StreamId::MAIN, seq, at: at(seq), kind }
        })
        .collect()
}

/// A fresh run id.
pub fn run_id(n: u64) -> RunId {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&n.to_le_bytes());
    random[8..].copy_from_slice(&(std::process::id() as u16).to_le_bytes());
    RunId::from_parts(1_700_000_000_000 + n, random)
}

/// CPU time the calling thread has used so far (`CLOCK_THREAD_CPUTIME_ID`):
/// the cost of calls on a loaded machine, without the time other processes
/// held the core.
#[allow(unsafe_code)] // one clock_gettime into a timespec we own
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec passed by pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Resident memory of this process in bytes: `(VmRSS, RssAnon, RssFile)` —
/// all of it, the process's own (heap, stacks), and mapped files (code pages
/// of the libraries, shared with other processes and reclaimable).
pub fn rss_bytes() -> (u64, u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (kib("VmRSS:"), kib("RssAnon:"), kib("RssFile:"))
}
