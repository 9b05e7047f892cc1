//! The PostgreSQL backend: a deadpool connection pool, refinery migrations under
//! an advisory lock, and batched appends (one round trip per table per run).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use futures_util::future::try_join_all;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;
use tracker_core::{Event, EventKind, RunId, StreamId, TaskRow};

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

fn params(values: &[Value]) -> Params<'_> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl PgStore {
    /// Builds the pool and checks that a connection can be made.
    pub async fn open(config: &PostgresConfig) -> Result<Self> {
        let manager = Manager::from_config(
            config.config.clone(),
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
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
                return DbError::Unreachable {
                    location,
                    setting,
                    reason,
                    fix: "check that the server is running and the host and port are right (or unset the setting to use the embedded SQLite file)".into(),
                };
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
    pub async fn append(&self, events: Vec<Event>) -> Result<AppendOutcome> {
        let groups = append::validate_batch(&events)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.pg_err(e))?;
        let mut outcome = AppendOutcome::default();
        let e = |err| self.pg_err(err);
        let upsert_run = tx.prepare_cached(&upsert_sql("runs", RUN_COLUMNS, &["run_id"])).await.map_err(e)?;
        for (run_id, group) in groups {
            let uuid = run_id.as_uuid();
            // Writers of the same run (a parent and its forked children) take turns.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(run_id)]).await.map_err(e)?;
            let stmt = tx.prepare_cached(sql::SELECT_RUN).await.map_err(e)?;
            let existing = convert_rows(&stmt, &tx.query(&stmt, &[&uuid]).await.map_err(e)?)?
                .first()
                .map(run_from_row)
                .transpose()?;
            let stored_before = if existing.is_none() {
                let stmt = tx.prepare_cached(sql::COUNT_EVENTS).await.map_err(e)?;
                tx.query_one(&stmt, &[&uuid]).await.map_err(e)?.get::<_, i64>(0) as usize
            } else {
                0
            };
            let inserted = insert_events(&tx, run_id, &group).await.map_err(e)?;
            outcome.inserted += inserted.len();
            outcome.duplicates += group.len() - inserted.len();
            if inserted.is_empty() {
                continue;
            }
            insert_samples(&tx, run_id, &inserted).await.map_err(e)?;
            let write = if append::needs_rebuild(existing.as_ref(), &inserted, stored_before) {
                let stmt = tx.prepare_cached(sql::SELECT_EVENTS).await.map_err(e)?;
                let rows = convert_rows(&stmt, &tx.query(&stmt, &[&uuid]).await.map_err(e)?)?;
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
                prepared.push(tx.prepare_cached(sql).await.map_err(e)?);
            }
            // Pipelined: sent back to back, executed in order, one wait.
            let run_refs = params(&run_params);
            let refs: Vec<Params<'_>> = statements.iter().map(|(_, values)| params(values)).collect();
            let run_write = tx.execute(&upsert_run, &run_refs);
            let rest = prepared.iter().zip(&refs).map(|(stmt, values)| tx.execute(stmt, values));
            run_write.await.map_err(e)?;
            if write.tasks.replace {
                tx.execute(sql::DELETE_TASKS, &[&uuid]).await.map_err(e)?;
            }
            insert_tasks(&tx, run_id, &write.tasks.inserts).await.map_err(e)?;
            try_join_all(rest).await.map_err(e)?;
        }
        tx.commit().await.map_err(e)?;
        Ok(outcome)
    }
}

fn lock_key(run_id: RunId) -> i64 {
    let (high, low) = run_id.as_uuid().as_u64_pair();
    (high ^ low) as i64
}

/// Inserts a run's new task rows in one statement (one round trip however many).
async fn insert_tasks(
    tx: &deadpool_postgres::Transaction<'_>,
    run_id: RunId,
    tasks: &[TaskRow],
) -> std::result::Result<(), tokio_postgres::Error> {
    if tasks.is_empty() {
        return Ok(());
    }
    let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let streams: Vec<i64> = tasks.iter().map(|t| t.stream.get()).collect();
    let numbers: Vec<i64> = tasks.iter().map(|t| i64::from(t.task_number)).collect();
    let depths: Vec<i64> = tasks.iter().map(|t| i64::from(t.depth)).collect();
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let statuses: Vec<&str> = tasks.iter().map(|t| t.status.as_str()).collect();
    let started: Vec<chrono::DateTime<chrono::Utc>> = tasks.iter().map(|t| t.started_at).collect();
    let finished: Vec<Option<chrono::DateTime<chrono::Utc>>> = tasks.iter().map(|t| t.finished_at).collect();
    let messages: Vec<Option<&str>> = tasks.iter().map(|t| t.message.as_deref()).collect();
    let done: Vec<Option<i64>> = tasks.iter().map(|t| t.progress_done.map(to_i64)).collect();
    let total: Vec<Option<i64>> = tasks.iter().map(|t| t.progress_total.map(to_i64)).collect();
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO tasks ({}) SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::int8[], $5::text[], \
             $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::int8[], $11::int8[]) \
             ON CONFLICT DO NOTHING",
            TASK_COLUMNS.join(", ")
        ))
        .await?;
    tx.execute(
        &stmt,
        &[
            &run_id.as_uuid(),
            &streams,
            &numbers,
            &depths,
            &names,
            &statuses,
            &started,
            &finished,
            &messages,
            &done,
            &total,
        ],
    )
    .await?;
    Ok(())
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

/// Inserts a run's events in one statement; returns those that were new, in batch order.
async fn insert_events<'e>(
    tx: &deadpool_postgres::Transaction<'_>,
    run_id: RunId,
    group: &[&'e Event],
) -> std::result::Result<Vec<&'e Event>, tokio_postgres::Error> {
    let streams: Vec<i64> = group.iter().map(|e| e.stream.get()).collect();
    let seqs: Vec<i64> = group.iter().map(|e| e.seq as i64).collect();
    let ats: Vec<chrono::DateTime<chrono::Utc>> = group.iter().map(|e| e.at).collect();
    let kinds: Vec<&str> = group.iter().map(|e| e.kind.name()).collect();
    let payloads: Vec<String> =
        group.iter().map(|e| serde_json::to_string(&e.kind).unwrap_or_else(|_| "{}".to_owned())).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO events (run_id, stream, seq, at, kind, payload) \
             SELECT $1, s, q, a, k, p::jsonb FROM unnest($2::int8[], $3::int8[], $4::timestamptz[], $5::text[], $6::text[]) \
             AS t(s, q, a, k, p) ON CONFLICT DO NOTHING RETURNING stream, seq",
        )
        .await?;
    let rows = tx.query(&stmt, &[&run_id.as_uuid(), &streams, &seqs, &ats, &kinds, &payloads]).await?;
    let new: std::collections::HashSet<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(group.iter().copied().filter(|e| new.contains(&(e.stream.get(), e.seq as i64))).collect())
}

async fn insert_samples(
    tx: &deadpool_postgres::Transaction<'_>,
    run_id: RunId,
    events: &[&Event],
) -> std::result::Result<(), tokio_postgres::Error> {
    let samples: Vec<(StreamId, u64, chrono::DateTime<chrono::Utc>, tracker_core::ResourceSample)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ResourceSample(s) => Some((e.stream, e.seq, e.at, *s)),
            _ => None,
        })
        .collect();
    if samples.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&tracker_core::ResourceSample) -> u64| -> Vec<i64> {
        samples.iter().map(|(_, _, _, s)| i64::try_from(f(s)).unwrap_or(i64::MAX)).collect()
    };
    let streams: Vec<i64> = samples.iter().map(|(s, ..)| s.get()).collect();
    let seqs: Vec<i64> = samples.iter().map(|(_, q, ..)| *q as i64).collect();
    let ats: Vec<chrono::DateTime<chrono::Utc>> = samples.iter().map(|(_, _, a, _)| *a).collect();
    let cpu: Vec<f64> = samples.iter().map(|(_, _, _, s)| s.cpu_seconds).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO resource_samples (run_id, stream, seq, at, rss_bytes, peak_rss_bytes, cpu_seconds, read_bytes, write_bytes) \
             SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::timestamptz[], $5::int8[], $6::int8[], $7::float8[], $8::int8[], $9::int8[]) \
             ON CONFLICT DO NOTHING",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &run_id.as_uuid(),
            &streams,
            &seqs,
            &ats,
            &col(|s| s.rss_bytes),
            &col(|s| s.peak_rss_bytes),
            &cpu,
            &col(|s| s.read_bytes),
            &col(|s| s.write_bytes),
        ],
    )
    .await?;
    Ok(())
}
