//! A fresh store per test, for every test suite of the workspace: an SQLite
//! file in the temp directory, or a schema of its own on the test Postgres.
//!
//! Postgres comes from `PIPETRACK_TEST_PG_URL` (`scripts/ensure-postgres` sets
//! it, starting a throwaway server when none runs), else 127.0.0.1:5432 with
//! trust auth. A missing server fails the test with the fix: these tests are
//! never skipped.
//!
//! ```no_run
//! # async fn demo() {
//! let test = test_support::TestStore::sqlite("doc").await.migrated().await;
//! assert!(test.store.latest_runs().await.unwrap().is_empty());
//! # }
//! ```

#![allow(clippy::missing_panics_doc)] // test helpers panic with a message by design

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The admin URL of the test Postgres.
pub fn pg_admin_url() -> String {
    std::env::var("PIPETRACK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A name no other test (in this or another process) uses: `prefix_pid_n_random`.
pub fn unique(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), &random[..8])
}

/// `url` with `?schema=` (or `&schema=`) appended.
pub fn with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}schema={schema}")
}

/// One test's store, thrown away when dropped.
pub struct TestStore {
    /// The open store.
    pub store: Store,
    /// Its URL, for other processes (`sqlite:///…` or `postgres://…?schema=…`).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Schema { admin_url: String, schema: String },
}

impl TestStore {
    /// A new SQLite file (not migrated).
    pub async fn sqlite(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique(prefix)));
        let url = format!("sqlite://{}", path.display());
        let store =
            Store::open(&StoreConfig::sqlite(&path, Source::Code)).await.expect("open the test SQLite file");
        TestStore { store, url, cleanup: Cleanup::File(path) }
    }

    /// A new, empty schema on the test Postgres (not migrated).
    pub async fn postgres(prefix: &str) -> Self {
        let admin_url = pg_admin_url();
        let schema = unique(prefix);
        let url = with_schema(&admin_url, &schema);
        let config = StoreConfig::from_url(&url, Source::Code).expect("the test URL parses");
        let store = Store::open(&config).await.unwrap_or_else(|err| {
            panic!(
                "Postgres is required for these tests and could not be reached: {err}\n\
                 Run scripts/test (it starts a throwaway server) or set PIPETRACK_TEST_PG_URL."
            )
        });
        store
            .execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"), Vec::new())
            .await
            .expect("create the test schema");
        TestStore { store, url, cleanup: Cleanup::Schema { admin_url, schema } }
    }

    /// The same store with the migrations applied.
    pub async fn migrated(self) -> Self {
        self.store.migrate().await.expect("migrate the test store");
        self
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                let _ = std::fs::remove_file(path.with_extension("migrate.lock"));
            }
            Cleanup::Schema { admin_url, schema } => {
                let (admin_url, schema) = (admin_url.clone(), schema.clone());
                // Drop runs inside the test's runtime: clean up on a thread of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build()
                    else {
                        return;
                    };
                    runtime.block_on(async {
                        let Ok(config) = StoreConfig::from_url(&admin_url, Source::Code) else { return };
                        if let Ok(store) = Store::open(&config).await {
                            let _ = store
                                .execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), Vec::new())
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Runs every listed case on both stores: expands to `mod sqlite` and
/// `mod postgres`, each with one `#[tokio::test]` per name that calls
/// `crate::cases::NAME(crate::harness::sqlite().await)` (or `postgres()`).
/// The calling test crate provides those two modules and tokio.
#[macro_export]
#[allow(clippy::crate_in_macro_def)] // `crate` is meant: the cases and harness are the calling test crate's
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::cases::$name(crate::harness::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::cases::$name(crate::harness::postgres().await).await;
                }
            )*
        }
    };
}
