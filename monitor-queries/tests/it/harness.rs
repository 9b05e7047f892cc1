//! Test stores: a fresh SQLite file or a fresh Postgres schema per test,
//! migrated (see the `test-support` crate).

pub(crate) use test_support::TestStore as Harness;

pub(crate) async fn sqlite() -> Harness {
    Harness::sqlite("mq_test").await.migrated().await
}

pub(crate) async fn postgres() -> Harness {
    Harness::postgres("mq_test").await.migrated().await
}
