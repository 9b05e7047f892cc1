//! The embedded SQLite backend: one file, WAL mode and a busy timeout so that
//! many processes (every tracked script) can write to it at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tracker_core::{Event, EventKind, RunId};

use crate::append::{self, AppendOutcome, sql};
use crate::config::SqliteConfig;
use crate::error::{DbError, Result};
use crate::mapping::{RUN_COLUMNS, TASK_COLUMNS, event_from_row, run_from_row, run_values, upsert_sql};
use crate::value::{Row, Value, from_sqlite, sqlite_sql};

mod embedded {
    refinery::embed_migrations!("../migrations/sqlite");
}

/// An open SQLite store. Cloning shares the connection.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    source: &'static str,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) the database.
    pub fn open(config: &SqliteConfig) -> Result<Self> {
        let path = config.path.clone();
        let setting = config.source.setting();
        let unreachable = |reason: String, fix: &str| DbError::Unreachable {
            location: format!("sqlite {}", path.display()),
            setting,
            reason,
            fix: fix.to_owned(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Err(err) = std::fs::create_dir_all(dir)
        {
            return Err(unreachable(
                format!("cannot create the directory {} ({err})", dir.display()),
                "choose a writable location with PIPETRACK_DATABASE_URL=sqlite:///path/to/pipetrack.db",
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|err| {
            unreachable(
                err.to_string(),
                "check the file's permissions or choose another with PIPETRACK_DATABASE_URL=sqlite:///path/to/pipetrack.db",
            )
        })?;
        conn.busy_timeout(config.busy_timeout).map_err(|source| sqlite_err(&path, source))?;
        // WAL lets readers work while a writer writes; NORMAL sync is durable
        // against process crashes, which is what a tracker must survive.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|err| {
            unreachable(
                err.to_string(),
                "check that the file and its directory are writable, or choose another path with PIPETRACK_DATABASE_URL",
            )
        })?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|source| sqlite_err(&path, source))?;
        Ok(Self { path, source: setting, conn: Arc::new(Mutex::new(conn)) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> DbError {
        if let Some(code) = source.sqlite_error_code()
            && matches!(
                code,
                rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::PermissionDenied
                    | rusqlite::ErrorCode::CannotOpen
            )
        {
            return DbError::AccessDenied {
                location: format!("sqlite {}", self.path.display()),
                setting: self.source,
                reason: source.to_string(),
                fix: "make the file and its directory writable by this user, or choose another path with PIPETRACK_DATABASE_URL=sqlite:///path/to/pipetrack.db".into(),
            };
        }
        sqlite_err(&self.path, source)
    }

    /// Runs `f` with the connection on a blocking thread.
    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &SqliteStore) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = store.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn, &store)
        })
        .await
        .map_err(|err| DbError::Join(err.to_string()))?
    }

    /// Applies pending migrations. Serialised across processes by an exclusive
    /// lock on `<file>.migrate.lock`, so that scripts starting together on a new
    /// file do not race.
    pub async fn migrate(&self) -> Result<Vec<String>> {
        self.with(|conn, store| {
            let lock_path = store.path.with_extension("migrate.lock");
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|err| DbError::Migration(format!("cannot open {}: {err}", lock_path.display())))?;
            lock.lock()
                .map_err(|err| DbError::Migration(format!("cannot lock {}: {err}", lock_path.display())))?;
            let report = embedded::migrations::runner()
                .run(conn)
                .map_err(|err| DbError::Migration(err.to_string()))?;
            drop(lock);
            Ok(report
                .applied_migrations()
                .iter()
                .map(|m| format!("V{}__{}", m.version(), m.name()))
                .collect())
        })
        .await
    }

    /// The applied schema version (0 when none).
    pub async fn schema_version(&self) -> Result<i64> {
        self.with(|conn, store| {
            let exists: bool = conn
                .query_row(
                    "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'refinery_schema_history'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| store.err(e))?;
            if !exists {
                return Ok(0);
            }
            conn.query_row("SELECT coalesce(max(version), 0) FROM refinery_schema_history", [], |r| r.get(0))
                .map_err(|e| store.err(e))
        })
        .await
    }

    /// Runs a query (Postgres-style placeholders) and returns its rows.
    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        let sql = sqlite_sql(sql);
        self.with(move |conn, store| query_rows(conn, &sql, &params).map_err(|e| store.err(e))).await
    }

    /// Runs a statement and returns the number of rows changed.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<usize> {
        let sql = sqlite_sql(sql);
        self.with(move |conn, store| {
            let mut stmt = conn.prepare_cached(&sql).map_err(|e| store.err(e))?;
            stmt.execute(rusqlite::params_from_iter(params.iter())).map_err(|e| store.err(e))
        })
        .await
    }

    /// Appends a batch in one transaction (see [`crate::Store::append`]).
    pub async fn append(&self, events: Vec<Event>) -> Result<AppendOutcome> {
        self.with(move |conn, store| append_blocking(conn, &events).map_err(|e| store.map_append_err(e)))
            .await
    }

    fn map_append_err(&self, err: AppendError) -> DbError {
        match err {
            AppendError::Sql(e) => self.err(e),
            AppendError::Db(e) => e,
        }
    }
}

fn sqlite_err(path: &Path, source: rusqlite::Error) -> DbError {
    DbError::Sqlite { path: path.display().to_string(), source }
}

pub(crate) fn query_rows(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let count = columns.len();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values =
            (0..count).map(|i| row.get_ref(i).map(from_sqlite)).collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(Row::new(columns.clone(), values));
    }
    Ok(out)
}

enum AppendError {
    Sql(rusqlite::Error),
    Db(DbError),
}

impl From<rusqlite::Error> for AppendError {
    fn from(err: rusqlite::Error) -> Self {
        AppendError::Sql(err)
    }
}

impl From<DbError> for AppendError {
    fn from(err: DbError) -> Self {
        AppendError::Db(err)
    }
}

struct Statements {
    insert_event: String,
    insert_sample: String,
    upsert_run: String,
    insert_task: String,
}

fn statements() -> &'static Statements {
    static STATEMENTS: std::sync::OnceLock<Statements> = std::sync::OnceLock::new();
    STATEMENTS.get_or_init(|| Statements {
        insert_event:
            "INSERT INTO events (run_id, stream, seq, at, kind, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                       ON CONFLICT DO NOTHING"
                .to_owned(),
        insert_sample: "INSERT INTO resource_samples (run_id, stream, seq, at, rss_bytes, peak_rss_bytes, \
                        cpu_seconds, read_bytes, write_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                        ON CONFLICT DO NOTHING"
            .to_owned(),
        upsert_run: sqlite_sql(&upsert_sql("runs", RUN_COLUMNS, &["run_id"])),
        insert_task: sqlite_task_insert(),
    })
}

fn sqlite_task_insert() -> String {
    let placeholders: Vec<String> = (1..=TASK_COLUMNS.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO tasks ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        TASK_COLUMNS.join(", "),
        placeholders.join(", ")
    )
}

fn append_blocking(conn: &mut Connection, events: &[Event]) -> Result<AppendOutcome, AppendError> {
    let groups = append::validate_batch(events)?;
    let statements = statements();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcome = AppendOutcome::default();
    for (run_id, group) in groups {
        let id: Value = run_id.as_uuid().into();
        let existing = query_rows(&tx, &sqlite_sql(sql::SELECT_RUN), std::slice::from_ref(&id))?
            .first()
            .map(run_from_row)
            .transpose()?;
        let stored_before = existing.is_none()
            && query_rows(&tx, &sqlite_sql(sql::ANY_EVENTS), std::slice::from_ref(&id))?
                .first()
                .map(|r| r.boolean("any"))
                .transpose()?
                .flatten()
                .unwrap_or(false);
        let mut inserted: Vec<&Event> = Vec::with_capacity(group.len());
        {
            let mut insert_event = tx.prepare_cached(&statements.insert_event)?;
            let mut insert_sample = tx.prepare_cached(&statements.insert_sample)?;
            for event in &group {
                let payload =
                    serde_json::to_string(&event.kind).map_err(|err| DbError::Corrupt(err.to_string()))?;
                let changed = insert_event.execute(rusqlite::params![
                    id,
                    event.stream.get(),
                    event.seq as i64,
                    Value::from(event.at),
                    event.kind.name(),
                    payload,
                ])?;
                if changed == 0 {
                    outcome.duplicates += 1;
                    continue;
                }
                outcome.inserted += 1;
                inserted.push(event);
                if let EventKind::ResourceSample(s) = &event.kind {
                    insert_sample.execute(rusqlite::params![
                        id,
                        event.stream.get(),
                        event.seq as i64,
                        Value::from(event.at),
                        Value::from(s.rss_bytes),
                        Value::from(s.peak_rss_bytes),
                        s.cpu_seconds,
                        Value::from(s.read_bytes),
                        Value::from(s.write_bytes),
                    ])?;
                }
            }
        }
        if inserted.is_empty() {
            continue;
        }
        let write = if append::needs_rebuild(existing.as_ref(), &inserted, stored_before) {
            let all = load_events(&tx, run_id)?;
            append::plan_rebuild(&all, existing.as_ref())
        } else {
            append::plan_incremental(existing, &inserted, &mut outcome)
        };
        let Some(write) = write else { continue };
        tx.prepare_cached(&statements.upsert_run)?
            .execute(rusqlite::params_from_iter(run_values(&write.row)))?;
        for (sql, params) in append::task_and_script_statements(
            &write,
            &append::TaskInserts::RowByRow(&statements.insert_task),
        ) {
            tx.prepare_cached(&sqlite_sql(&sql))?.execute(rusqlite::params_from_iter(params.iter()))?;
        }
    }
    tx.commit()?;
    Ok(outcome)
}

fn load_events(conn: &Connection, run_id: RunId) -> Result<Vec<Event>, AppendError> {
    let rows = query_rows(conn, &sqlite_sql(sql::SELECT_EVENTS), &[run_id.as_uuid().into()])?;
    Ok(rows.iter().map(event_from_row).collect::<Result<Vec<_>>>()?)
}
