//! Events: every tracking call produces one, keyed `(run_id, stream, seq)`.
//!
//! Events are the unit of storage. The store appends them idempotently and folds
//! them into projections (see [`crate::projection`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{RunId, StreamId};
use crate::status::{RunStatus, TaskStatus};

/// One thing that happened to a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The run it belongs to.
    pub run_id: RunId,
    /// The writer (process) that produced it.
    pub stream: StreamId,
    /// Position within `(run_id, stream)`, from 1, strictly increasing.
    pub seq: u64,
    /// When it happened (the writer's clock).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// The event a monitor appends (on [`StreamId::MONITOR`]) to close a run whose
    /// process is gone: the run becomes `lost`. `seq` must grow with each mark of
    /// the same run (monitors use the time in milliseconds).
    pub fn marked_lost(run_id: RunId, seq: u64, at: DateTime<Utc>) -> Event {
        Event {
            run_id,
            stream: StreamId::MONITOR,
            seq,
            at,
            kind: EventKind::RunFinished(Box::new(RunEnd {
                status: RunStatus::Lost,
                exit_code: None,
                signal: None,
                error: None,
            })),
        }
    }

    /// Whether the background writer may merge this event with a later one of the
    /// same stream (only progress/message updates: transitions, task boundaries and
    /// errors are never merged).
    pub fn is_coalescable(&self) -> bool {
        matches!(self.kind, EventKind::StatusUpdate(_) | EventKind::Heartbeat)
    }
}

/// The kinds of events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The run started (stream 0), or another process joined it (other streams).
    RunStarted(Box<RunMeta>),
    /// A task (`genter`) began.
    TaskEntered {
        /// Number of the task within its stream, from 1.
        task: u32,
        /// Nesting depth: 0 for a top-level task.
        depth: u16,
        /// The task's name.
        name: String,
    },
    /// A task (`gexit`) ended.
    TaskExited {
        /// Number of the task within its stream.
        task: u32,
        /// Nesting depth, as entered.
        depth: u16,
        /// How it ended.
        status: TaskStatus,
    },
    /// Any subset of the run's live fields changed (`track_status`, `gmessage`, `progress`).
    StatusUpdate(StatusUpdate),
    /// The writer is alive; nothing else changed.
    Heartbeat,
    /// A resource sample of the reporting process (or process tree).
    ResourceSample(ResourceSample),
    /// The run ended.
    RunFinished(Box<RunEnd>),
}

impl EventKind {
    /// The short name stored in the `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::RunStarted(_) => "run_started",
            EventKind::TaskEntered { .. } => "task_entered",
            EventKind::TaskExited { .. } => "task_exited",
            EventKind::StatusUpdate(_) => "status_update",
            EventKind::Heartbeat => "heartbeat",
            EventKind::ResourceSample(_) => "resource_sample",
            EventKind::RunFinished(_) => "run_finished",
        }
    }
}

/// What a run records about itself when it starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Script name (file name), e.g. `DAILY_01_BDC_Locations.R`.
    pub script_name: String,
    /// Full path of the script, when known.
    pub script_path: Option<String>,
    /// Category, e.g. `DAILY`.
    pub category: String,
    /// Expected number of top-level tasks, when declared.
    pub total_tasks: Option<u32>,
    /// Host name.
    pub host: Option<String>,
    /// Process id.
    pub pid: Option<u32>,
    /// OS user.
    pub os_user: Option<String>,
    /// `R`, `python`, `rust`, `shell` ...
    pub language: Option<String>,
    /// Version of the language runtime.
    pub language_version: Option<String>,
    /// Git commit of the script's repository.
    pub git_commit: Option<String>,
    /// Git branch.
    pub git_branch: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Where the script's log goes.
    pub log_path: Option<String>,
    /// The command line (for `pipetrack run`).
    pub command: Option<String>,
    /// The redacted environment.
    pub env: BTreeMap<String, String>,
    /// Groups all scripts of one pipeline invocation (one `make`).
    pub pipeline_run_id: Option<Uuid>,
    /// The run that started this one, if any.
    pub parent_run_id: Option<RunId>,
}

/// A partial update of a run's live fields; `None` means "unchanged".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// Latest progress message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Free-form current-task label (without entering a task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_task: Option<String>,
    /// New expected number of top-level tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tasks: Option<u32>,
    /// Sub-progress within the current task: items done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_done: Option<u64>,
    /// Sub-progress within the current task: items in total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_total: Option<u64>,
    /// The innermost open task of the stream when the update was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<u32>,
}

impl StatusUpdate {
    /// Folds a later update into this one: later fields win, absent ones keep ours.
    pub fn merge(&mut self, later: StatusUpdate) {
        if later.message.is_some() {
            self.message = later.message;
        }
        if later.current_task.is_some() {
            self.current_task = later.current_task;
        }
        if later.total_tasks.is_some() {
            self.total_tasks = later.total_tasks;
        }
        if later.progress_done.is_some() || later.progress_total.is_some() {
            self.progress_done = later.progress_done;
            self.progress_total = later.progress_total;
        }
        self.task = later.task;
    }
}

/// Resource use of the reporting process (or process tree) at a moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// Resident memory now, in bytes.
    pub rss_bytes: u64,
    /// Peak resident memory so far, in bytes.
    pub peak_rss_bytes: u64,
    /// CPU time (user + system) so far, in seconds.
    pub cpu_seconds: f64,
    /// Bytes read from storage so far.
    pub read_bytes: u64,
    /// Bytes written to storage so far.
    pub write_bytes: u64,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEnd {
    /// Final status: completed, failed, cancelled or lost.
    pub status: RunStatus,
    /// Exit code of the process, when known.
    pub exit_code: Option<i32>,
    /// Signal that ended the process, when known.
    pub signal: Option<i32>,
    /// The error, for failed runs.
    pub error: Option<ErrorInfo>,
}

/// An error reported by a script.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The error message.
    pub message: String,
    /// The error's class (`simpleError`, `ValueError` ...).
    pub class: Option<String>,
    /// Traceback or call stack, innermost frame last.
    pub traceback: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_json_with_a_type_tag() {
        let event = Event {
            run_id: RunId::from_parts(1, [1; 10]),
            stream: StreamId::MAIN,
            seq: 3,
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            kind: EventKind::TaskEntered { task: 2, depth: 0, name: "Load states".into() },
        };
        let json = serde_json::to_string(&event.kind).unwrap();
        assert_eq!(json, r#"{"type":"task_entered","task":2,"depth":0,"name":"Load states"}"#);
        let back: EventKind = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event.kind);
    }

    #[test]
    fn merging_updates_keeps_the_latest_value_per_field() {
        let mut first = StatusUpdate {
            message: Some("a".into()),
            progress_done: Some(1),
            progress_total: Some(10),
            ..StatusUpdate::default()
        };
        first.merge(StatusUpdate { message: Some("b".into()), ..StatusUpdate::default() });
        first.merge(StatusUpdate {
            progress_done: Some(5),
            progress_total: Some(10),
            ..StatusUpdate::default()
        });
        assert_eq!(first.message.as_deref(), Some("b"));
        assert_eq!((first.progress_done, first.progress_total), (Some(5), Some(10)));
    }

    #[test]
    fn only_updates_and_heartbeats_coalesce() {
        let mk = |kind| Event {
            run_id: RunId::from_parts(1, [1; 10]),
            stream: StreamId::MAIN,
            seq: 1,
            at: DateTime::from_timestamp(0, 0).unwrap(),
            kind,
        };
        assert!(mk(EventKind::Heartbeat).is_coalescable());
        assert!(mk(EventKind::StatusUpdate(StatusUpdate::default())).is_coalescable());
        assert!(
            !mk(EventKind::TaskExited { task: 1, depth: 0, status: TaskStatus::Completed }).is_coalescable()
        );
    }
}
