//! Test stores for the contract suite: a fresh SQLite file or Postgres schema
//! per test (see the `test-support` crate).

pub(crate) use test_support::TestStore as Harness;

/// The constructors the contract macro calls.
pub(crate) async fn sqlite() -> Harness {
    Harness::sqlite("pipetrack_test").await
}

pub(crate) async fn postgres() -> Harness {
    Harness::postgres("pt_test").await
}
