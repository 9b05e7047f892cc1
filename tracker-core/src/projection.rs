//! Projections: the run row and task rows that the store keeps up to date from
//! events, so readers never fold events themselves.
//!
//! The store loads a run's row, applies the newly appended events with
//! [`RunRow::apply`], and writes back the row and the [`TaskChange`]s, all in the
//! transaction that appended the events. The same code rebuilds a run from all
//! its events when they arrived out of order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::CoreError;
use crate::event::{Event, EventKind, RunMeta};
use crate::ids::{RunId, StreamId};
use crate::status::{RunStatus, TaskStatus};

/// The current state of one run, as stored in the `runs` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // one field per column; docs/schema.md documents each
pub struct RunRow {
    pub run_id: Option<RunId>,
    pub script_name: String,
    pub script_path: Option<String>,
    pub category: String,
    pub status: Option<RunStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub last_progress_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub total_tasks: Option<u32>,
    pub tasks_done: u32,
    pub current_task_number: u32,
    pub current_task: Option<String>,
    pub message: Option<String>,
    pub progress_done: Option<u64>,
    pub progress_total: Option<u64>,
    pub error_message: Option<String>,
    pub error_class: Option<String>,
    pub error_traceback: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub host: Option<String>,
    pub pid: Option<u32>,
    pub os_user: Option<String>,
    pub language: Option<String>,
    pub language_version: Option<String>,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub git_dirty: Option<bool>,
    pub working_dir: Option<String>,
    pub log_path: Option<String>,
    pub command: Option<String>,
    pub env: BTreeMap<String, String>,
    pub peak_rss_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub read_bytes: Option<u64>,
    pub write_bytes: Option<u64>,
    pub pipeline_run_id: Option<Uuid>,
    pub parent_run_id: Option<RunId>,
}

/// Key of a task row: the stream that ran it and its number in that stream.
pub type TaskKey = (StreamId, u32);

/// The state of one task, as stored in the `tasks` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TaskRow {
    pub stream: StreamId,
    pub task_number: u32,
    pub depth: u16,
    pub name: String,
    pub status: TaskStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
    pub progress_done: Option<u64>,
    pub progress_total: Option<u64>,
}

impl TaskRow {
    /// The task's id within `run_id` (see [`crate::TaskId`]).
    pub fn id(&self, run_id: crate::RunId) -> crate::TaskId {
        crate::TaskId::new(run_id, self.stream, self.task_number)
    }
}

/// What an event changed in the run's task rows.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskChange {
    /// A new task row.
    Entered(TaskRow),
    /// A task ended.
    Exited {
        /// Which task.
        key: TaskKey,
        /// How.
        status: TaskStatus,
        /// When.
        at: DateTime<Utc>,
    },
    /// A message or sub-progress within a task.
    Updated {
        /// Which task.
        key: TaskKey,
        /// New message, if any.
        message: Option<String>,
        /// New sub-progress, if any.
        progress: Option<(Option<u64>, Option<u64>)>,
    },
    /// The run ended: every task still running ends with `status`.
    CloseOpen {
        /// The final status of the still-running tasks.
        status: TaskStatus,
        /// When.
        at: DateTime<Utc>,
    },
}

impl TaskChange {
    /// Applies the change to an in-memory set of task rows (used for rebuilds and
    /// tests; the store applies the same change with SQL).
    pub fn apply_to(&self, tasks: &mut BTreeMap<TaskKey, TaskRow>) {
        match self {
            TaskChange::Entered(row) => {
                tasks.entry((row.stream, row.task_number)).or_insert_with(|| row.clone());
            }
            TaskChange::Exited { key, status, at } => {
                if let Some(row) = tasks.get_mut(key) {
                    row.status = *status;
                    row.finished_at = Some(*at);
                }
            }
            TaskChange::Updated { key, message, progress } => {
                if let Some(row) = tasks.get_mut(key) {
                    if message.is_some() {
                        row.message.clone_from(message);
                    }
                    if let Some((done, total)) = progress {
                        row.progress_done = *done;
                        row.progress_total = *total;
                    }
                }
            }
            TaskChange::CloseOpen { status, at } => {
                for row in tasks.values_mut().filter(|row| row.status == TaskStatus::Running) {
                    row.status = *status;
                    row.finished_at = Some(*at);
                }
            }
        }
    }
}

impl RunRow {
    /// Whether a `run_started` event has been applied (a row can exist only once it has).
    pub fn is_started(&self) -> bool {
        self.status.is_some()
    }

    /// Elapsed time of the run in milliseconds: until it finished, or until its
    /// last event while it is open.
    pub fn duration_ms(&self) -> Option<i64> {
        let start = self.started_at?;
        let end = self.finished_at.or(self.updated_at)?;
        Some((end - start).num_milliseconds().max(0))
    }

    /// Progress of the run in percent: top-level tasks done of total, refined by
    /// the sub-progress of the current task. `None` without a declared total.
    pub fn progress_percent(&self) -> Option<f64> {
        let total = f64::from(self.total_tasks.filter(|t| *t > 0)?);
        if self.status == Some(RunStatus::Completed) {
            return Some(100.0);
        }
        let mut done = f64::from(self.tasks_done);
        if let (Some(d), Some(t)) = (self.progress_done, self.progress_total)
            && t > 0
            && self.tasks_done < self.current_task_number
        {
            done += d as f64 / t as f64;
        }
        Some((done / total * 100.0).clamp(0.0, 100.0))
    }

    fn fill_meta(&mut self, meta: &RunMeta, overwrite: bool) {
        #[allow(clippy::ref_option)] // called with struct fields of the same shape
        fn set<T: Clone>(slot: &mut Option<T>, value: &Option<T>, overwrite: bool) {
            if value.is_some() && (overwrite || slot.is_none()) {
                slot.clone_from(value);
            }
        }
        if overwrite || self.script_name.is_empty() {
            self.script_name.clone_from(&meta.script_name);
            self.category.clone_from(&meta.category);
        }
        set(&mut self.script_path, &meta.script_path, overwrite);
        set(&mut self.total_tasks, &meta.total_tasks, overwrite);
        set(&mut self.host, &meta.host, overwrite);
        set(&mut self.pid, &meta.pid, overwrite);
        set(&mut self.os_user, &meta.os_user, overwrite);
        set(&mut self.language, &meta.language, overwrite);
        set(&mut self.language_version, &meta.language_version, overwrite);
        set(&mut self.git_commit, &meta.git_commit, overwrite);
        set(&mut self.git_branch, &meta.git_branch, overwrite);
        set(&mut self.git_dirty, &meta.git_dirty, overwrite);
        set(&mut self.working_dir, &meta.working_dir, overwrite);
        set(&mut self.log_path, &meta.log_path, overwrite);
        set(&mut self.command, &meta.command, overwrite);
        set(&mut self.pipeline_run_id, &meta.pipeline_run_id, overwrite);
        set(&mut self.parent_run_id, &meta.parent_run_id, overwrite);
        for (key, value) in &meta.env {
            if overwrite || !self.env.contains_key(key) {
                self.env.insert(key.clone(), value.clone());
            }
        }
        if let Some(total) = self.total_tasks {
            self.total_tasks = Some(total.max(self.current_task_number));
        }
    }

    /// Folds one event into the row. Returns the task rows it changed.
    ///
    /// An event the lifecycle does not allow (a task after the run finished, a
    /// second finish) leaves the row unchanged and returns the error; the store
    /// keeps such events in history and reports them, it never drops them.
    pub fn apply(&mut self, event: &Event) -> Result<Vec<TaskChange>, CoreError> {
        if let Some(run_id) = self.run_id
            && run_id != event.run_id
        {
            return Err(CoreError::WrongRun { run: run_id.to_string(), event_run: event.run_id.to_string() });
        }
        let at = event.at;
        let EventKind::RunStarted(meta) = &event.kind else {
            return self.apply_to_started(event);
        };
        if self.is_started() {
            // Another process joined the run: it may add metadata, never replace it.
            self.fill_meta(meta, false);
            self.touch(at, false);
            return Ok(Vec::new());
        }
        self.run_id = Some(event.run_id);
        self.fill_meta(meta, true);
        self.status = Some(RunStatus::Running);
        self.started_at = Some(at);
        self.updated_at = Some(at);
        self.heartbeat_at = Some(at);
        self.last_progress_at = Some(at);
        Ok(Vec::new())
    }

    fn touch(&mut self, at: DateTime<Utc>, progress: bool) {
        let later = |slot: &mut Option<DateTime<Utc>>| {
            if slot.is_none_or(|current| at > current) {
                *slot = Some(at);
            }
        };
        later(&mut self.updated_at);
        later(&mut self.heartbeat_at);
        if progress {
            later(&mut self.last_progress_at);
        }
    }

    fn apply_to_started(&mut self, event: &Event) -> Result<Vec<TaskChange>, CoreError> {
        let Some(mut status) = self.status else {
            return Err(CoreError::NotStarted { action: event.kind.name() });
        };
        // `lost` is provisional: a run that reports again from its own process was not gone.
        if status == RunStatus::Lost
            && event.stream != StreamId::MONITOR
            && !matches!(event.kind, EventKind::RunFinished(_) | EventKind::ResourceSample(_))
        {
            status = status.transition(RunStatus::Running)?;
            self.status = Some(status);
            self.finished_at = None;
        }
        let at = event.at;
        let stream = event.stream;
        let open_only = |action| {
            if status.is_open() { Ok(()) } else { Err(CoreError::RunFinished { status, action }) }
        };
        let changes = match &event.kind {
            EventKind::RunStarted(_) => unreachable!("handled by apply"),
            EventKind::TaskEntered { task, depth, name } => {
                open_only("entering a task")?;
                if *depth == 0 {
                    self.current_task_number += 1;
                    if let Some(total) = self.total_tasks.as_mut() {
                        *total = (*total).max(self.current_task_number);
                    }
                    self.progress_done = None;
                    self.progress_total = None;
                }
                self.current_task = Some(name.clone());
                self.touch(at, true);
                vec![TaskChange::Entered(TaskRow {
                    stream,
                    task_number: *task,
                    depth: *depth,
                    name: name.clone(),
                    status: TaskStatus::Running,
                    started_at: at,
                    finished_at: None,
                    message: None,
                    progress_done: None,
                    progress_total: None,
                })]
            }
            EventKind::TaskExited { task, depth, status: task_status } => {
                open_only("exiting a task")?;
                if *depth == 0 {
                    self.tasks_done = (self.tasks_done + 1).min(self.current_task_number);
                }
                self.touch(at, true);
                vec![TaskChange::Exited { key: (stream, *task), status: *task_status, at }]
            }
            EventKind::StatusUpdate(update) => {
                open_only("updating the status")?;
                if update.message.is_some() {
                    self.message.clone_from(&update.message);
                }
                if update.current_task.is_some() {
                    self.current_task.clone_from(&update.current_task);
                }
                if let Some(total) = update.total_tasks {
                    self.total_tasks = Some(total.max(self.current_task_number));
                }
                let progress = (update.progress_done.is_some() || update.progress_total.is_some())
                    .then_some((update.progress_done, update.progress_total));
                if let Some((done, total)) = progress {
                    self.progress_done = done;
                    self.progress_total = total;
                }
                self.touch(at, true);
                match update.task {
                    Some(task) if update.message.is_some() || progress.is_some() => {
                        vec![TaskChange::Updated {
                            key: (stream, task),
                            message: update.message.clone(),
                            progress,
                        }]
                    }
                    _ => Vec::new(),
                }
            }
            EventKind::Heartbeat => {
                open_only("sending a heartbeat")?;
                self.touch(at, false);
                Vec::new()
            }
            EventKind::ResourceSample(sample) => {
                // Samples are facts about a process and are kept even after the run ended.
                let max_u64 = |slot: &mut Option<u64>, value: u64| *slot = Some(slot.unwrap_or(0).max(value));
                max_u64(&mut self.peak_rss_bytes, sample.peak_rss_bytes.max(sample.rss_bytes));
                max_u64(&mut self.read_bytes, sample.read_bytes);
                max_u64(&mut self.write_bytes, sample.write_bytes);
                self.cpu_seconds = Some(self.cpu_seconds.unwrap_or(0.0).max(sample.cpu_seconds));
                if status.is_open() {
                    self.touch(at, false);
                }
                Vec::new()
            }
            EventKind::RunFinished(end) => {
                let new_status = status.transition(end.status)?;
                self.status = Some(new_status);
                self.finished_at = Some(at);
                if end.exit_code.is_some() {
                    self.exit_code = end.exit_code;
                }
                if end.signal.is_some() {
                    self.signal = end.signal;
                }
                if let Some(error) = &end.error {
                    self.error_message = Some(error.message.clone());
                    self.error_class.clone_from(&error.class);
                    self.error_traceback.clone_from(&error.traceback);
                }
                if new_status == RunStatus::Completed {
                    // Open tasks are closed as completed (CloseOpen below), so all entered are done.
                    self.tasks_done = self.current_task_number;
                }
                self.touch(at, true);
                let task_status = if new_status == RunStatus::Completed {
                    TaskStatus::Completed
                } else {
                    TaskStatus::Failed
                };
                vec![TaskChange::CloseOpen { status: task_status, at }]
            }
        };
        Ok(changes)
    }
}

/// Rebuilds a run's row and tasks from all its events (in `(at, stream, seq)`
/// order), skipping those the lifecycle refuses. Returns `None` when no
/// `run_started` event is among them yet.
pub fn rebuild(events: &[Event]) -> Option<(RunRow, BTreeMap<TaskKey, TaskRow>)> {
    let mut ordered: Vec<&Event> = events.iter().collect();
    ordered.sort_by_key(|e| {
        (!matches!(e.kind, EventKind::RunStarted(_)) || e.stream != StreamId::MAIN, e.at, e.stream, e.seq)
    });
    // The main stream's start comes first whatever its clock says; joins fill in later.
    let first_start = ordered.iter().position(|e| matches!(e.kind, EventKind::RunStarted(_)))?;
    let start = ordered.remove(first_start);
    ordered.sort_by_key(|e| (e.at, e.stream, e.seq));
    let mut row = RunRow::default();
    let mut tasks = BTreeMap::new();
    for event in std::iter::once(start).chain(ordered) {
        if let Ok(changes) = row.apply(event) {
            for change in &changes {
                change.apply_to(&mut tasks);
            }
        }
    }
    Some((row, tasks))
}
