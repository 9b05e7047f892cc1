//! View models: the read model's answers turned into the strings and numbers
//! the templates show, so templates hold no logic beyond loops and tests.

use chrono::{DateTime, Utc};
use monitor_queries::{
    ErrorGroup, ProgressMessage, ResourcePoint, RunDetail, RunState, RunSummary, RunningRun, ScriptStatus,
};
use tracker_core::{RunStatus, TaskRow, TaskStatus};

use crate::format;

/// A progress bar: `value` of `max`.
#[derive(Clone, Debug)]
pub(crate) struct Bar {
    pub(crate) value: u64,
    pub(crate) max: u64,
    pub(crate) percent: u32,
    pub(crate) label: String,
}

impl Bar {
    fn new(value: u64, max: u64, label: String) -> Option<Self> {
        (max > 0).then(|| Bar {
            value: value.min(max),
            max,
            percent: ((value.min(max) as f64 / max as f64) * 100.0).round() as u32,
            label,
        })
    }
}

/// The badge of a state: its CSS class and the text shown.
pub(crate) fn state_label(state: RunState) -> &'static str {
    state.as_str()
}

/// One task of a run.
#[derive(Clone, Debug)]
pub(crate) struct TaskLine {
    pub(crate) name: String,
    /// `done`, `current` or `failed` (also the CSS class).
    pub(crate) state: &'static str,
    pub(crate) indent: u16,
    pub(crate) started: String,
    pub(crate) started_iso: String,
    pub(crate) duration: String,
    pub(crate) message: String,
    pub(crate) sub: Option<Bar>,
}

fn task_lines(tasks: &[TaskRow], now: DateTime<Utc>, run_open: bool) -> Vec<TaskLine> {
    tasks
        .iter()
        .map(|task| {
            let state = match task.status {
                TaskStatus::Completed => "done",
                TaskStatus::Running if run_open => "current",
                TaskStatus::Running | TaskStatus::Failed => "failed",
            };
            let end = task.finished_at.unwrap_or(now);
            TaskLine {
                name: task.name.clone(),
                state,
                indent: task.depth,
                started: format::time_precise(task.started_at),
                started_iso: format::iso(task.started_at),
                duration: format::duration(Some((end - task.started_at).num_milliseconds())),
                message: task.message.clone().unwrap_or_default(),
                sub: match (task.progress_done, task.progress_total) {
                    (Some(done), Some(total)) if task.status == TaskStatus::Running => {
                        Bar::new(done, total, format!("{done} of {total}"))
                    }
                    _ => None,
                },
            }
        })
        .collect()
}

/// "Task 4 of 6" placeholders for the declared tasks not entered yet.
fn pending_tasks(tasks: &[TaskRow], total: Option<u32>) -> Vec<String> {
    let entered = tasks.iter().filter(|t| t.depth == 0).count() as u32;
    let Some(total) = total else { return Vec::new() };
    (entered + 1..=total).map(|n| format!("Task {n} of {total}")).collect()
}

/// A progress message.
#[derive(Clone, Debug)]
pub(crate) struct MessageLine {
    pub(crate) at: String,
    pub(crate) at_iso: String,
    pub(crate) text: String,
    pub(crate) progress: String,
}

fn message_lines(messages: &[ProgressMessage]) -> Vec<MessageLine> {
    messages
        .iter()
        .map(|m| MessageLine {
            at: format::time_precise(m.at),
            at_iso: format::iso(m.at),
            text: m.message.clone(),
            progress: match (m.progress_done, m.progress_total) {
                (Some(done), Some(total)) => format!("{done}/{total}"),
                (Some(done), None) => done.to_string(),
                _ => String::new(),
            },
        })
        .collect()
}

/// What an expanded running script shows.
#[derive(Clone, Debug)]
pub(crate) struct LiveRun {
    pub(crate) tasks: Vec<TaskLine>,
    pub(crate) pending: Vec<String>,
    pub(crate) messages: Vec<MessageLine>,
}

/// One script on the status page.
#[derive(Clone, Debug)]
pub(crate) struct ScriptRow {
    pub(crate) script: String,
    /// Empty for a script that never ran.
    pub(crate) run_id: String,
    /// The state name (also the CSS class).
    pub(crate) state: &'static str,
    /// The badge text.
    pub(crate) badge: &'static str,
    pub(crate) progress: Option<Bar>,
    pub(crate) sub: Option<Bar>,
    pub(crate) current_task: String,
    pub(crate) elapsed: String,
    pub(crate) typical: String,
    pub(crate) eta: String,
    pub(crate) last_run: String,
    pub(crate) last_run_iso: String,
    pub(crate) last_run_ago: String,
    pub(crate) detail: String,
    pub(crate) live: Option<LiveRun>,
}

impl ScriptRow {
    fn of_run(script: &ScriptStatus, run: &RunSummary, running: &[RunningRun], now: DateTime<Utc>) -> Self {
        let live_run = running.iter().find(|r| r.run.run_id == run.run_id);
        let open = run.status == RunStatus::Running;
        let current = live_run.and_then(|r| r.tasks.iter().rev().find(|t| t.status == TaskStatus::Running));
        ScriptRow {
            script: script.script_name.clone(),
            run_id: run.run_id.to_string(),
            state: state_label(run.state),
            badge: state_label(run.state),
            progress: run_progress(run),
            sub: current.and_then(|t| match (t.progress_done, t.progress_total) {
                (Some(done), Some(total)) => Bar::new(done, total, format!("{done} of {total}")),
                _ => None,
            }),
            current_task: if open { run.current_task.clone().unwrap_or_default() } else { String::new() },
            elapsed: format::duration(run.elapsed_ms),
            typical: format::duration_f(script.typical_duration_ms),
            eta: script.eta.map(format::time).unwrap_or_default(),
            last_run: format::time(run.started_at),
            last_run_iso: format::iso(run.started_at),
            last_run_ago: format::ago(run.started_at, now),
            detail: summary_detail(run),
            live: live_run.map(|r| LiveRun {
                tasks: task_lines(&r.tasks, now, true),
                pending: pending_tasks(&r.tasks, r.run.total_tasks),
                messages: message_lines(&r.recent_messages),
            }),
        }
    }

    /// An expected script without any run: no link, no times, a "never run" badge.
    fn never_run(script: &ScriptStatus) -> Self {
        ScriptRow {
            script: script.script_name.clone(),
            run_id: String::new(),
            state: state_label(RunState::NeverRun),
            badge: "never run",
            progress: None,
            sub: None,
            current_task: String::new(),
            elapsed: "-".to_owned(),
            typical: "-".to_owned(),
            eta: String::new(),
            last_run: String::new(),
            last_run_iso: String::new(),
            last_run_ago: String::new(),
            detail: String::new(),
            live: None,
        }
    }
}

/// Scripts of one category.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) scripts: Vec<ScriptRow>,
}

/// The summary strip.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct Summary {
    pub(crate) running: usize,
    pub(crate) stalled: usize,
    pub(crate) lost: usize,
    pub(crate) failed_today: i64,
    pub(crate) completed_today: i64,
}

/// A script whose latest run needs a look (running, stalled, lost or failed).
#[derive(Clone, Debug)]
pub(crate) struct Attention {
    pub(crate) script: String,
    pub(crate) state: &'static str,
}

/// The live part of the status page.
#[derive(Clone, Debug)]
pub(crate) struct Board {
    pub(crate) summary: Summary,
    pub(crate) attention: Vec<Attention>,
    pub(crate) groups: Vec<Group>,
}

impl Board {
    pub(crate) fn new(
        scripts: &[ScriptStatus],
        running: &[RunningRun],
        summary: Summary,
        now: DateTime<Utc>,
    ) -> Self {
        let mut groups: Vec<Group> = Vec::new();
        for script in scripts {
            let row = match &script.latest {
                Some(run) => ScriptRow::of_run(script, run, running, now),
                None => ScriptRow::never_run(script),
            };
            match groups.last_mut() {
                Some(group) if group.name == script.category => group.scripts.push(row),
                _ => groups.push(Group { name: script.category.clone(), scripts: vec![row] }),
            }
        }
        let mut attention: Vec<Attention> = scripts
            .iter()
            .filter(|s| {
                matches!(s.state, RunState::Running | RunState::Stalled | RunState::Lost | RunState::Failed)
            })
            .map(|s| Attention { script: s.script_name.clone(), state: state_label(s.state) })
            .collect();
        // Stalled and lost first, then failed, then running.
        attention.sort_by_key(|a| match a.state {
            "stalled" | "lost" => 0,
            "failed" => 1,
            _ => 2,
        });
        Board { summary, attention, groups }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

fn run_progress(run: &RunSummary) -> Option<Bar> {
    let total = run.total_tasks?;
    let done = if run.status == RunStatus::Completed { total } else { run.tasks_done };
    Bar::new(u64::from(done), u64::from(total), format!("{done} of {total} tasks"))
}

/// The message or error a row shows under the script name.
fn summary_detail(run: &RunSummary) -> String {
    match run.state {
        RunState::Failed => match (&run.error_class, &run.error_message) {
            (Some(class), Some(message)) => format!("{class}: {message}"),
            (None, Some(message)) => message.clone(),
            _ => run.exit_code.map(|c| format!("exit code {c}")).unwrap_or_default(),
        },
        _ => run.message.clone().unwrap_or_default(),
    }
}

/// One row of history.
#[derive(Clone, Debug)]
pub(crate) struct HistoryRow {
    pub(crate) run_id: String,
    pub(crate) script: String,
    pub(crate) category: String,
    pub(crate) state: &'static str,
    pub(crate) started: String,
    pub(crate) started_iso: String,
    pub(crate) finished: String,
    pub(crate) finished_iso: String,
    pub(crate) duration: String,
    pub(crate) error: String,
}

impl HistoryRow {
    pub(crate) fn new(run: &RunSummary) -> Self {
        HistoryRow {
            run_id: run.run_id.to_string(),
            script: run.script_name.clone(),
            category: run.category.clone(),
            state: state_label(run.state),
            started: format::time(run.started_at),
            started_iso: format::iso(run.started_at),
            finished: run.finished_at.map(format::time).unwrap_or_default(),
            finished_iso: run.finished_at.map(format::iso).unwrap_or_default(),
            duration: format::duration(run.duration_ms),
            error: match run.status {
                RunStatus::Failed => summary_detail(run),
                _ => String::new(),
            },
        }
    }
}

/// A resource sample.
#[derive(Clone, Debug)]
pub(crate) struct SampleLine {
    pub(crate) at: String,
    pub(crate) at_iso: String,
    pub(crate) rss: String,
    pub(crate) peak: String,
    pub(crate) cpu: String,
    pub(crate) io: String,
}

fn sample_lines(samples: &[ResourcePoint], most: usize) -> Vec<SampleLine> {
    samples
        .iter()
        .rev()
        .take(most)
        .map(|s| SampleLine {
            at: format::time_precise(s.at),
            at_iso: format::iso(s.at),
            rss: format::bytes(s.rss_bytes),
            peak: format::bytes(s.peak_rss_bytes),
            cpu: format!("{:.1} s", s.cpu_seconds),
            io: format!("{} read, {} written", format::bytes(s.read_bytes), format::bytes(s.write_bytes)),
        })
        .collect()
}

/// A failed run's error.
#[derive(Clone, Debug)]
pub(crate) struct ErrorView {
    pub(crate) class: String,
    pub(crate) message: String,
    pub(crate) traceback: String,
    pub(crate) fingerprint: String,
}

/// The tail of a run's log, or why it is not shown.
#[derive(Clone, Debug)]
pub(crate) enum LogView {
    /// The last bytes of the file.
    Text { text: String, truncated: bool },
    /// Why it cannot be shown.
    Unreadable(String),
}

/// A key/value line of a run's metadata.
#[derive(Clone, Debug)]
pub(crate) struct Fact {
    pub(crate) name: &'static str,
    pub(crate) value: String,
}

/// Everything the run page shows.
#[derive(Clone, Debug)]
pub(crate) struct RunView {
    pub(crate) run_id: String,
    pub(crate) script: String,
    pub(crate) category: String,
    pub(crate) state: &'static str,
    pub(crate) open: bool,
    pub(crate) progress: Option<Bar>,
    pub(crate) sub: Option<Bar>,
    pub(crate) current_task: String,
    pub(crate) facts: Vec<Fact>,
    pub(crate) tasks: Vec<TaskLine>,
    pub(crate) pending: Vec<String>,
    pub(crate) messages: Vec<MessageLine>,
    pub(crate) samples: Vec<SampleLine>,
    pub(crate) error: Option<ErrorView>,
    pub(crate) log_path: String,
    pub(crate) log: Option<LogView>,
}

impl RunView {
    pub(crate) fn new(detail: &RunDetail, log: Option<LogView>, now: DateTime<Utc>) -> Self {
        let run = &detail.run;
        let open = run.status == Some(RunStatus::Running);
        let mut facts = Vec::new();
        let mut fact = |name: &'static str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                facts.push(Fact { name, value });
            }
        };
        fact("Started", run.started_at.map(format::time_precise));
        fact("Finished", run.finished_at.map(format::time_precise));
        fact(if open { "Elapsed" } else { "Duration" }, Some(format::duration(detail.elapsed_ms)));
        fact("Typical duration", detail.typical_duration_ms.map(|ms| format::duration_f(Some(ms))));
        fact("Expected end", detail.eta.map(format::time));
        fact("Exit code", run.exit_code.map(|c| c.to_string()));
        fact("Signal", run.signal.map(|s| s.to_string()));
        fact("Host", run.host.clone());
        fact("Process id", run.pid.map(|p| p.to_string()));
        fact("User", run.os_user.clone());
        fact(
            "Language",
            run.language.clone().map(|l| format!("{l} {}", run.language_version.clone().unwrap_or_default())),
        );
        fact("Command", run.command.clone());
        fact("Working directory", run.working_dir.clone());
        fact("Script path", run.script_path.clone());
        fact(
            "Git",
            run.git_commit.clone().map(|c| {
                let branch = run.git_branch.clone().map(|b| format!(" on {b}")).unwrap_or_default();
                let dirty = if run.git_dirty == Some(true) { " (uncommitted changes)" } else { "" };
                format!("{c}{branch}{dirty}")
            }),
        );
        fact("Peak memory", run.peak_rss_bytes.map(|b| format::bytes(b as i64)));
        fact("CPU time", run.cpu_seconds.map(|s| format!("{s:.1} s")));
        let current = detail.tasks.iter().rev().find(|t| t.status == TaskStatus::Running);
        let mut messages = message_lines(&detail.messages);
        messages.reverse();
        RunView {
            run_id: run.run_id.map(|id| id.to_string()).unwrap_or_default(),
            script: run.script_name.clone(),
            category: run.category.clone(),
            state: state_label(detail.state),
            open,
            progress: run.total_tasks.and_then(|total| {
                let done = if run.status == Some(RunStatus::Completed) { total } else { run.tasks_done };
                Bar::new(u64::from(done), u64::from(total), format!("{done} of {total} tasks"))
            }),
            sub: if open {
                current.and_then(|t| match (t.progress_done, t.progress_total) {
                    (Some(done), Some(total)) => Bar::new(done, total, format!("{done} of {total}")),
                    _ => None,
                })
            } else {
                None
            },
            current_task: if open { run.current_task.clone().unwrap_or_default() } else { String::new() },
            facts,
            tasks: task_lines(&detail.tasks, now, open),
            pending: if open { pending_tasks(&detail.tasks, run.total_tasks) } else { Vec::new() },
            messages,
            samples: sample_lines(&detail.samples, 20),
            error: (run.error_message.is_some() || run.status == Some(RunStatus::Failed)).then(|| {
                ErrorView {
                    class: run.error_class.clone().unwrap_or_default(),
                    message: run.error_message.clone().unwrap_or_else(|| {
                        run.exit_code.map(|c| format!("exit code {c}")).unwrap_or_default()
                    }),
                    traceback: run.error_traceback.clone().unwrap_or_default(),
                    fingerprint: detail.error_fingerprint.clone().unwrap_or_default(),
                }
            }),
            log_path: run.log_path.clone().unwrap_or_default(),
            log,
        }
    }
}

/// One error group.
#[derive(Clone, Debug)]
pub(crate) struct GroupRow {
    pub(crate) fingerprint: String,
    pub(crate) class: String,
    pub(crate) normalized: String,
    pub(crate) latest_message: String,
    pub(crate) count: usize,
    pub(crate) scripts: Vec<String>,
    pub(crate) first_seen: String,
    pub(crate) first_seen_iso: String,
    pub(crate) last_seen: String,
    pub(crate) last_seen_iso: String,
    pub(crate) latest_run_id: String,
    pub(crate) open: bool,
    pub(crate) resolution: String,
    /// What the latest run adds: the failing task, the traceback's start, its log.
    pub(crate) context: Option<GroupContext>,
}

/// Lines of the latest traceback an error group shows.
pub(crate) const TRACEBACK_HEAD_LINES: usize = 8;

/// The context of an error group, from its latest run's detail.
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupContext {
    /// The task that was running when the run failed (innermost), or empty.
    pub(crate) task: String,
    /// The first lines of the traceback, or empty.
    pub(crate) traceback_head: String,
    /// Whether the traceback has more lines than shown.
    pub(crate) traceback_cut: bool,
    /// Whether the run recorded a log file.
    pub(crate) has_log: bool,
}

impl GroupContext {
    pub(crate) fn new(detail: &RunDetail) -> Self {
        let task = detail
            .tasks
            .iter()
            .rev()
            .find(|t| t.status != TaskStatus::Completed)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let traceback = detail.run.error_traceback.as_deref().unwrap_or("").trim_end();
        let lines: Vec<&str> = traceback.lines().collect();
        GroupContext {
            task,
            traceback_head: lines.iter().take(TRACEBACK_HEAD_LINES).copied().collect::<Vec<_>>().join("\n"),
            traceback_cut: lines.len() > TRACEBACK_HEAD_LINES,
            has_log: detail.run.log_path.as_deref().is_some_and(|p| !p.is_empty()),
        }
    }
}

impl GroupRow {
    pub(crate) fn new(group: &ErrorGroup) -> Self {
        GroupRow {
            fingerprint: group.fingerprint.clone(),
            class: group.error_class.clone().unwrap_or_default(),
            normalized: group.normalized_message.clone(),
            latest_message: group.latest_message.clone(),
            count: group.count,
            scripts: group.scripts.clone(),
            first_seen: format::time(group.first_seen),
            first_seen_iso: format::iso(group.first_seen),
            last_seen: format::time(group.last_seen),
            last_seen_iso: format::iso(group.last_seen),
            latest_run_id: group.latest_run_id.to_string(),
            open: group.open,
            resolution: group
                .resolution
                .as_ref()
                .map(|r| {
                    let reopened = if group.open { " — failed again since" } else { "" };
                    format!(
                        "resolved {} by {}: {}{reopened}",
                        format::time(r.resolved_at),
                        r.resolved_by,
                        r.note
                    )
                })
                .unwrap_or_default(),
            context: None,
        }
    }
}
