//! A writer process for the multi-process test: the test binary re-runs itself
//! with `PIPETRACK_TEST_WORKER_URL` set and the name of this test.

use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

#[tokio::test]
async fn entry() {
    let Ok(url) = std::env::var("PIPETRACK_TEST_WORKER_URL") else {
        return; // Not a worker: nothing to do in a normal test run.
    };
    let worker: u8 = std::env::var("PIPETRACK_TEST_WORKER_INDEX").unwrap().parse().unwrap();
    let shared: tracker_core::RunId = std::env::var("PIPETRACK_TEST_SHARED_RUN").unwrap().parse().unwrap();
    let store = Store::open(&StoreConfig::from_url(&url, Source::Code).unwrap()).await.unwrap();
    crate::cases::write_worker_load(&store, worker, shared).await;
}
