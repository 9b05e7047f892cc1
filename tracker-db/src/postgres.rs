//! The PostgreSQL backend: a deadpool connection pool, refinery migrations under
//! an advisory lock, and batched appends (one round trip per table per run).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use futures_util::future::{try_join_all, try_join4, try_join5};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;
use tracker_core::{Event, EventKind, RunId, TaskRow};

use crate::append::{self, AppendOutcome, sql};
use crate::config::PostgresConfig;
use crate::error::{DbError, Result};
use crate::mapping::{RUN_COLUMNS, TASK_COLUMNS, event_from_row, run_from_row, run_values, upsert_sql};
use crate::value::{Row, Value, from_postgres};

mod embedded {
    refinery::embed_migrations!("../migrations/postgres");
}

/// Advisory lock key serialising migrations across processes.
const MIGRATION_LOCK: i64 = 0x7069_7065_7472_6163; // "pipetrac"

/// An open Postgres store. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    config: PostgresConfig,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("location", &self.config.location()).finish_non_exhaustive()
    }
}

type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

/// Runs a statement only when `wanted` (an insert with rows to insert, a
/// rebuild's delete), so that it can take its place in a pipeline either way.
async fn execute_if(
    tx: &deadpool_postgres::Transaction<'_>,
    stmt: &tokio_postgres::Statement,
    wanted: bool,
    values: &[&(dyn ToSql + Sync)],
) -> std::result::Result<(), tokio_postgres::Error> {
    if wanted {
        tx.execute(stmt, values).await?;
    }
    Ok(())
}

fn params(values: &[Value]) -> Params<'_> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl PgStore {
    /// Builds the pool and checks that a connection can be made.
    pub async fn open(config: &PostgresConfig) -> Result<Self> {
        let manager_config = || ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let tls = crate::tls::connector(&config.tls).map_err(|problem| {
            DbError::Config(crate::ConfigError {
                setting: config.source.setting(),
                problem,
                fix: "fix ?sslrootcert= (a PEM file of the CA certificates to trust) or use sslmode=require"
                    .into(),
            })
        })?;
        let manager = match tls {
            None => Manager::from_config(config.config.clone(), NoTls, manager_config()),
            Some(tls) => Manager::from_config(config.config.clone(), tls, manager_config()),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|err| DbError::Pool(err.to_string()))?;
        let store = Self { pool, config: config.clone() };
        drop(store.client().await?);
        Ok(store)
    }

    /// The pool, for callers that need a raw connection.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Where the store is (no password).
    pub fn location(&self) -> String {
        self.config.location()
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|err| self.pool_err(err))
    }

    fn pool_err(&self, err: PoolError) -> DbError {
        match err {
            PoolError::Backend(err) => self.pg_err(err),
            PoolError::Timeout(kind) => DbError::Unreachable {
                location: self.location(),
                setting: self.config.source.setting(),
                reason: format!("timed out waiting for a connection ({kind:?})"),
                fix: "check that the server is up and reachable from this host".into(),
            },
            other => DbError::Pool(other.to_string()),
        }
    }

    /// Classifies a driver error into one the user can act on.
    pub(crate) fn pg_err(&self, err: tokio_postgres::Error) -> DbError {
        let location = self.location();
        let setting = self.config.source.setting();
        let Some(db) = err.as_db_error() else {
            if err.is_closed() || err.code().is_none() && !err.to_string().contains("error deserializing") {
                let reason =
                    std::error::Error::source(&err).map_or_else(|| err.to_string(), ToString::to_string);
                let fix = if reason.contains("certificate") {
                    "give the CA that signed the server's certificate with ?sslrootcert=/path/ca.pem and connect \
                     by the host name it was issued for (sslmode=verify-ca skips the name), or use \
                     sslmode=require to encrypt without checking it"
                } else if reason.contains("TLS") || reason.contains("SSL") {
                    "turn on ssl in the server's postgresql.conf, or remove sslmode from the URL"
                } else {
                    "check that the server is running and the host and port are right (or unset the setting to use the embedded SQLite file)"
                };
                return DbError::Unreachable { location, setting, reason, fix: fix.into() };
            }
            return DbError::Postgres(err);
        };
        let reason = db.message().to_owned();
        let code = db.code().code();
        let fix = match code {
            "28P01" | "28000" => "check the user name and password".to_owned(),
            "3D000" => "create the database (createdb NAME) or fix the database name".to_owned(),
            "3F000" => "create the schema or fix ?schema= in the URL".to_owned(),
            "42501" => {
                "grant this role the privileges it needs (see docs/operations.md) or run `pipetrack migrate` as the schema owner".to_owned()
            }
            _ => return DbError::Postgres(err),
        };
        DbError::AccessDenied { location, setting, reason, fix }
    }

    /// Applies pending migrations under an advisory lock (creating the configured
    /// schema first).
    pub async fn migrate(&self) -> Result<Vec<String>> {
        let mut client = self.client().await?;
        if let Some(schema) = &self.config.schema {
            // The schema name was checked to be a plain identifier when the URL was parsed.
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(|e| self.pg_err(e))?;
        }
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| self.pg_err(e))?;
        let result = embedded::migrations::runner().run_async(&mut **client).await;
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| self.pg_err(e))?;
        let report = result.map_err(|err| DbError::Migration(err.to_string()))?;
        Ok(report.applied_migrations().iter().map(|m| format!("V{}__{}", m.version(), m.name())).collect())
    }

    /// The applied schema version (0 when none).
    pub async fn schema_version(&self) -> Result<i64> {
        // Two steps: a query naming a missing table fails at parse time.
        let exists =
            self.query("SELECT to_regclass('refinery_schema_history') IS NOT NULL AS e", Vec::new()).await?;
        if exists.first().map(|r| r.boolean("e")).transpose()?.flatten() != Some(true) {
            return Ok(0);
        }
        let rows = self
            .query("SELECT coalesce(max(version), 0)::int8 AS v FROM refinery_schema_history", Vec::new())
            .await?;
        Ok(rows.first().map(|r| r.int("v")).transpose()?.flatten().unwrap_or(0))
    }

    /// Runs a query and returns its rows.
    pub async fn query(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(|e| self.pg_err(e))?;
        let rows = client.query(&stmt, &params(&values)).await.map_err(|e| self.pg_err(e))?;
        convert_rows(&stmt, &rows)
    }

    /// Runs a statement and returns the number of rows changed.
    pub async fn execute(&self, sql: &str, values: Vec<Value>) -> Result<usize> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(|e| self.pg_err(e))?;
        let n = client.execute(&stmt, &params(&values)).await.map_err(|e| self.pg_err(e))?;
        Ok(n as usize)
    }

    /// Appends a batch in one transaction (see [`crate::Store::append`]).
    ///
    /// Rows are inserted without `ON CONFLICT`: a speculative insert costs
    /// Postgres about twice a plain one, and duplicates only come from a
    /// replayed batch. When one comes, the transaction fails on the primary key
    /// and the batch is appended again, skipping what is stored.
    pub async fn append(&self, events: Vec<Event>) -> Result<AppendOutcome> {
        let groups = append::validate_batch(&events)?;
        match self.append_groups(&groups, Inserts::Plain).await {
            Err(Failure::Pg(err))
                if err.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
            {
                self.append_groups(&groups, Inserts::SkipStored).await
            }
            other => other,
        }
        .map_err(|failure| match failure {
            Failure::Pg(err) => self.pg_err(err),
            Failure::Db(err) => err,
        })
    }

    /// Each run takes two round trips, its statements pipelined (sent back to
    /// back, executed in order): lock, read and insert; then the projections.
    async fn append_groups(
        &self,
        groups: &std::collections::BTreeMap<RunId, Vec<&Event>>,
        mode: Inserts,
    ) -> std::result::Result<AppendOutcome, Failure> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut outcome = AppendOutcome::default();
        let upsert_run = tx.prepare_cached(&upsert_sql("runs", RUN_COLUMNS, &["run_id"])).await?;
        let advisory_lock = tx.prepare_cached("SELECT pg_advisory_xact_lock($1)").await?;
        let select_run = tx.prepare_cached(sql::SELECT_RUN).await?;
        let any_events = tx.prepare_cached(sql::ANY_EVENTS).await?;
        let insert_events = tx.prepare_cached(&EventColumns::sql(mode)).await?;
        let insert_samples = tx.prepare_cached(&SampleColumns::sql(mode)).await?;
        let insert_tasks = tx.prepare_cached(&TaskColumns::sql(mode)).await?;
        let delete_tasks = tx.prepare_cached(sql::DELETE_TASKS).await?;
        for (&run_id, group) in groups {
            let uuid = run_id.as_uuid();
            let key = lock_key(run_id);
            let events = EventColumns::new(group);
            // Writers of the same run (a parent and its forked children) take
            // turns: the lock comes first, then the reads see what they committed.
            let (key_param, run_param): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
                ([&key], [&uuid]);
            let lock = tx.execute(&advisory_lock, &key_param);
            let read_run = tx.query(&select_run, &run_param);
            let read_any = tx.query_one(&any_events, &run_param);
            let (existing, stored_before, inserted) = match mode {
                Inserts::Plain => {
                    // Nothing is stored twice (else the transaction fails): all is new.
                    let samples = SampleColumns::new(group);
                    let (event_params, sample_params) = (events.params(&uuid), samples.params(&uuid));
                    let (_, run_rows, any, _, ()) = try_join5(
                        lock,
                        read_run,
                        read_any,
                        tx.execute(&insert_events, &event_params),
                        execute_if(&tx, &insert_samples, !samples.streams.is_empty(), &sample_params),
                    )
                    .await?;
                    (run_rows, any, group.clone())
                }
                Inserts::SkipStored => {
                    let event_params = events.params(&uuid);
                    let (_, run_rows, any, new) =
                        try_join4(lock, read_run, read_any, tx.query(&insert_events, &event_params)).await?;
                    let new: std::collections::HashSet<(i64, i64)> =
                        new.iter().map(|r| (r.get(0), r.get(1))).collect();
                    let inserted: Vec<&Event> = group
                        .iter()
                        .copied()
                        .filter(|e| new.contains(&(e.stream.get(), e.seq as i64)))
                        .collect();
                    let samples = SampleColumns::new(&inserted);
                    execute_if(&tx, &insert_samples, !samples.streams.is_empty(), &samples.params(&uuid))
                        .await?;
                    (run_rows, any, inserted)
                }
            };
            let existing = convert_rows(&select_run, &existing)?.first().map(run_from_row).transpose()?;
            let stored_before = stored_before.get::<_, bool>(0);
            outcome.inserted += inserted.len();
            outcome.duplicates += group.len() - inserted.len();
            if inserted.is_empty() {
                continue;
            }
            let write = if append::needs_rebuild(existing.as_ref(), &inserted, stored_before) {
                let stmt = tx.prepare_cached(sql::SELECT_EVENTS).await?;
                let rows = convert_rows(&stmt, &tx.query(&stmt, &[&uuid]).await?)?;
                let all = rows.iter().map(event_from_row).collect::<Result<Vec<_>>>()?;
                append::plan_rebuild(&all, existing.as_ref())
            } else {
                append::plan_incremental(existing, &inserted, &mut outcome)
            };
            let Some(write) = write else { continue };
            let run_params = run_values(&write.row);
            let statements = append::task_and_script_statements(&write, &append::TaskInserts::InBulk);
            let mut prepared = Vec::with_capacity(statements.len());
            for (sql, _) in &statements {
                prepared.push(tx.prepare_cached(sql).await?);
            }
            let tasks = TaskColumns::new(&write.tasks.inserts);
            let task_params = tasks.params(&uuid);
            let run_refs = params(&run_params);
            let refs: Vec<Params<'_>> = statements.iter().map(|(_, values)| params(values)).collect();
            // In this order: the run row, a rebuild's delete, the new task rows, then updates.
            try_join4(
                tx.execute(&upsert_run, &run_refs),
                execute_if(&tx, &delete_tasks, write.tasks.replace, &run_param),
                execute_if(&tx, &insert_tasks, !tasks.streams.is_empty(), &task_params),
                try_join_all(prepared.iter().zip(&refs).map(|(stmt, values)| tx.execute(stmt, values))),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Whether inserts may meet rows already stored (a replayed batch).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Inserts {
    /// Plain inserts; a duplicate fails the transaction.
    Plain,
    /// `ON CONFLICT DO NOTHING`.
    SkipStored,
}

impl Inserts {
    fn clause(self) -> &'static str {
        match self {
            Inserts::Plain => "",
            Inserts::SkipStored => " ON CONFLICT DO NOTHING",
        }
    }
}

enum Failure {
    Pg(tokio_postgres::Error),
    Db(DbError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Self {
        Failure::Pg(err)
    }
}

impl From<DbError> for Failure {
    fn from(err: DbError) -> Self {
        Failure::Db(err)
    }
}

fn lock_key(run_id: RunId) -> i64 {
    let (high, low) = run_id.as_uuid().as_u64_pair();
    (high ^ low) as i64
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A run's events as column arrays, inserted in one statement (`unnest`).
struct EventColumns {
    streams: Vec<i64>,
    seqs: Vec<i64>,
    ats: Vec<chrono::DateTime<chrono::Utc>>,
    kinds: Vec<&'static str>,
    payloads: Vec<String>,
}

impl EventColumns {
    /// With `ON CONFLICT`, the new rows' keys are returned.
    fn sql(mode: Inserts) -> String {
        let returning = if mode == Inserts::SkipStored { " RETURNING stream, seq" } else { "" };
        format!(
            "INSERT INTO events (run_id, stream, seq, at, kind, payload) \
             SELECT $1, s, q, a, k, p::jsonb FROM unnest($2::int8[], $3::int8[], $4::timestamptz[], $5::text[], $6::text[]) \
             AS t(s, q, a, k, p){}{returning}",
            mode.clause()
        )
    }

    fn new(group: &[&Event]) -> Self {
        Self {
            streams: group.iter().map(|e| e.stream.get()).collect(),
            seqs: group.iter().map(|e| to_i64(e.seq)).collect(),
            ats: group.iter().map(|e| e.at).collect(),
            kinds: group.iter().map(|e| e.kind.name()).collect(),
            payloads: group
                .iter()
                .map(|e| serde_json::to_string(&e.kind).unwrap_or_else(|_| "{}".to_owned()))
                .collect(),
        }
    }

    fn params<'a>(&'a self, run: &'a uuid::Uuid) -> [&'a (dyn ToSql + Sync); 6] {
        [run, &self.streams, &self.seqs, &self.ats, &self.kinds, &self.payloads]
    }
}

/// The resource samples among a run's events, as column arrays.
struct SampleColumns {
    streams: Vec<i64>,
    seqs: Vec<i64>,
    ats: Vec<chrono::DateTime<chrono::Utc>>,
    rss: Vec<i64>,
    peak_rss: Vec<i64>,
    cpu: Vec<f64>,
    read: Vec<i64>,
    write: Vec<i64>,
}

impl SampleColumns {
    fn sql(mode: Inserts) -> String {
        format!(
            "INSERT INTO resource_samples (run_id, stream, seq, at, rss_bytes, peak_rss_bytes, cpu_seconds, read_bytes, write_bytes) \
             SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::timestamptz[], $5::int8[], $6::int8[], $7::float8[], $8::int8[], $9::int8[]){}",
            mode.clause()
        )
    }

    fn new(events: &[&Event]) -> Self {
        let mut columns = SampleColumns {
            streams: Vec::new(),
            seqs: Vec::new(),
            ats: Vec::new(),
            rss: Vec::new(),
            peak_rss: Vec::new(),
            cpu: Vec::new(),
            read: Vec::new(),
            write: Vec::new(),
        };
        for event in events {
            if let EventKind::ResourceSample(s) = &event.kind {
                columns.streams.push(event.stream.get());
                columns.seqs.push(to_i64(event.seq));
                columns.ats.push(event.at);
                columns.rss.push(to_i64(s.rss_bytes));
                columns.peak_rss.push(to_i64(s.peak_rss_bytes));
                columns.cpu.push(s.cpu_seconds);
                columns.read.push(to_i64(s.read_bytes));
                columns.write.push(to_i64(s.write_bytes));
            }
        }
        columns
    }

    fn params<'a>(&'a self, run: &'a uuid::Uuid) -> [&'a (dyn ToSql + Sync); 9] {
        [
            run,
            &self.streams,
            &self.seqs,
            &self.ats,
            &self.rss,
            &self.peak_rss,
            &self.cpu,
            &self.read,
            &self.write,
        ]
    }
}

/// A run's new task rows as column arrays.
struct TaskColumns<'a> {
    streams: Vec<i64>,
    numbers: Vec<i64>,
    depths: Vec<i64>,
    names: Vec<&'a str>,
    statuses: Vec<&'static str>,
    started: Vec<chrono::DateTime<chrono::Utc>>,
    finished: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    messages: Vec<Option<&'a str>>,
    done: Vec<Option<i64>>,
    total: Vec<Option<i64>>,
}

impl<'a> TaskColumns<'a> {
    fn sql(mode: Inserts) -> String {
        format!(
            "INSERT INTO tasks ({}) SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::int8[], $5::text[], \
             $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::int8[], $11::int8[]){}",
            TASK_COLUMNS.join(", "),
            mode.clause()
        )
    }

    fn new(tasks: &'a [TaskRow]) -> Self {
        Self {
            streams: tasks.iter().map(|t| t.stream.get()).collect(),
            numbers: tasks.iter().map(|t| i64::from(t.task_number)).collect(),
            depths: tasks.iter().map(|t| i64::from(t.depth)).collect(),
            names: tasks.iter().map(|t| t.name.as_str()).collect(),
            statuses: tasks.iter().map(|t| t.status.as_str()).collect(),
            started: tasks.iter().map(|t| t.started_at).collect(),
            finished: tasks.iter().map(|t| t.finished_at).collect(),
            messages: tasks.iter().map(|t| t.message.as_deref()).collect(),
            done: tasks.iter().map(|t| t.progress_done.map(to_i64)).collect(),
            total: tasks.iter().map(|t| t.progress_total.map(to_i64)).collect(),
        }
    }

    fn params<'b>(&'b self, run: &'b uuid::Uuid) -> [&'b (dyn ToSql + Sync); 11] {
        [
            run,
            &self.streams,
            &self.numbers,
            &self.depths,
            &self.names,
            &self.statuses,
            &self.started,
            &self.finished,
            &self.messages,
            &self.done,
            &self.total,
        ]
    }
}

fn convert_rows(stmt: &tokio_postgres::Statement, rows: &[tokio_postgres::Row]) -> Result<Vec<Row>> {
    let columns: std::sync::Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
    rows.iter()
        .map(|row| {
            let values = (0..columns.len()).map(|i| from_postgres(row, i)).collect::<Result<Vec<_>>>()?;
            Ok(Row::new(columns.clone(), values))
        })
        .collect()
}
