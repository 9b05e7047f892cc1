//! Shared pieces of the queries: the run-summary columns and their reading,
//! the display-state rules (stalled / lost), script timings and the ETA.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use tracker_core::{RunId, RunStatus};
use tracker_db::Row;

use crate::Monitor;
use crate::config::MonitorConfig;
use crate::error::Result;
use crate::fingerprint::fingerprint;
use crate::model::{RunState, RunSummary, ScriptTiming};
use crate::stats::{median, percentile_sorted};

/// The `runs` columns a [`RunSummary`] needs (no env, traceback or metadata).
pub(crate) const SUMMARY_COLUMNS: &str = "run_id, script_name, category, status, started_at, finished_at, \
     duration_ms, total_tasks, tasks_done, progress_percent, current_task, message, error_class, \
     error_message, exit_code, host, heartbeat_at, last_progress_at";

fn corrupt(column: &str, detail: impl std::fmt::Display) -> tracker_db::DbError {
    tracker_db::DbError::Corrupt(format!("runs.{column}: {detail}"))
}

/// Reads a summary; `state` and `elapsed_ms` are filled by [`Monitor::refine`].
pub(crate) fn summary_from_row(row: &Row) -> Result<RunSummary> {
    let status: RunStatus =
        Row::required("status", row.text("status")?)?.parse().map_err(|err| corrupt("status", err))?;
    let error_message = row.text("error_message")?;
    let error_class = row.text("error_class")?;
    let error_fingerprint = (status == RunStatus::Failed).then(|| {
        failure_fingerprint(
            error_class.as_deref(),
            error_message.as_deref(),
            row.int("exit_code").ok().flatten(),
        )
    });
    let started_at = Row::required("started_at", row.time("started_at")?)?;
    Ok(RunSummary {
        run_id: RunId(Row::required("run_id", row.uuid("run_id")?)?),
        script_name: Row::required("script_name", row.text("script_name")?)?,
        category: Row::required("category", row.text("category")?)?,
        status,
        state: RunState::of_final(status),
        started_at,
        finished_at: row.time("finished_at")?,
        duration_ms: row.int("duration_ms")?,
        elapsed_ms: row.int("duration_ms")?,
        tasks_done: row.int("tasks_done")?.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
        total_tasks: row.int("total_tasks")?.map(|t| t.clamp(0, i64::from(u32::MAX)) as u32),
        progress_percent: row.real("progress_percent")?,
        current_task: row.text("current_task")?,
        message: row.text("message")?,
        error_class,
        error_message,
        error_fingerprint,
        exit_code: row.int("exit_code")?.map(|c| c as i32),
        host: row.text("host")?,
        heartbeat_at: row.time("heartbeat_at")?.unwrap_or(started_at),
        last_progress_at: row.time("last_progress_at")?.unwrap_or(started_at),
    })
}

/// The message that stands for a failure: its error message, or the exit code
/// when the script reported none.
pub(crate) fn failure_message(message: Option<&str>, exit_code: Option<i64>) -> String {
    match (message, exit_code) {
        (Some(message), _) if !message.trim().is_empty() => message.to_owned(),
        (_, Some(code)) => format!("failed without an error message (exit code {code})"),
        _ => "failed without an error message".to_owned(),
    }
}

pub(crate) fn failure_fingerprint(
    class: Option<&str>,
    message: Option<&str>,
    exit_code: Option<i64>,
) -> String {
    fingerprint(class, &failure_message(message, exit_code))
}

/// How long a running run may go without progress before it is stalled.
pub(crate) fn stall_threshold(timing: Option<&ScriptTiming>, config: &MonitorConfig) -> Duration {
    match timing.filter(|t| t.sample >= config.min_history).and_then(|t| t.p90_ms) {
        Some(p90) => {
            Duration::milliseconds((config.stall_factor * p90).round() as i64).max(config.stall_floor)
        }
        None => config.stall_without_history,
    }
}

/// The display state of a run at `now` (see docs/queries.md, "Stalled and lost").
pub(crate) fn state_of(
    summary: &RunSummary,
    now: DateTime<Utc>,
    timing: Option<&ScriptTiming>,
    config: &MonitorConfig,
) -> RunState {
    if summary.status != RunStatus::Running {
        return RunState::of_final(summary.status);
    }
    if now - summary.heartbeat_at > config.lost_after {
        RunState::Lost
    } else if now - summary.last_progress_at > stall_threshold(timing, config) {
        RunState::Stalled
    } else {
        RunState::Running
    }
}

/// Expected end of a running run: `now + (1 - progress) x typical` when the
/// run reports progress, else `started_at + typical` while that is still ahead.
pub(crate) fn eta_of(
    summary: &RunSummary,
    timing: Option<&ScriptTiming>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if summary.state != RunState::Running {
        return None;
    }
    let typical = timing?.typical_ms?;
    match summary.progress_percent {
        Some(percent) if percent > 0.0 => {
            let remaining = (1.0 - (percent / 100.0).clamp(0.0, 1.0)) * typical;
            Some(now + Duration::milliseconds(remaining.round() as i64))
        }
        _ => {
            let end = summary.started_at + Duration::milliseconds(typical.round() as i64);
            (end > now).then_some(end)
        }
    }
}

impl Monitor {
    /// Typical duration and p90 of each script's latest completed runs. One
    /// query (a UNION ALL of one index range per script), cached.
    pub(crate) async fn script_timings(&self, scripts: &[String]) -> Result<HashMap<String, ScriptTiming>> {
        let names: BTreeSet<&String> = scripts.iter().collect();
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let key = names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\u{1e}");
        let names: Vec<String> = names.into_iter().cloned().collect();
        self.cached("script_timings", &key, async {
            let mut durations: HashMap<String, Vec<i64>> = HashMap::new();
            let limit = self.config.timing_sample.max(1);
            // Bounded statements: at most 50 scripts each, so the text stays small and cacheable.
            for chunk in names.chunks(50) {
                let sql = (1..=chunk.len())
                    .map(|i| {
                        format!(
                            "SELECT script_name, duration_ms FROM (SELECT script_name, duration_ms FROM runs \
                             WHERE script_name = ${i} AND status = 'completed' \
                             ORDER BY started_at DESC LIMIT {limit}) AS t{i}"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                let params = chunk.iter().map(|name| name.clone().into()).collect();
                for row in self.store.query(&sql, params).await? {
                    if let (Some(name), Some(ms)) = (row.text("script_name")?, row.int("duration_ms")?) {
                        durations.entry(name).or_default().push(ms);
                    }
                }
            }
            Ok(durations
                .into_iter()
                .map(|(name, mut values)| {
                    values.sort_unstable();
                    let timing = ScriptTiming {
                        sample: values.len(),
                        typical_ms: median(&values),
                        p90_ms: percentile_sorted(&values, 0.9),
                    };
                    (name, timing)
                })
                .collect())
        })
        .await
    }

    /// Fills the display state and elapsed time of summaries read from the store.
    pub(crate) async fn refine(&self, summaries: &mut [RunSummary]) -> Result<HashMap<String, ScriptTiming>> {
        let now = self.now();
        let running: Vec<String> = summaries
            .iter()
            .filter(|s| s.status == RunStatus::Running)
            .map(|s| s.script_name.clone())
            .collect();
        let timings = self.script_timings(&running).await?;
        for summary in summaries.iter_mut() {
            if summary.status == RunStatus::Running {
                summary.elapsed_ms = Some((now - summary.started_at).num_milliseconds().max(0));
                summary.state = state_of(summary, now, timings.get(&summary.script_name), &self.config);
            }
        }
        Ok(timings)
    }
}

pub(crate) fn summaries(rows: &[Row]) -> Result<Vec<RunSummary>> {
    rows.iter().map(summary_from_row).collect()
}
