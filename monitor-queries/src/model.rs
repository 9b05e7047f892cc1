//! The typed answers of the read model. All serialise with serde, so the
//! dashboard's JSON API, `--json` in the CLI and the R/Python query functions
//! expose the same shapes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracker_core::{RunId, RunRow, RunStatus, TaskRow};

use crate::stats::DurationStats;

/// What a reader should show for a run: the stored status, refined by the
/// liveness rules (see `docs/queries.md`, "Stalled and lost").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Running, with a fresh heartbeat and recent progress.
    Running,
    /// Running and alive (fresh heartbeat), but without progress for far longer than usual.
    Stalled,
    /// Stored as lost, or running with a heartbeat older than the lost limit.
    Lost,
    /// Finished normally.
    Completed,
    /// Finished with an error.
    Failed,
    /// Interrupted or killed.
    Cancelled,
    /// Only a script's state, never a run's: the script is expected
    /// ([`crate::MonitorConfig::expected_scripts`]) but has no run yet.
    NeverRun,
}

impl RunState {
    /// The name shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Stalled => "stalled",
            RunState::Lost => "lost",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::NeverRun => "never_run",
        }
    }

    /// The state of a finished (or stored-lost) status.
    pub(crate) fn of_final(status: RunStatus) -> Self {
        match status {
            RunStatus::Running => RunState::Running,
            RunStatus::Completed => RunState::Completed,
            RunStatus::Failed => RunState::Failed,
            RunStatus::Cancelled => RunState::Cancelled,
            RunStatus::Lost => RunState::Lost,
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run, as listed by history, failures and status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run.
    pub run_id: RunId,
    /// Script file name.
    pub script_name: String,
    /// Category (DAILY, ANNUAL_DEC ...).
    pub category: String,
    /// The stored status.
    pub status: RunStatus,
    /// What to show: the status refined by the stalled/lost rules.
    pub state: RunState,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended (`None` while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// Stored duration: until the end, or until the last event while running.
    pub duration_ms: Option<i64>,
    /// Time since the start for a running run (by the monitor's clock), else the duration.
    pub elapsed_ms: Option<i64>,
    /// Top-level tasks done.
    pub tasks_done: u32,
    /// Expected top-level tasks, when declared.
    pub total_tasks: Option<u32>,
    /// Progress in percent, when a total was declared.
    pub progress_percent: Option<f64>,
    /// Most recently entered task.
    pub current_task: Option<String>,
    /// Latest progress message.
    pub message: Option<String>,
    /// Error class of a failed run.
    pub error_class: Option<String>,
    /// Error message of a failed run.
    pub error_message: Option<String>,
    /// Error group of a failed run (see [`crate::fingerprint`]).
    pub error_fingerprint: Option<String>,
    /// Exit code when known.
    pub exit_code: Option<i32>,
    /// Host it ran on.
    pub host: Option<String>,
    /// Latest sign of life.
    pub heartbeat_at: DateTime<Utc>,
    /// Latest progress (task, message or progress change).
    pub last_progress_at: DateTime<Utc>,
}

/// What a script's completed runs say is normal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptTiming {
    /// How many recent completed runs the figures come from.
    pub sample: usize,
    /// Median duration of those runs ("typical duration").
    pub typical_ms: Option<f64>,
    /// 90th percentile duration of those runs.
    pub p90_ms: Option<f64>,
}

/// One row of "current status of everything".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptStatus {
    /// Script file name.
    pub script_name: String,
    /// Its category.
    pub category: String,
    /// How many runs it has.
    pub run_count: i64,
    /// The state of its latest run, or `never_run` when it has none.
    pub state: RunState,
    /// Its latest run (`None` for an expected script that never ran).
    pub latest: Option<RunSummary>,
    /// Median duration of its recent completed runs.
    pub typical_duration_ms: Option<f64>,
    /// Expected end of the latest run while it runs (see `docs/queries.md`).
    pub eta: Option<DateTime<Utc>>,
}

/// A progress message of a run, from its event history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgressMessage {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The process that sent it.
    pub stream: i64,
    /// The text.
    pub message: String,
    /// Sub-progress sent with it: done.
    pub progress_done: Option<u64>,
    /// Sub-progress sent with it: total.
    pub progress_total: Option<u64>,
}

/// A running run with its task-level progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningRun {
    /// The run.
    pub run: RunSummary,
    /// Its tasks so far, in start order.
    pub tasks: Vec<TaskRow>,
    /// Its latest progress messages, newest first.
    pub recent_messages: Vec<ProgressMessage>,
    /// Median duration of the script's recent completed runs.
    pub typical_duration_ms: Option<f64>,
    /// Expected end.
    pub eta: Option<DateTime<Utc>>,
}

/// A resource sample of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourcePoint {
    /// When.
    pub at: DateTime<Utc>,
    /// Which process.
    pub stream: i64,
    /// Resident memory, bytes.
    pub rss_bytes: i64,
    /// Peak resident memory so far, bytes.
    pub peak_rss_bytes: i64,
    /// CPU seconds so far.
    pub cpu_seconds: f64,
    /// Bytes read so far.
    pub read_bytes: i64,
    /// Bytes written so far.
    pub write_bytes: i64,
}

/// Everything about one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunDetail {
    /// The full run row: metadata, error, resource totals.
    pub run: RunRow,
    /// Its display state.
    pub state: RunState,
    /// Time since the start (running) or the duration (finished).
    pub elapsed_ms: Option<i64>,
    /// Error group, for a failed run.
    pub error_fingerprint: Option<String>,
    /// Median duration of the script's recent completed runs.
    pub typical_duration_ms: Option<f64>,
    /// Expected end while running.
    pub eta: Option<DateTime<Utc>>,
    /// Tasks with their times and messages, in start order.
    pub tasks: Vec<TaskRow>,
    /// Progress messages, oldest first (the latest `detail_messages`).
    pub messages: Vec<ProgressMessage>,
    /// Resource samples, oldest first.
    pub samples: Vec<ResourcePoint>,
}

/// A page of results and the cursor of the next one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which runs a trend covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum TrendScope {
    /// One script.
    Script(String),
    /// One category.
    Category(String),
    /// Every script.
    All,
}

/// Counts of one UTC day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayStats {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Runs started that day.
    pub runs: i64,
    /// Of which completed.
    pub completed: i64,
    /// Of which failed.
    pub failed: i64,
    /// Mean duration of the completed ones.
    pub mean_duration_ms: Option<f64>,
}

/// One run in a trend chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendRun {
    /// The run.
    pub run_id: RunId,
    /// Its script.
    pub script_name: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its stored duration.
    pub duration_ms: Option<i64>,
    /// Its status.
    pub status: RunStatus,
    /// Peak memory, bytes.
    pub peak_rss_bytes: Option<i64>,
    /// CPU seconds.
    pub cpu_seconds: Option<f64>,
    /// Bytes read.
    pub read_bytes: Option<i64>,
    /// Bytes written.
    pub write_bytes: Option<i64>,
}

/// A frequent failure within a trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureCount {
    /// Error group.
    pub fingerprint: String,
    /// Error class.
    pub error_class: Option<String>,
    /// The latest message of the group.
    pub example: String,
    /// Failures in the range.
    pub count: usize,
}

/// Trends and statistics of a scope over a date range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trends {
    /// What is covered.
    pub scope: TrendScope,
    /// Range start (inclusive), on `started_at`.
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// Runs started in the range.
    pub total_runs: i64,
    /// Of which completed.
    pub completed: i64,
    /// Of which failed.
    pub failed: i64,
    /// Failed runs as a percentage of the finished ones (completed, failed, cancelled, lost).
    pub failure_percent: Option<f64>,
    /// Runs per day over the range.
    pub runs_per_day: f64,
    /// Durations of the completed runs of the range: count, mean, minimum,
    /// maximum and standard deviation over all of them; median and p90 over
    /// the sample when `sampled`.
    pub duration: DurationStats,
    /// Counts per UTC day (exact, all runs of the range).
    pub per_day: Vec<DayStats>,
    /// The runs, newest first, for charts of duration and resource use (the sample).
    pub runs: Vec<TrendRun>,
    /// The most common failures of the sample, most frequent first (at most 10).
    pub common_failures: Vec<FailureCount>,
    /// Whether the range held more runs than `trend_sample_limit`: then `runs`,
    /// `common_failures` and the median and p90 of `duration` cover the latest
    /// ones only.
    pub sampled: bool,
}

/// A resolution of an error group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// The group.
    pub fingerprint: String,
    /// When it was marked resolved.
    pub resolved_at: DateTime<Utc>,
    /// By whom.
    pub resolved_by: String,
    /// Why or how.
    pub note: String,
}

/// Failures grouped by fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    /// The group's fingerprint.
    pub fingerprint: String,
    /// Error class (of the latest failure).
    pub error_class: Option<String>,
    /// The message with its variable parts masked.
    pub normalized_message: String,
    /// Failures in the window.
    pub count: usize,
    /// First failure in the window (when the run ended).
    pub first_seen: DateTime<Utc>,
    /// Latest failure.
    pub last_seen: DateTime<Utc>,
    /// Scripts affected, sorted.
    pub scripts: Vec<String>,
    /// The latest failed run.
    pub latest_run_id: RunId,
    /// Its full message.
    pub latest_message: String,
    /// The latest resolution, if any.
    pub resolution: Option<Resolution>,
    /// Unresolved, or failed again after its resolution.
    pub open: bool,
}
