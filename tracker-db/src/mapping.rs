//! Rows <-> projections: one place that knows which column holds which field.

use std::collections::BTreeMap;

use tracker_core::{Event, EventKind, RunId, RunRow, RunStatus, StreamId, TaskRow, TaskStatus};

use crate::error::{DbError, Result};
use crate::value::{Row, Value};

/// Columns of `runs`, in the order of [`run_values`].
pub(crate) const RUN_COLUMNS: &[&str] = &[
    "run_id",
    "script_name",
    "script_path",
    "category",
    "status",
    "started_at",
    "updated_at",
    "heartbeat_at",
    "last_progress_at",
    "finished_at",
    "duration_ms",
    "total_tasks",
    "tasks_done",
    "current_task_number",
    "current_task",
    "message",
    "progress_done",
    "progress_total",
    "progress_percent",
    "error_message",
    "error_class",
    "error_traceback",
    "exit_code",
    "signal",
    "host",
    "pid",
    "os_user",
    "language",
    "language_version",
    "git_commit",
    "git_branch",
    "git_dirty",
    "working_dir",
    "log_path",
    "command",
    "env",
    "peak_rss_bytes",
    "cpu_seconds",
    "read_bytes",
    "write_bytes",
    "pipeline_run_id",
    "parent_run_id",
];

/// The values of a run row, in [`RUN_COLUMNS`] order.
pub(crate) fn run_values(row: &RunRow) -> Vec<Value> {
    let env = serde_json::to_value(&row.env).unwrap_or_else(|_| serde_json::json!({}));
    vec![
        row.run_id.map(|id| id.as_uuid()).into(),
        row.script_name.clone().into(),
        row.script_path.clone().into(),
        row.category.clone().into(),
        row.status.map(RunStatus::as_str).into(),
        row.started_at.into(),
        row.updated_at.into(),
        row.heartbeat_at.into(),
        row.last_progress_at.into(),
        row.finished_at.into(),
        row.duration_ms().into(),
        row.total_tasks.into(),
        row.tasks_done.into(),
        row.current_task_number.into(),
        row.current_task.clone().into(),
        row.message.clone().into(),
        row.progress_done.into(),
        row.progress_total.into(),
        row.progress_percent().into(),
        row.error_message.clone().into(),
        row.error_class.clone().into(),
        row.error_traceback.clone().into(),
        row.exit_code.into(),
        row.signal.into(),
        row.host.clone().into(),
        row.pid.into(),
        row.os_user.clone().into(),
        row.language.clone().into(),
        row.language_version.clone().into(),
        row.git_commit.clone().into(),
        row.git_branch.clone().into(),
        row.git_dirty.into(),
        row.working_dir.clone().into(),
        row.log_path.clone().into(),
        row.command.clone().into(),
        env.into(),
        row.peak_rss_bytes.into(),
        row.cpu_seconds.into(),
        row.read_bytes.into(),
        row.write_bytes.into(),
        row.pipeline_run_id.into(),
        row.parent_run_id.map(|id| id.as_uuid()).into(),
    ]
}

fn u32_of(column: &str, value: Option<i64>) -> Result<Option<u32>> {
    value
        .map(|v| u32::try_from(v).map_err(|_| DbError::Corrupt(format!("{column} = {v} is out of range"))))
        .transpose()
}

fn u64_of(value: Option<i64>) -> Option<u64> {
    value.map(|v| v.max(0) as u64)
}

fn status_of(column: &str, text: Option<String>) -> Result<RunStatus> {
    Row::required(column, text)?.parse().map_err(|err| DbError::Corrupt(format!("{column}: {err}")))
}

/// Reads a run row written by [`run_values`] (any query selecting `runs.*`).
pub fn run_from_row(r: &Row) -> Result<RunRow> {
    let env: BTreeMap<String, String> = match r.json("env")? {
        Some(json) => serde_json::from_value(json).map_err(|err| DbError::Corrupt(format!("env: {err}")))?,
        None => BTreeMap::new(),
    };
    Ok(RunRow {
        run_id: Some(RunId(Row::required("run_id", r.uuid("run_id")?)?)),
        script_name: Row::required("script_name", r.text("script_name")?)?,
        script_path: r.text("script_path")?,
        category: Row::required("category", r.text("category")?)?,
        status: Some(status_of("status", r.text("status")?)?),
        started_at: r.time("started_at")?,
        updated_at: r.time("updated_at")?,
        heartbeat_at: r.time("heartbeat_at")?,
        last_progress_at: r.time("last_progress_at")?,
        finished_at: r.time("finished_at")?,
        total_tasks: u32_of("total_tasks", r.int("total_tasks")?)?,
        tasks_done: u32_of("tasks_done", r.int("tasks_done")?)?.unwrap_or(0),
        current_task_number: u32_of("current_task_number", r.int("current_task_number")?)?.unwrap_or(0),
        current_task: r.text("current_task")?,
        message: r.text("message")?,
        progress_done: u64_of(r.int("progress_done")?),
        progress_total: u64_of(r.int("progress_total")?),
        error_message: r.text("error_message")?,
        error_class: r.text("error_class")?,
        error_traceback: r.text("error_traceback")?,
        exit_code: r.int("exit_code")?.map(|v| v as i32),
        signal: r.int("signal")?.map(|v| v as i32),
        host: r.text("host")?,
        pid: u32_of("pid", r.int("pid")?)?,
        os_user: r.text("os_user")?,
        language: r.text("language")?,
        language_version: r.text("language_version")?,
        git_commit: r.text("git_commit")?,
        git_branch: r.text("git_branch")?,
        git_dirty: r.boolean("git_dirty")?,
        working_dir: r.text("working_dir")?,
        log_path: r.text("log_path")?,
        command: r.text("command")?,
        env,
        peak_rss_bytes: u64_of(r.int("peak_rss_bytes")?),
        cpu_seconds: r.real("cpu_seconds")?,
        read_bytes: u64_of(r.int("read_bytes")?),
        write_bytes: u64_of(r.int("write_bytes")?),
        pipeline_run_id: r.uuid("pipeline_run_id")?,
        parent_run_id: r.uuid("parent_run_id")?.map(RunId),
    })
}

/// Columns of `tasks`, in the order of [`task_values`].
pub(crate) const TASK_COLUMNS: &[&str] = &[
    "run_id",
    "stream",
    "task_number",
    "depth",
    "name",
    "status",
    "started_at",
    "finished_at",
    "message",
    "progress_done",
    "progress_total",
];

pub(crate) fn task_values(run_id: RunId, task: &TaskRow) -> Vec<Value> {
    vec![
        run_id.as_uuid().into(),
        task.stream.get().into(),
        task.task_number.into(),
        task.depth.into(),
        task.name.clone().into(),
        task.status.as_str().into(),
        task.started_at.into(),
        task.finished_at.into(),
        task.message.clone().into(),
        task.progress_done.into(),
        task.progress_total.into(),
    ]
}

/// Reads a task row (any query selecting `tasks.*`).
pub fn task_from_row(r: &Row) -> Result<TaskRow> {
    let status: TaskStatus = Row::required("status", r.text("status")?)?
        .parse()
        .map_err(|err| DbError::Corrupt(format!("tasks.status: {err}")))?;
    Ok(TaskRow {
        stream: StreamId::from_stored(Row::required("stream", r.int("stream")?)?),
        task_number: u32_of("task_number", r.int("task_number")?)?.unwrap_or(0),
        depth: r.int("depth")?.unwrap_or(0) as u16,
        name: Row::required("name", r.text("name")?)?,
        status,
        started_at: Row::required("started_at", r.time("started_at")?)?,
        finished_at: r.time("finished_at")?,
        message: r.text("message")?,
        progress_done: u64_of(r.int("progress_done")?),
        progress_total: u64_of(r.int("progress_total")?),
    })
}

/// Reads an event stored as `(run_id, stream, seq, at, payload)`.
pub fn event_from_row(r: &Row) -> Result<Event> {
    let payload = Row::required("payload", r.json("payload")?)?;
    let kind: EventKind =
        serde_json::from_value(payload).map_err(|err| DbError::Corrupt(format!("events.payload: {err}")))?;
    Ok(Event {
        run_id: RunId(Row::required("run_id", r.uuid("run_id")?)?),
        stream: StreamId::from_stored(Row::required("stream", r.int("stream")?)?),
        seq: Row::required("seq", r.int("seq")?)? as u64,
        at: Row::required("at", r.time("at")?)?,
        kind,
    })
}

/// `INSERT INTO table (cols) VALUES ($1..$n)` with an upsert clause updating every
/// column but the key. The same text serves both backends.
pub(crate) fn upsert_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> =
        columns.iter().filter(|c| !key.contains(c)).map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        key.join(", "),
        updates.join(", ")
    )
}
