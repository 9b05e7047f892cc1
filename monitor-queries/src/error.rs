//! The error type of the read model. Each variant says what is wrong and what to do.

use tracker_db::DbError;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The store failed (unreachable, not migrated ...); its message says what to do.
    #[error(transparent)]
    Store(#[from] DbError),
    /// A pagination cursor that this version did not issue, or issued for another sort order.
    #[error("invalid page cursor: {reason}; start again without a cursor")]
    BadCursor {
        /// What is wrong with it.
        reason: String,
    },
    /// A filter or argument is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// Which argument.
        field: &'static str,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// No run has this id.
    #[error("no run with id {run_id}: check the id (`pipetrack history` lists runs)")]
    RunNotFound {
        /// The id asked for.
        run_id: String,
    },
    /// A run-id prefix matches several runs.
    #[error("{prefix} matches several runs: give more of the run id")]
    AmbiguousRunId {
        /// The prefix given.
        prefix: String,
    },
    /// No failed run has this fingerprint.
    #[error("no failure has the fingerprint {fingerprint}: check it with `pipetrack errors --all`")]
    UnknownFingerprint {
        /// The fingerprint asked for.
        fingerprint: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> QueryError {
    QueryError::InvalidArgument { field, reason: reason.into() }
}
