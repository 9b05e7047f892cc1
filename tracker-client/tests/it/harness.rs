//! Test stores and trackers: a fresh SQLite file or a fresh Postgres schema per
//! test, a spool directory per test, a tracker with short intervals, and ways to
//! make the store really fail or stall.
//!
//! Postgres comes from `PIPETRACK_TEST_PG_URL` (scripts/ensure-postgres sets it),
//! else 127.0.0.1:5432. A missing server fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tracker_client::config::StoreSetting;
use tracker_client::{ClientConfig, RunId, Tracker};
use tracker_core::{Event, RunRow, TaskRow};
use tracker_db::config::{Source, SqliteConfig};
use tracker_db::{Store, StoreConfig};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let random = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!("{prefix}_{}_{}_{random}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub(crate) fn pg_admin_url() -> String {
    std::env::var("PIPETRACK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated store, its spool directory, and what it takes to throw both away.
pub(crate) struct Harness {
    pub(crate) backend: Backend,
    pub(crate) url: String,
    pub(crate) config: StoreConfig,
    pub(crate) store: Store,
    pub(crate) spool: PathBuf,
    pub(crate) runtime: tokio::runtime::Runtime,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Schema { admin_url: String, schema: String },
    Cluster(Box<Cluster>),
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn spool_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(&format!("pt_spool_{name}")));
    std::fs::create_dir_all(&dir).expect("spool dir");
    dir
}

impl Harness {
    pub(crate) fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique("pt_client")));
        // A short busy timeout: a locked database is a failed write, quickly.
        let config = StoreConfig::Sqlite(SqliteConfig {
            path: path.clone(),
            busy_timeout: Duration::from_millis(200),
            source: Source::Code,
        });
        Self::open(Backend::Sqlite, format!("sqlite://{}", path.display()), config, Cleanup::File(path))
    }

    pub(crate) fn postgres() -> Self {
        let admin_url = pg_admin_url();
        let schema = unique("pt_client");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}schema={schema}");
        let config = StoreConfig::from_url(&url, Source::Code).expect("test URL parses");
        Self::open(Backend::Postgres, url, config, Cleanup::Schema { admin_url, schema })
    }

    /// Postgres on a throwaway cluster of its own, so the test can stop the server.
    pub(crate) fn postgres_cluster() -> Self {
        let cluster = Cluster::start();
        let url = format!("{}?schema=pt_outage", cluster.url);
        let config = StoreConfig::from_url(&url, Source::Code).expect("cluster URL parses");
        Self::open(Backend::Postgres, url, config, Cleanup::Cluster(Box::new(cluster)))
    }

    fn open(backend: Backend, url: String, config: StoreConfig, cleanup: Cleanup) -> Self {
        let runtime = runtime();
        let store = runtime.block_on(async {
            let store = Store::open(&config).await.unwrap_or_else(|err| {
                panic!(
                    "the {backend:?} store is required for these tests and could not be opened: {err}\n\
                     Run scripts/test (it starts a throwaway Postgres) or set PIPETRACK_TEST_PG_URL."
                )
            });
            store.migrate().await.expect("migrate");
            store
        });
        let spool = spool_dir(if backend == Backend::Sqlite { "sqlite" } else { "pg" });
        Harness { backend, url, config, store, spool, runtime, cleanup }
    }

    /// Client settings for tests: fast batching and retries, no sampling.
    pub(crate) fn client_config(&self) -> ClientConfig {
        ClientConfig {
            store: StoreSetting::Given(self.config.clone()),
            flush_interval: Duration::from_millis(20),
            heartbeat_interval: Duration::from_mins(1),
            sample_interval: None,
            retry_max: Duration::from_millis(300),
            store_timeout: Duration::from_secs(5),
            exit_flush_timeout: Duration::from_secs(10),
            spool_dir: self.spool.clone(),
            ..ClientConfig::default()
        }
    }

    pub(crate) fn tracker(&self) -> Tracker {
        Tracker::new(self.client_config())
    }

    /// Runs a read, retrying a few times: after a server restart the harness's
    /// own pool first hands out connections the restart broke.
    fn read<T, F, Fut>(&self, what: &str, f: F) -> T
    where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = tracker_db::Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match self.runtime.block_on(f(self.store.clone())) {
                Ok(value) => return value,
                Err(err) if attempt < 5 && err.is_transient() => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(err) => panic!("reading {what}: {err}"),
            }
        }
    }

    pub(crate) fn run(&self, run_id: RunId) -> RunRow {
        self.read("the run", |store| async move { store.run(run_id).await }).expect("the run is stored")
    }

    pub(crate) fn tasks(&self, run_id: RunId) -> Vec<TaskRow> {
        self.read("tasks", |store| async move { store.tasks(run_id).await })
    }

    pub(crate) fn events(&self, run_id: RunId) -> Vec<Event> {
        self.read("events", |store| async move { store.events(run_id).await })
    }

    pub(crate) fn run_count(&self) -> i64 {
        let rows = self.read("runs", |store| async move {
            store.query("SELECT count(*) AS n FROM runs", Vec::new()).await
        });
        rows[0].int("n").expect("n").unwrap_or(0)
    }

    /// Segment files left in the spool directory.
    pub(crate) fn spool_files(&self) -> Vec<PathBuf> {
        spool_files(&self.spool)
    }

    /// Makes appends fail or stall until the returned guard is ended.
    pub(crate) fn stall(&self) -> Stall {
        match self.backend {
            Backend::Sqlite => {
                let conn =
                    rusqlite::Connection::open(self.url.trim_start_matches("sqlite://")).expect("open");
                // An exclusive transaction in WAL mode: every other writer gets SQLITE_BUSY.
                conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
                Stall::Sqlite(conn)
            }
            Backend::Postgres => {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
                let config = self.config.clone();
                let handle = std::thread::spawn(move || {
                    runtime().block_on(async move {
                        let StoreConfig::Postgres(pg) = config else { unreachable!() };
                        let store = tracker_db::PgStore::open(&pg).await.expect("open");
                        let mut client = store.pool().get().await.expect("client");
                        let txn = client.transaction().await.expect("begin");
                        // Appends wait for this lock: a stalled store, as under heavy load.
                        txn.batch_execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE").await.expect("lock");
                        ready_tx.send(()).expect("ready");
                        let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
                        txn.rollback().await.expect("rollback");
                    });
                });
                ready_rx.recv().expect("lock taken");
                Stall::Postgres { release: tx, handle }
            }
        }
    }
}

pub(crate) fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// A stalled store; `end` lets it go on.
pub(crate) enum Stall {
    Sqlite(rusqlite::Connection),
    Postgres { release: std::sync::mpsc::Sender<()>, handle: std::thread::JoinHandle<()> },
}

impl Stall {
    pub(crate) fn end(self) {
        match self {
            Stall::Sqlite(conn) => conn.execute_batch("ROLLBACK").expect("unlock"),
            Stall::Postgres { release, handle } => {
                release.send(()).expect("release");
                handle.join().expect("lock holder");
            }
        }
    }
}

/// A throwaway Postgres cluster (scripts/ensure-postgres, throwaway mode) the
/// test may stop and start like an operator would.
pub(crate) struct Cluster {
    pub(crate) url: String,
    dir: PathBuf,
}

fn ensure_postgres(dir: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ensure-postgres");
    let output = Command::new(script)
        .env("PIPETRACK_PG_FORCE_THROWAWAY", "1")
        .env("PIPETRACK_PG_THROWAWAY_DIR", dir)
        .output()
        .expect("run scripts/ensure-postgres");
    assert!(
        output.status.success(),
        "scripts/ensure-postgres failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 URL").trim().to_owned()
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(unique("pt_outage_pg"));
        let url = ensure_postgres(&dir);
        Cluster { url, dir }
    }

    /// `pg_ctl stop -m fast`: the server goes away, connections break.
    pub(crate) fn stop(&self) {
        let stop_script = std::fs::read_to_string(self.dir.join("stop")).expect("stop script");
        let line =
            stop_script.lines().find(|l| l.contains("pg_ctl") && l.contains(" stop")).expect("pg_ctl line");
        let status = Command::new("bash").arg("-c").arg(line).status().expect("pg_ctl stop");
        assert!(status.success(), "pg_ctl stop failed");
    }

    /// Starts the same cluster again (ensure-postgres restarts a stopped throwaway cluster).
    pub(crate) fn restart(&self) {
        let url = ensure_postgres(&self.dir);
        assert_eq!(url, self.url, "the cluster came back on another port");
    }
}

impl Harness {
    pub(crate) fn cluster(&self) -> Option<&Cluster> {
        match &self.cleanup {
            Cleanup::Cluster(cluster) => Some(cluster),
            _ => None,
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.spool);
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                let _ = std::fs::remove_file(path.with_extension("migrate.lock"));
            }
            Cleanup::Schema { admin_url, schema } => {
                let config = StoreConfig::from_url(admin_url, Source::Code).expect("admin URL");
                let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                self.runtime.block_on(async {
                    if let Ok(store) = Store::open(&config).await {
                        let _ = store.execute(&sql, Vec::new()).await;
                    }
                });
            }
            Cleanup::Cluster(cluster) => {
                let _ = Command::new("bash").arg(cluster.dir.join("stop")).status();
            }
        }
    }
}
