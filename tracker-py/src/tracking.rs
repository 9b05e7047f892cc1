//! The tracking API: adapters over tracker-client's process-wide tracker.
//!
//! Hot calls (`genter`, `gexit`, `gmessage`, `progress`) keep the interpreter
//! attached: they only lock an uncontended mutex and push on a queue, and
//! detaching would cost more than the call. Calls that may wait (`track_init`
//! runs `git`; `flush` and `shutdown` wait for the writer) detach it.

use std::str::FromStr;
use std::time::Duration;

use pyo3::prelude::*;
use tracker_client::{
    ClientError, ExitReason, InitOptions, RunEnd, RunId, RunStatus, StatusFields, TaskStatus, Tracker,
};
use tracker_core::ErrorInfo;

use crate::errors::{client_error, invalid};
use crate::warnings;

/// Maps a tracker-client result to Python and issues pending tracking warnings.
#[inline]
fn deliver<T>(py: Python<'_>, result: Result<T, ClientError>) -> PyResult<T> {
    let value = result.map_err(|err| client_error(py, &err))?;
    warnings::deliver(py)?;
    Ok(value)
}

/// The process-wide tracker, `None` when `PIPETRACK_DISABLED` turns tracking
/// off (for the calls tracker-client has no free function of).
fn tracker() -> Option<&'static Tracker> {
    tracker_client::enabled().then(tracker_client::global)
}

fn parse<T: FromStr<Err = tracker_core::CoreError>>(
    py: Python<'_>,
    text: Option<&str>,
) -> PyResult<Option<T>> {
    text.map(T::from_str).transpose().map_err(|err| client_error(py, &err.into()))
}

/// Starts the run of this process (or joins the one named by `join_run` or
/// `PIPETRACK_RUN_ID`) and returns its id; `None` when tracking is disabled.
#[pyfunction]
#[pyo3(signature = (
    script_name=None, *, total_tasks=None, script_path=None, category=None, language=None,
    language_version=None, log_path=None, command=None, join_run=None, pipeline_run_id=None,
    parent_run_id=None, skip_env=false, skip_git=false, no_join=false
))]
#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)] // one keyword per InitOptions field
fn track_init(
    py: Python<'_>,
    script_name: Option<String>,
    total_tasks: Option<i64>,
    script_path: Option<String>,
    category: Option<String>,
    language: Option<String>,
    language_version: Option<String>,
    log_path: Option<String>,
    command: Option<String>,
    join_run: Option<&str>,
    pipeline_run_id: Option<&str>,
    parent_run_id: Option<&str>,
    skip_env: bool,
    skip_git: bool,
    no_join: bool,
) -> PyResult<Option<String>> {
    let pipeline_run_id = pipeline_run_id
        .map(|text| {
            uuid::Uuid::parse_str(text.trim()).map_err(|_| {
                invalid(
                    py,
                    format!(
                        "pipeline_run_id {text:?} is not a UUID: pass the pipeline's id \
                             (e.g. PIPETRACK_PIPELINE_RUN_ID) or leave it out"
                    ),
                )
            })
        })
        .transpose()?;
    let options = InitOptions {
        script_name,
        script_path,
        category,
        total_tasks,
        language,
        language_version,
        log_path,
        command,
        join_run: parse::<RunId>(py, join_run)?,
        pipeline_run_id,
        parent_run_id: parse::<RunId>(py, parent_run_id)?,
        skip_env,
        skip_git,
        no_join,
    };
    let result = py.detach(|| tracker_client::track_init(options));
    deliver(py, result.map(|id| id.map(|id| id.to_string())))
}

/// Enters a task (starting a run with the defaults when none was started).
#[pyfunction]
fn genter(py: Python<'_>, name: &str) -> PyResult<()> {
    deliver(py, tracker_client::genter(name))
}

/// Exits the innermost task open in this process, as "completed" (default) or
/// "failed". Raises StateError when no task is open.
#[pyfunction]
#[pyo3(signature = (status=None))]
fn gexit(py: Python<'_>, status: Option<&str>) -> PyResult<()> {
    match parse::<TaskStatus>(py, status)? {
        None | Some(TaskStatus::Completed) => deliver(py, tracker_client::gexit()),
        Some(status) => deliver(py, tracker().map_or(Ok(()), |t| t.exit_with(status))),
    }
}

/// Records a progress message for the current task.
#[pyfunction]
fn gmessage(py: Python<'_>, message: &str) -> PyResult<()> {
    deliver(py, tracker_client::gmessage(message))
}

/// Records sub-progress of the current task: `done` of `total` items.
#[pyfunction]
fn progress(py: Python<'_>, done: i64, total: i64) -> PyResult<()> {
    deliver(py, tracker_client::progress(done, total))
}

/// Updates any subset of the run's live fields in one validated event.
#[pyfunction]
#[pyo3(signature = (*, message=None, current_task=None, progress=None, total_tasks=None))]
fn track_status(
    py: Python<'_>,
    message: Option<String>,
    current_task: Option<String>,
    progress: Option<(i64, i64)>,
    total_tasks: Option<i64>,
) -> PyResult<()> {
    deliver(py, tracker_client::track_status(StatusFields { message, current_task, progress, total_tasks }))
}

/// Ends the run as `status` ("completed", "failed" or "cancelled"), with an
/// optional exit code.
#[pyfunction]
#[pyo3(signature = (status="completed", *, exit_code=None))]
fn track_finish(py: Python<'_>, status: &str, exit_code: Option<i32>) -> PyResult<()> {
    let status = parse::<RunStatus>(py, Some(status))?.unwrap_or(RunStatus::Completed);
    if status == RunStatus::Completed && exit_code.is_none() {
        return deliver(py, tracker_client::track_finish());
    }
    let end = RunEnd { status, exit_code, signal: None, error: None };
    deliver(py, tracker().map_or(Ok(()), |t| t.finish_with(end)))
}

/// Ends the run as failed with this error message, error class and traceback.
#[pyfunction]
#[pyo3(signature = (message, error_class=None, traceback=None, *, exit_code=None))]
fn track_error(
    py: Python<'_>,
    message: &str,
    error_class: Option<&str>,
    traceback: Option<&str>,
    exit_code: Option<i32>,
) -> PyResult<()> {
    if exit_code.is_none() {
        return deliver(py, tracker_client::track_error(message, error_class, traceback));
    }
    let error = ErrorInfo {
        message: message.to_owned(),
        class: error_class.map(str::to_owned),
        traceback: traceback.map(str::to_owned),
    };
    let end = RunEnd { status: RunStatus::Failed, exit_code, signal: None, error: Some(error) };
    deliver(py, tracker().map_or(Ok(()), |t| t.finish_with(end)))
}

/// The id of this process's run, or None before one started.
#[pyfunction]
fn run_id() -> Option<String> {
    tracker_client::current_run_id().map(|id| id.to_string())
}

/// Waits at most `timeout` seconds until everything recorded is stored;
/// returns whether it all is (the rest is spooled).
#[pyfunction]
#[pyo3(signature = (timeout=2.0))]
fn flush(py: Python<'_>, timeout: f64) -> PyResult<bool> {
    let timeout = Duration::try_from_secs_f64(timeout)
        .map_err(|_| invalid(py, format!("timeout {timeout} is not a number of seconds >= 0")))?;
    let report = py.detach(|| tracker_client::flush(timeout));
    warnings::deliver(py)?;
    Ok(report.complete)
}

/// Process exit: finishes a run still open here (completed for exit code 0 or
/// an unknown one, failed otherwise), flushes for at most
/// PIPETRACK_EXIT_FLUSH_MS, spools the rest and stops the writer. Later
/// warnings go to stderr. Returns whether everything was stored.
#[pyfunction]
#[pyo3(signature = (exit_code=None))]
fn shutdown(py: Python<'_>, exit_code: Option<i32>) -> PyResult<bool> {
    let reason = exit_code.map_or(ExitReason::Unknown, ExitReason::Code);
    let report = py.detach(|| tracker_client::shutdown(reason));
    let delivered = warnings::deliver(py);
    warnings::uninstall();
    delivered.map(|()| report.complete)
}

/// Arms the flush before a SIGTERM ends this process (multiprocessing workers
/// that `Pool.terminate()` ends); see `tracker_client::flush_on_sigterm`.
/// Returns whether it is armed (false when SIGTERM is handled or ignored already).
#[pyfunction]
fn flush_on_sigterm() -> bool {
    tracker_client::flush_on_sigterm()
}

pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(flush_on_sigterm, module)?)?;
    module.add_function(wrap_pyfunction!(track_init, module)?)?;
    module.add_function(wrap_pyfunction!(genter, module)?)?;
    module.add_function(wrap_pyfunction!(gexit, module)?)?;
    module.add_function(wrap_pyfunction!(gmessage, module)?)?;
    module.add_function(wrap_pyfunction!(progress, module)?)?;
    module.add_function(wrap_pyfunction!(track_status, module)?)?;
    module.add_function(wrap_pyfunction!(track_finish, module)?)?;
    module.add_function(wrap_pyfunction!(track_error, module)?)?;
    module.add_function(wrap_pyfunction!(run_id, module)?)?;
    module.add_function(wrap_pyfunction!(flush, module)?)?;
    module.add_function(wrap_pyfunction!(shutdown, module)?)?;
    Ok(())
}
