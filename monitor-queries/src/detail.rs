//! One run in full: metadata, tasks, progress messages, resource samples, error.

use tracker_core::{RunId, RunStatus};
use tracker_db::Row;

use crate::Monitor;
use crate::error::{QueryError, Result};
use crate::model::{ResourcePoint, RunDetail};
use crate::rows::{SUMMARY_COLUMNS, eta_of, failure_fingerprint, state_of, summary_from_row};

impl Monitor {
    /// The run whose id is `text` or starts with it (at least 8 hex digits, as
    /// `pipetrack history` shows them). One index range scan: run ids sort as text
    /// and as UUIDs alike.
    pub async fn find_run(&self, text: &str) -> Result<RunId> {
        let text = text.trim().to_ascii_lowercase();
        if let Ok(id) = text.parse::<RunId>() {
            return Ok(id);
        }
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        if hex.len() < 8 || hex.len() > 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(crate::error::invalid(
                "run id",
                format!("{text:?} is neither a run id nor the first 8 or more hex digits of one"),
            ));
        }
        let bound = |fill: char| {
            let full: String = hex.chars().chain(std::iter::repeat(fill)).take(32).collect();
            uuid::Uuid::parse_str(&full).map_err(|err| crate::error::invalid("run id", err.to_string()))
        };
        let rows = self
            .store
            .query(
                "SELECT run_id FROM runs WHERE run_id >= $1 AND run_id <= $2 ORDER BY run_id LIMIT 2",
                vec![bound('0')?.into(), bound('f')?.into()],
            )
            .await?;
        match rows.as_slice() {
            [one] => Ok(RunId(Row::required("run_id", one.uuid("run_id")?)?)),
            [] => Err(QueryError::RunNotFound { run_id: text }),
            _ => Err(QueryError::AmbiguousRunId { prefix: text }),
        }
    }

    /// Everything about one run. Fails with [`QueryError::RunNotFound`] for an unknown id.
    pub async fn run_detail(&self, run_id: RunId) -> Result<RunDetail> {
        self.cached("run_detail", &run_id.to_string(), async {
            let run = self
                .store
                .run(run_id)
                .await?
                .ok_or_else(|| QueryError::RunNotFound { run_id: run_id.to_string() })?;
            let sql = format!("SELECT {SUMMARY_COLUMNS} FROM runs WHERE run_id = $1");
            let rows = self.store.query(&sql, vec![run_id.as_uuid().into()]).await?;
            let mut summary = summary_from_row(
                rows.first().ok_or_else(|| QueryError::RunNotFound { run_id: run_id.to_string() })?,
            )?;
            let timings = self.script_timings(std::slice::from_ref(&summary.script_name)).await?;
            let timing = timings.get(&summary.script_name);
            let now = self.now();
            if summary.status == RunStatus::Running {
                summary.elapsed_ms = Some((now - summary.started_at).num_milliseconds().max(0));
            }
            let state = state_of(&summary, now, timing, &self.config);
            summary.state = state;
            let error_fingerprint = (run.status == Some(RunStatus::Failed)).then(|| {
                failure_fingerprint(
                    run.error_class.as_deref(),
                    run.error_message.as_deref(),
                    run.exit_code.map(i64::from),
                )
            });
            let tasks = self.store.tasks(run_id).await?;
            let mut messages = self.messages(run_id, self.config.detail_messages).await?;
            messages.reverse();
            let samples = self
                .store
                .query(
                    "SELECT at, stream, rss_bytes, peak_rss_bytes, cpu_seconds, read_bytes, write_bytes \
                     FROM resource_samples WHERE run_id = $1 ORDER BY at, stream, seq",
                    vec![run_id.as_uuid().into()],
                )
                .await?
                .iter()
                .map(|row| {
                    Ok(ResourcePoint {
                        at: Row::required("at", row.time("at")?)?,
                        stream: row.int("stream")?.unwrap_or(0),
                        rss_bytes: row.int("rss_bytes")?.unwrap_or(0),
                        peak_rss_bytes: row.int("peak_rss_bytes")?.unwrap_or(0),
                        cpu_seconds: row.real("cpu_seconds")?.unwrap_or(0.0),
                        read_bytes: row.int("read_bytes")?.unwrap_or(0),
                        write_bytes: row.int("write_bytes")?.unwrap_or(0),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RunDetail {
                eta: eta_of(&summary, timing, now),
                typical_duration_ms: timing.and_then(|t| t.typical_ms),
                elapsed_ms: summary.elapsed_ms,
                state,
                error_fingerprint,
                run,
                tasks,
                messages,
                samples,
            })
        })
        .await
    }
}
