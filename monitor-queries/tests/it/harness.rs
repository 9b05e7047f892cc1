//! Test stores: a fresh SQLite file or a fresh Postgres schema per test, migrated.
//!
//! Postgres comes from `PIPETRACK_TEST_PG_URL` (scripts/ensure-postgres sets it),
//! else 127.0.0.1:5432. A missing server fails the test: never skipped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Harness {
    pub(crate) store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Schema { admin_url: String, schema: String },
}

fn unique(prefix: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), &suffix[..8])
}

impl Harness {
    pub(crate) async fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique("mq_test")));
        let store = Store::open(&StoreConfig::sqlite(&path, Source::Code)).await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Harness { store, cleanup: Cleanup::File(path) }
    }

    pub(crate) async fn postgres() -> Self {
        let admin_url = std::env::var("PIPETRACK_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let schema = unique("mq_test");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let config = StoreConfig::from_url(&format!("{admin_url}{separator}schema={schema}"), Source::Code)
            .expect("test URL parses");
        let store = Store::open(&config).await.unwrap_or_else(|err| {
            panic!(
                "Postgres is required for these tests and could not be reached: {err}\n\
                 Run scripts/test (it starts a throwaway server) or set PIPETRACK_TEST_PG_URL."
            )
        });
        store.migrate().await.expect("migrate postgres");
        Harness { store, cleanup: Cleanup::Schema { admin_url, schema } }
    }
}

impl Drop for Harness {
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
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    runtime.block_on(async {
                        if let Ok(store) =
                            Store::open(&StoreConfig::from_url(&admin_url, Source::Code).unwrap()).await
                        {
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
