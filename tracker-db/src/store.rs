//! [`Store`]: one interface over the two backends. Reads shared by every caller
//! (a run, its tasks and events, the latest run of every script) live here,
//! written once in SQL both dialects accept.

use serde::Serialize;
use tracker_core::{Event, RunId, RunRow, TaskRow};

use crate::append::AppendOutcome;
use crate::config::StoreConfig;
use crate::error::{DbError, Result};
use crate::mapping::{event_from_row, run_from_row, task_from_row};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::value::{Row, Value};

/// The schema version this build of pipetrack writes and reads.
pub const SCHEMA_VERSION: i64 = 9;

/// Which backend a store uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// Embedded SQLite.
    Sqlite,
}

impl Backend {
    /// `postgres` or `sqlite`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// What `pipetrack db check` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreCheck {
    /// Backend.
    pub backend: Backend,
    /// Where (no password).
    pub location: String,
    /// Which setting chose it.
    pub setting: &'static str,
    /// Applied schema version (0: not migrated).
    pub schema_version: i64,
    /// Version this build needs.
    pub expected_version: i64,
}

impl StoreCheck {
    /// Whether the store is ready for this build.
    pub fn is_current(&self) -> bool {
        self.schema_version == self.expected_version
    }
}

/// The latest run of one script (one row of `pipetrack status`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScriptLatest {
    /// How many runs the script has.
    pub run_count: i64,
    /// Its latest run.
    pub run: RunRow,
}

/// An open store: Postgres or SQLite, same operations.
#[derive(Clone, Debug)]
pub enum Store {
    /// A Postgres server.
    Postgres(Box<PgStore>),
    /// An embedded SQLite file.
    Sqlite(SqliteStore),
}

impl Store {
    /// Opens the configured store, checking that it can be reached. Does not migrate.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        match config {
            StoreConfig::Postgres(pg) => PgStore::open(pg).await.map(|pg| Store::Postgres(Box::new(pg))),
            StoreConfig::Sqlite(sqlite) => {
                let sqlite = sqlite.clone();
                tokio::task::spawn_blocking(move || SqliteStore::open(&sqlite))
                    .await
                    .map_err(|err| DbError::Join(err.to_string()))?
                    .map(Store::Sqlite)
            }
        }
    }

    /// Opens the store the environment configures (see [`StoreConfig::from_env`]).
    pub async fn open_from_env() -> Result<Self> {
        Self::open(&StoreConfig::from_env()?).await
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Postgres(_) => Backend::Postgres,
            Store::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Where the store is, without password.
    pub fn location(&self) -> String {
        match self {
            Store::Postgres(pg) => pg.location(),
            Store::Sqlite(sqlite) => format!("sqlite://{}", sqlite.path().display()),
        }
    }

    /// Applies pending migrations; returns the names of those applied (empty when
    /// the schema was already current). Safe to run from several processes at once.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        match self {
            Store::Postgres(pg) => pg.migrate().await,
            Store::Sqlite(sqlite) => sqlite.migrate().await,
        }
    }

    /// The applied schema version (0 when the store was never migrated).
    pub async fn schema_version(&self) -> Result<i64> {
        match self {
            Store::Postgres(pg) => pg.schema_version().await,
            Store::Sqlite(sqlite) => sqlite.schema_version().await,
        }
    }

    /// Connection test: which store, reachable (or this fails), schema version.
    pub async fn check(&self, setting: &'static str) -> Result<StoreCheck> {
        Ok(StoreCheck {
            backend: self.backend(),
            location: self.location(),
            setting,
            schema_version: self.schema_version().await?,
            expected_version: SCHEMA_VERSION,
        })
    }

    /// Fails with a clear error unless the schema is exactly the one this build uses.
    pub async fn ensure_current(&self) -> Result<()> {
        let found = self.schema_version().await?;
        match found.cmp(&SCHEMA_VERSION) {
            std::cmp::Ordering::Equal => Ok(()),
            std::cmp::Ordering::Less => {
                Err(DbError::NotMigrated { location: self.location(), found, expected: SCHEMA_VERSION })
            }
            std::cmp::Ordering::Greater => {
                Err(DbError::SchemaTooNew { location: self.location(), found, expected: SCHEMA_VERSION })
            }
        }
    }

    /// Appends a batch of events in one transaction and updates the projections
    /// (run rows, task rows, the scripts table, resource samples) in the same
    /// transaction. Idempotent: events already stored (same run, stream and seq)
    /// are skipped, so replaying a batch changes nothing. A batch with an invalid
    /// event is refused whole, before anything is written.
    pub async fn append(&self, events: Vec<Event>) -> Result<AppendOutcome> {
        if events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        match self {
            Store::Postgres(pg) => pg.append(events).await,
            Store::Sqlite(sqlite) => sqlite.append(events).await,
        }
    }

    /// Runs a read query written with `$1`-style placeholders in SQL both
    /// dialects accept (see [`crate::value`]).
    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        match self {
            Store::Postgres(pg) => pg.query(sql, params).await,
            Store::Sqlite(sqlite) => sqlite.query(sql, params).await,
        }
    }

    /// Runs a write statement; returns the number of rows changed.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<usize> {
        match self {
            Store::Postgres(pg) => pg.execute(sql, params).await,
            Store::Sqlite(sqlite) => sqlite.execute(sql, params).await,
        }
    }

    /// One run's row.
    pub async fn run(&self, run_id: RunId) -> Result<Option<RunRow>> {
        let rows = self.query("SELECT * FROM runs WHERE run_id = $1", vec![run_id.as_uuid().into()]).await?;
        rows.first().map(run_from_row).transpose()
    }

    /// One run's tasks, in the order they started.
    pub async fn tasks(&self, run_id: RunId) -> Result<Vec<TaskRow>> {
        let rows = self
            .query(
                "SELECT * FROM tasks WHERE run_id = $1 ORDER BY started_at, stream, task_number",
                vec![run_id.as_uuid().into()],
            )
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// One run's events, in time order.
    pub async fn events(&self, run_id: RunId) -> Result<Vec<Event>> {
        let rows = self
            .query(
                "SELECT run_id, stream, seq, at, payload FROM events WHERE run_id = $1 ORDER BY at, stream, seq",
                vec![run_id.as_uuid().into()],
            )
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The latest run of every known script, by category then name.
    pub async fn latest_runs(&self) -> Result<Vec<ScriptLatest>> {
        let rows = self
            .query(
                "SELECT r.*, s.run_count AS script_run_count FROM scripts s \
                 JOIN runs r ON r.run_id = s.latest_run_id ORDER BY s.category, s.script_name",
                Vec::new(),
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ScriptLatest {
                    run_count: row.int("script_run_count")?.unwrap_or(0),
                    run: run_from_row(row)?,
                })
            })
            .collect()
    }
}
