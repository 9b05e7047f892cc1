//! Liveness: lost and stalled runs, and closing lost runs in the store.
//!
//! * **Lost**: stored `running`, and the latest heartbeat is older than
//!   `lost_after` (`now - heartbeat_at > lost_after`).
//! * **Stalled**: stored `running`, heartbeat fresh (not lost), and no progress
//!   for longer than `max(stall_factor x p90, stall_floor)`, where p90 is the
//!   90th percentile duration of the script's latest `timing_sample` completed
//!   runs; with fewer than `min_history` such runs, longer than
//!   `stall_without_history`.

use chrono::Duration;
use tracker_core::{Event, RunId};

use crate::Monitor;
use crate::error::Result;
use crate::model::{RunState, RunSummary};
use crate::rows::{SUMMARY_COLUMNS, summaries};

impl Monitor {
    /// Running runs whose heartbeat is older than `lost_after`, oldest heartbeat first.
    pub async fn lost_runs(&self) -> Result<Vec<RunSummary>> {
        self.cached("lost_runs", "", async {
            let cutoff = self.now() - self.config.lost_after;
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE status = 'running' AND heartbeat_at < $1 \
                 ORDER BY heartbeat_at, run_id"
            );
            let mut runs = summaries(&self.store.query(&sql, vec![cutoff.into()]).await?)?;
            self.refine(&mut runs).await?;
            Ok(runs)
        })
        .await
    }

    /// Running runs that are alive but stalled, longest without progress first.
    pub async fn stalled_runs(&self) -> Result<Vec<RunSummary>> {
        self.cached("stalled_runs", "", async {
            let cutoff = self.now() - self.config.lost_after;
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE status = 'running' AND heartbeat_at >= $1 \
                 ORDER BY last_progress_at, run_id"
            );
            let mut runs = summaries(&self.store.query(&sql, vec![cutoff.into()]).await?)?;
            self.refine(&mut runs).await?;
            runs.retain(|run| run.state == RunState::Stalled);
            Ok(runs)
        })
        .await
    }

    /// Closes every lost run in the store: appends a `run_finished` event with
    /// status `lost` on the monitor stream (-1), so the run shows as lost to
    /// every reader and its open tasks end as failed. A run that reports again
    /// later goes back to `running` (see docs/schema.md). Returns the runs closed.
    ///
    /// The event's `seq` is the current time in Unix milliseconds: the monitor
    /// stream of a run is written by whichever monitor runs, possibly several
    /// times (a revived run can be lost again), and time-derived numbers keep
    /// increasing without coordination.
    pub async fn mark_lost(&self) -> Result<Vec<RunId>> {
        self.invalidate();
        let lost = self.lost_runs().await?;
        if lost.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let seq = u64::try_from(now.timestamp_millis()).unwrap_or(1).max(1);
        let events: Vec<Event> = lost
            .iter()
            // Never before the run's last sign of life, even if clocks disagree.
            .map(|run| {
                Event::marked_lost(run.run_id, seq, now.max(run.heartbeat_at + Duration::milliseconds(1)))
            })
            .collect();
        let outcome = self.store.append(events).await?;
        self.invalidate();
        let refused: std::collections::HashSet<RunId> = outcome.conflicts.iter().map(|c| c.run_id).collect();
        Ok(lost.into_iter().map(|run| run.run_id).filter(|id| !refused.contains(id)).collect())
    }
}
