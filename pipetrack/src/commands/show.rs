//! `pipetrack show <run-id>`: one run in full.

use std::fmt::Write as _;
use std::process::ExitCode;

use comfy_table::Cell;
use monitor_queries::RunDetail;
use tracker_db::StoreConfig;

use crate::commands::history::one_line;
use crate::commands::status::{monitor, progress};
use crate::output::{duration, print, print_json, table, timestamp};

pub(crate) async fn run(
    config: &StoreConfig,
    run_id: &str,
    json: bool,
    color: bool,
) -> anyhow::Result<ExitCode> {
    let monitor = monitor(config).await?;
    let id = monitor.find_run(run_id).await?;
    let detail = monitor.run_detail(id).await?;
    if json {
        print_json(&detail)?;
    } else {
        print(&render(&detail, color));
    }
    Ok(ExitCode::SUCCESS)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".to_owned(), |b| format!("{:.0} MiB", b as f64 / 1_048_576.0))
}

/// The run's summary lines, its error and traceback, then tables of tasks and messages.
pub(crate) fn render(detail: &RunDetail, color: bool) -> String {
    let run = &detail.run;
    let mut out = String::new();
    // Values of several lines stay in the value column.
    let field = |out: &mut String, name: &str, value: String| {
        let _ = writeln!(out, "{name:<10}{}", value.replace('\n', "\n          "));
    };
    field(&mut out, "run", run.run_id.map(|id| id.to_string()).unwrap_or_default());
    field(&mut out, "script", format!("{} ({})", run.script_name, run.category));
    let mut state = detail.state.as_str().to_owned();
    if let Some(code) = run.exit_code {
        let _ = write!(state, ", exit code {code}");
    }
    if let Some(signal) = run.signal {
        let _ = write!(state, ", signal {signal}");
    }
    field(&mut out, "state", state);
    field(
        &mut out,
        "time",
        format!(
            "{} -> {}, {} (usual {})",
            timestamp(run.started_at),
            timestamp(run.finished_at),
            duration(detail.elapsed_ms),
            duration(detail.typical_duration_ms.map(|ms| ms.round() as i64))
        ),
    );
    let tasks_total = run.total_tasks;
    field(
        &mut out,
        "progress",
        format!(
            "{} tasks, current: {}",
            progress(run.tasks_done, tasks_total, run.progress_percent()),
            run.current_task.as_deref().unwrap_or("-")
        ),
    );
    if let Some(eta) = detail.eta {
        field(&mut out, "eta", timestamp(Some(eta)));
    }
    let host = [run.host.clone(), run.pid.map(|p| format!("pid {p}")), run.os_user.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    field(&mut out, "host", if host.is_empty() { "-".to_owned() } else { host });
    if let Some(language) = &run.language {
        field(&mut out, "language", format!("{language} {}", run.language_version.as_deref().unwrap_or("")));
    }
    if let Some(commit) = &run.git_commit {
        let dirty = if run.git_dirty == Some(true) { ", dirty" } else { "" };
        field(&mut out, "git", format!("{commit} ({}{dirty})", run.git_branch.as_deref().unwrap_or("-")));
    }
    if let Some(log) = &run.log_path {
        field(&mut out, "log", log.clone());
    }
    field(
        &mut out,
        "resources",
        format!(
            "peak memory {}, CPU {}, {} samples",
            mib(run.peak_rss_bytes),
            run.cpu_seconds.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s")),
            detail.samples.len()
        ),
    );
    if let Some(message) = &run.error_message {
        let class = run.error_class.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default();
        field(&mut out, "error", format!("{class}{message}"));
        if let Some(fingerprint) = &detail.error_fingerprint {
            field(
                &mut out,
                "group",
                format!("{fingerprint} (pipetrack errors resolve {fingerprint} --note ...)"),
            );
        }
    }
    if let Some(traceback) = &run.error_traceback {
        out.push_str("\ntraceback:\n");
        for line in traceback.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !detail.tasks.is_empty() {
        let mut t = table(&["#", "TASK", "STATE", "STARTED", "TIME", "MESSAGE"], color);
        for task in &detail.tasks {
            let elapsed = task.finished_at.map(|end| (end - task.started_at).num_milliseconds());
            let indent = "  ".repeat(usize::from(task.depth));
            t.add_row(vec![
                Cell::new(task.task_number),
                Cell::new(format!("{indent}{}", task.name)),
                Cell::new(task.status.as_str()),
                Cell::new(task.started_at.format("%H:%M:%S").to_string()),
                Cell::new(duration(elapsed)),
                Cell::new(one_line(task.message.as_deref().unwrap_or(""), 40)),
            ]);
        }
        let _ = write!(out, "\ntasks:\n{t}\n");
    }
    if !detail.messages.is_empty() {
        out.push_str("\nmessages (latest last):\n");
        for message in detail.messages.iter().rev().take(10).rev() {
            let _ = writeln!(out, "  {}  {}", message.at.format("%H:%M:%S"), one_line(&message.message, 66));
        }
    }
    out.trim_end().to_owned()
}
