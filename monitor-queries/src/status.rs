//! Current status of every script, running runs with their task progress, and
//! recent failures.

use chrono::{DateTime, Utc};
use tracker_core::{RunId, RunStatus, StatusUpdate};

use crate::Monitor;
use crate::error::{Result, invalid};
use crate::model::{ProgressMessage, RunState, RunSummary, RunningRun, ScriptStatus};
use crate::rows::{SUMMARY_COLUMNS, eta_of, state_of, summaries, summary_from_row};

impl Monitor {
    /// The latest run of every known script, ordered by category then name,
    /// with its display state, typical duration and ETA. One join over the
    /// `scripts` table plus one timing query.
    pub async fn current_status(&self) -> Result<Vec<ScriptStatus>> {
        self.cached("current_status", "", async {
            let columns =
                SUMMARY_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {columns}, s.run_count AS script_run_count FROM scripts s \
                 JOIN runs r ON r.run_id = s.latest_run_id ORDER BY s.category, s.script_name"
            );
            let rows = self.store.query(&sql, Vec::new()).await?;
            let names: Vec<String> =
                rows.iter().filter_map(|r| r.text("script_name").ok().flatten()).collect();
            let timings = self.script_timings(&names).await?;
            let now = self.now();
            let mut scripts = rows
                .iter()
                .map(|row| {
                    let mut latest = summary_from_row(row)?;
                    let timing = timings.get(&latest.script_name);
                    if latest.status == RunStatus::Running {
                        latest.elapsed_ms = Some((now - latest.started_at).num_milliseconds().max(0));
                    }
                    latest.state = state_of(&latest, now, timing, &self.config);
                    let eta = eta_of(&latest, timing, now);
                    Ok(ScriptStatus {
                        script_name: latest.script_name.clone(),
                        category: latest.category.clone(),
                        run_count: row.int("script_run_count")?.unwrap_or(0),
                        state: latest.state,
                        typical_duration_ms: timing.and_then(|t| t.typical_ms),
                        eta,
                        latest: Some(latest),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            self.add_never_run(&mut scripts);
            Ok(scripts)
        })
        .await
    }

    /// Adds the expected scripts that have no run, each at its place in the
    /// (category, name) order; the scripts read from the store keep the
    /// store's order.
    fn add_never_run(&self, scripts: &mut Vec<ScriptStatus>) {
        let rules = tracker_core::CategoryRules::default();
        for name in &self.config.expected_scripts {
            if scripts.iter().any(|s| &s.script_name == name) {
                continue;
            }
            let category = rules.detect(name).to_owned();
            let at = scripts
                .iter()
                .position(|s| {
                    (s.category.as_str(), s.script_name.as_str()) > (category.as_str(), name.as_str())
                })
                .unwrap_or(scripts.len());
            scripts.insert(
                at,
                ScriptStatus {
                    script_name: name.clone(),
                    category,
                    run_count: 0,
                    state: RunState::NeverRun,
                    latest: None,
                    typical_duration_ms: None,
                    eta: None,
                },
            );
        }
    }

    /// Every running run (including those that look stalled or lost), oldest
    /// first, with its tasks and latest progress messages.
    pub async fn running(&self) -> Result<Vec<RunningRun>> {
        self.cached("running", "", async {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE status = 'running' ORDER BY started_at, run_id"
            );
            let mut runs = summaries(&self.store.query(&sql, Vec::new()).await?)?;
            let timings = self.refine(&mut runs).await?;
            let now = self.now();
            let mut out = Vec::with_capacity(runs.len());
            for run in runs {
                let tasks = self.store.tasks(run.run_id).await?;
                let recent_messages = self.messages(run.run_id, self.config.recent_messages).await?;
                let timing = timings.get(&run.script_name);
                out.push(RunningRun {
                    eta: eta_of(&run, timing, now),
                    typical_duration_ms: timing.and_then(|t| t.typical_ms),
                    run,
                    tasks,
                    recent_messages,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Failed runs started at or after `since`, newest first, at most `limit` (1..=1000).
    pub async fn recent_failures(&self, since: DateTime<Utc>, limit: usize) -> Result<Vec<RunSummary>> {
        if !(1..=1000).contains(&limit) {
            return Err(invalid("limit", format!("{limit} is out of range: use 1 to 1000")));
        }
        self.cached("recent_failures", &format!("{}|{limit}", since.timestamp_micros()), async {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE status = 'failed' AND started_at >= $1 \
                 ORDER BY started_at DESC, run_id DESC LIMIT $2"
            );
            summaries(&self.store.query(&sql, vec![since.into(), (limit as i64).into()]).await?)
        })
        .await
    }

    /// The latest `limit` progress messages of a run, newest first.
    pub(crate) async fn messages(&self, run_id: RunId, limit: usize) -> Result<Vec<ProgressMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Pure progress ticks (no message) share the kind; read a few times the
        // limit so that messages among them are still found.
        let rows = self
            .store
            .query(
                "SELECT at, stream, payload FROM events WHERE run_id = $1 AND kind = 'status_update' \
                 ORDER BY at DESC, stream DESC, seq DESC LIMIT $2",
                vec![run_id.as_uuid().into(), (limit.saturating_mul(5) as i64).into()],
            )
            .await?;
        let mut out = Vec::new();
        for row in &rows {
            let Some(payload) = row.json("payload")? else { continue };
            let Ok(update) = serde_json::from_value::<StatusUpdate>(payload) else { continue };
            let Some(message) = update.message else { continue };
            out.push(ProgressMessage {
                at: tracker_db::Row::required("at", row.time("at")?)?,
                stream: row.int("stream")?.unwrap_or(0),
                message,
                progress_done: update.progress_done,
                progress_total: update.progress_total,
            });
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }
}
