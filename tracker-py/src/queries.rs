//! Query functions and migrations: adapters over monitor-queries and
//! tracker-db. Answers cross to Python as the JSON of monitor-queries' serde
//! types (the same shapes as the dashboard's JSON API); the Python package
//! decodes them into dicts.
//!
//! Stores are opened once per database URL and kept (a Postgres pool is costly
//! to open); each query uses a fresh `Monitor`, so answers are never served
//! from a cache older than the call. The runtime and the stores belong to the
//! process that made them: after a fork they are left alone and made anew.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use monitor_queries::{HistoryFilter, HistorySort, Monitor, MonitorConfig, QueryError};
use pyo3::prelude::*;
use serde::Serialize;
use tokio::runtime::Runtime;
use tracker_core::{RunId, RunStatus};
use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

use crate::errors::{Class, config_error, db_error, invalid, query_error};

struct Stores {
    pid: u32,
    runtime: Arc<Runtime>,
    open: HashMap<String, Store>,
}

static STORES: Mutex<Option<Stores>> = Mutex::new(None);

fn lock_stores() -> MutexGuard<'static, Option<Stores>> {
    STORES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The store `database_url` names (the environment's when `None`) and the
/// runtime to use it on. The embedded default store is migrated on first use.
///
/// The lock on `STORES` is never held while the interpreter is detached: a
/// store opens (and migrates) outside it, so another Python thread that holds
/// the interpreter and waits for the lock cannot deadlock with this one. Two
/// threads opening the same store at once both open it; the first one stored
/// is kept and used by both.
fn store(py: Python<'_>, database_url: Option<&str>) -> PyResult<(Arc<Runtime>, Store)> {
    let config = match database_url {
        Some(url) => StoreConfig::from_url(url, Source::Code),
        None => StoreConfig::from_env(),
    }
    .map_err(|err| config_error(py, &err))?;
    let key = config.describe();
    let runtime = {
        let mut slot = lock_stores();
        if slot.as_ref().is_some_and(|stores| stores.pid != std::process::id()) {
            // Made by the parent of this forked process: its threads are not here.
            std::mem::forget(slot.take());
        }
        if slot.is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("pipetrack-query")
                .enable_all()
                .build()
                .map_err(|err| {
                    Class::Store.err(py, format!("cannot start the query runtime: {err}"), "store")
                })?;
            *slot =
                Some(Stores { pid: std::process::id(), runtime: Arc::new(runtime), open: HashMap::new() });
        }
        let stores = slot.as_ref().expect("set above");
        if let Some(store) = stores.open.get(&key) {
            return Ok((stores.runtime.clone(), store.clone()));
        }
        stores.runtime.clone()
    };
    let opened = py.detach(|| {
        runtime.block_on(async {
            let store = Store::open(&config).await?;
            if config.source() == Source::Default {
                store.migrate().await?;
            }
            Ok::<_, tracker_db::DbError>(store)
        })
    });
    let store = opened.map_err(|err| db_error(py, &err))?;
    let mut slot = lock_stores();
    if let Some(stores) = slot.as_mut()
        && stores.pid == std::process::id()
    {
        let kept = stores.open.entry(key).or_insert(store).clone();
        return Ok((runtime, kept));
    }
    // Forked meanwhile (the lock was free): use this store once, keep nothing.
    Ok((runtime, store))
}

/// The read-model settings of the environment (`PIPETRACK_LOST_AFTER_SECS`,
/// `PIPETRACK_SCRIPTS_DIR`, `PIPETRACK_EXPECTED_SCRIPTS` ...), as the CLI and
/// the R package read them; read on every query, so a change of
/// `os.environ` applies to the next one.
fn monitor_config(py: Python<'_>) -> PyResult<MonitorConfig> {
    MonitorConfig::from_env().map_err(|err| Class::Configuration.err(py, err.to_string(), "configuration"))
}

/// Runs one monitor-queries call and returns its answer as JSON.
fn query<T, F>(
    py: Python<'_>,
    database_url: Option<&str>,
    call: impl FnOnce(Monitor) -> F + Send,
) -> PyResult<String>
where
    T: Serialize + Send,
    F: Future<Output = Result<T, QueryError>> + Send,
{
    let settings = monitor_config(py)?;
    let (runtime, store) = store(py, database_url)?;
    let monitor = Monitor::new(store, settings);
    let answer = py.detach(|| {
        runtime.block_on(async {
            monitor.store().ensure_current().await?;
            call(monitor).await
        })
    });
    let answer = answer.map_err(|err| query_error(py, &err))?;
    serde_json::to_string(&answer).map_err(|err| invalid(py, format!("cannot encode the answer: {err}")))
}

fn time(py: Python<'_>, field: &str, text: Option<&str>) -> PyResult<Option<DateTime<Utc>>> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|err| invalid(py, format!("{field} {text:?} is not an RFC 3339 time: {err}")))
    })
    .transpose()
}

/// Applies pending migrations to the store; returns the names of those applied.
#[pyfunction]
#[pyo3(signature = (database_url=None))]
fn migrate(py: Python<'_>, database_url: Option<&str>) -> PyResult<Vec<String>> {
    let (runtime, store) = store(py, database_url)?;
    py.detach(|| runtime.block_on(store.migrate())).map_err(|err| db_error(py, &err))
}

/// The latest run of every script (JSON list of ScriptStatus).
#[pyfunction]
#[pyo3(signature = (database_url=None))]
fn current_status(py: Python<'_>, database_url: Option<&str>) -> PyResult<String> {
    query(py, database_url, |monitor| async move { monitor.current_status().await })
}

/// One page of run history, newest first (JSON Page of RunSummary).
#[pyfunction]
#[pyo3(signature = (
    database_url=None, *, script=None, category=None, statuses=Vec::new(), since=None, until=None,
    search=None, sort="started", descending=None, limit=50, cursor=None
))]
#[allow(clippy::too_many_arguments)] // one keyword per HistoryFilter field
fn history(
    py: Python<'_>,
    database_url: Option<&str>,
    script: Option<String>,
    category: Option<String>,
    statuses: Vec<String>,
    since: Option<&str>,
    until: Option<&str>,
    search: Option<String>,
    sort: &str,
    descending: Option<bool>,
    limit: usize,
    cursor: Option<String>,
) -> PyResult<String> {
    let sort = sort.parse::<HistorySort>().map_err(|err| query_error(py, &err))?;
    let statuses = statuses
        .into_iter()
        .map(|status| status.parse::<RunStatus>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(py, err.to_string()))?;
    let filter = HistoryFilter {
        from: time(py, "since", since)?,
        to: time(py, "until", until)?,
        category,
        statuses,
        script,
        search,
        sort,
        descending,
        limit,
        ..HistoryFilter::default()
    };
    query(py, database_url, |monitor| async move { monitor.history(&filter, cursor.as_deref()).await })
}

/// Runs in progress with their tasks and recent messages (JSON list of RunningRun).
#[pyfunction]
#[pyo3(signature = (database_url=None))]
fn running(py: Python<'_>, database_url: Option<&str>) -> PyResult<String> {
    query(py, database_url, |monitor| async move { monitor.running().await })
}

/// Failed runs started at or after `since`, newest first (JSON list of RunSummary).
#[pyfunction]
#[pyo3(signature = (since, database_url=None, *, limit=100))]
fn recent_failures(
    py: Python<'_>,
    since: &str,
    database_url: Option<&str>,
    limit: usize,
) -> PyResult<String> {
    let since = time(py, "since", Some(since))?.expect("given");
    query(py, database_url, |monitor| async move { monitor.recent_failures(since, limit).await })
}

/// Everything about one run (JSON RunDetail).
#[pyfunction]
#[pyo3(signature = (run_id, database_url=None))]
fn run_detail(py: Python<'_>, run_id: &str, database_url: Option<&str>) -> PyResult<String> {
    let run_id = run_id.parse::<RunId>().map_err(|err| invalid(py, err.to_string()))?;
    query(py, database_url, |monitor| async move { monitor.run_detail(run_id).await })
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(migrate, module)?)?;
    module.add_function(wrap_pyfunction!(current_status, module)?)?;
    module.add_function(wrap_pyfunction!(history, module)?)?;
    module.add_function(wrap_pyfunction!(running, module)?)?;
    module.add_function(wrap_pyfunction!(recent_failures, module)?)?;
    module.add_function(wrap_pyfunction!(run_detail, module)?)?;
    Ok(())
}
