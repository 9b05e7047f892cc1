//! The store's error type. Each variant says what failed and what to do, and
//! [`DbError::is_transient`] tells a writer whether retrying later can help.

use tracker_core::CoreError;

use crate::config::ConfigError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The server (or file) could not be reached.
    #[error("cannot connect to {location} (set by {setting}): {reason}; {fix}")]
    Unreachable {
        /// Where, without password.
        location: String,
        /// Which setting pointed there.
        setting: &'static str,
        /// What the driver said.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// Credentials refused, or the role lacks a privilege.
    #[error("{location} (set by {setting}) refused access: {reason}; {fix}")]
    AccessDenied {
        /// Where, without password.
        location: String,
        /// Which setting pointed there.
        setting: &'static str,
        /// What the server said.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// The schema is missing or older than this version of pipetrack.
    #[error(
        "the store at {location} has schema version {found} but this pipetrack needs {expected}: run `pipetrack migrate` (as a role allowed to create tables)"
    )]
    NotMigrated {
        /// Where.
        location: String,
        /// The version found (0 for none).
        found: i64,
        /// The version needed.
        expected: i64,
    },
    /// The store's schema is newer than this pipetrack knows.
    #[error(
        "the store at {location} has schema version {found}, newer than this pipetrack ({expected}): upgrade pipetrack"
    )]
    SchemaTooNew {
        /// Where.
        location: String,
        /// The version found.
        found: i64,
        /// The newest version known here.
        expected: i64,
    },
    /// An event in a batch failed validation; nothing of the batch was written.
    #[error("event {seq} of stream {stream} of run {run_id} is invalid: {source}")]
    InvalidEvent {
        /// Run.
        run_id: String,
        /// Stream.
        stream: i64,
        /// Sequence.
        seq: u64,
        /// Why.
        #[source]
        source: CoreError,
    },
    /// A batch carried the same event key twice, or a stream's events out of order.
    #[error("batch is not in order: {detail}")]
    BatchOrder {
        /// Which key.
        detail: String,
    },
    /// A Postgres error not covered above.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The Postgres pool could not hand out a connection.
    #[error("postgres pool: {0}")]
    Pool(String),
    /// An SQLite error not covered above.
    #[error("sqlite ({path}): {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The error.
        #[source]
        source: rusqlite::Error,
    },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value could not be read back (corrupt or written by a newer version).
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    /// A blocking task was cancelled (the runtime is shutting down).
    #[error("store task did not complete: {0}")]
    Join(String),
}

impl DbError {
    /// Whether the same operation may succeed later (server down, connection lost,
    /// database busy), as opposed to bad input or configuration.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Unreachable { .. } | DbError::Pool(_) | DbError::Join(_) => true,
            DbError::Postgres(err) => {
                err.is_closed()
                    || err.code().is_none_or(|code| {
                        let code = code.code();
                        // 08: connection exception, 53: insufficient resources,
                        // 57P: operator intervention (shutdown), 40: rollback (serialization, deadlock).
                        code.starts_with("08")
                            || code.starts_with("53")
                            || code.starts_with("57P")
                            || code.starts_with("40")
                    })
            }
            DbError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::CannotOpen
                        | rusqlite::ErrorCode::ReadOnly
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                        | rusqlite::ErrorCode::PermissionDenied
                )
            ),
            _ => false,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DbError> = std::result::Result<T, E>;
