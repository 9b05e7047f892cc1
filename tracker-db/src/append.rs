//! The append algorithm both backends share: validate a batch, then per run decide
//! how the newly stored events change the projections. Backends only run the SQL.

use std::collections::BTreeMap;

use serde::Serialize;
use tracker_core::projection::rebuild;
use tracker_core::session::validate_event;
use tracker_core::{
    CoreError, Event, EventKind, RunId, RunRow, RunStatus, StreamId, TaskChange, TaskKey, TaskRow,
};

use crate::error::{DbError, Result};

/// What an append did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AppendOutcome {
    /// Events newly stored.
    pub inserted: usize,
    /// Events already stored (a replay): ignored.
    pub duplicates: usize,
    /// Events stored for runs whose start has not arrived yet; they are folded in
    /// when it does.
    pub pending: usize,
    /// Events stored in history but refused by the run's lifecycle (a task after
    /// the run finished ...), with the reason.
    pub conflicts: Vec<Conflict>,
}

/// An event the projection refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// Run.
    pub run_id: RunId,
    /// Stream.
    pub stream: StreamId,
    /// Sequence.
    pub seq: u64,
    /// Why it was refused.
    pub reason: String,
}

/// Checks every event and the batch's ordering before anything is written.
pub(crate) fn validate_batch(events: &[Event]) -> Result<BTreeMap<RunId, Vec<&Event>>> {
    let mut last: BTreeMap<(RunId, StreamId), u64> = BTreeMap::new();
    let mut groups: BTreeMap<RunId, Vec<&Event>> = BTreeMap::new();
    for event in events {
        validate_event(event).map_err(|source| DbError::InvalidEvent {
            run_id: event.run_id.to_string(),
            stream: event.stream.get(),
            seq: event.seq,
            source,
        })?;
        if let Some(previous) = last.insert((event.run_id, event.stream), event.seq)
            && previous >= event.seq
        {
            return Err(DbError::BatchOrder {
                detail: CoreError::OutOfOrder { stream: event.stream.get(), last: previous, got: event.seq }
                    .to_string(),
            });
        }
        groups.entry(event.run_id).or_default().push(event);
    }
    Ok(groups)
}

/// How a run's task rows must change.
#[derive(Debug, Default)]
pub(crate) struct TaskWrites {
    /// Delete every task of the run first (a rebuild).
    pub replace: bool,
    /// Rows to insert.
    pub inserts: Vec<TaskRow>,
    /// Changes to rows stored by earlier batches, in order.
    pub updates: Vec<TaskChange>,
}

/// What to write for one run.
#[derive(Debug)]
pub(crate) struct RunWrite {
    pub row: RunRow,
    /// The run row did not exist before: count a new run for the script.
    pub new_run: bool,
    /// The run was first stored under another script name (a joined process's
    /// start arrived before the main one): that script no longer counts it.
    pub renamed_from: Option<String>,
    /// What the run counted in the `run_days` rollup before this write.
    pub counted: Option<DayCount>,
    pub tasks: TaskWrites,
}

/// One run's share of the `run_days` rollup: per UTC day of its start, script
/// and category, how many runs, by final status, and the completed ones' time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DayCount {
    pub category: String,
    pub day: String,
    pub script_name: String,
    pub runs: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub lost: i64,
    pub completed_ms: i64,
    pub completed_n: i64,
    /// Square of the completed duration (a sum of squares in the rollup).
    pub completed_ms_sq: f64,
    /// The completed duration itself: a candidate for the day's extremes.
    pub completed_duration: Option<i64>,
}

impl DayCount {
    pub(crate) fn of(row: &RunRow) -> Option<DayCount> {
        let started = row.started_at?;
        let is = |status: RunStatus| i64::from(row.status == Some(status));
        let completed_ms = if row.status == Some(RunStatus::Completed) { row.duration_ms() } else { None };
        Some(DayCount {
            category: row.category.clone(),
            day: started.format("%Y-%m-%d").to_string(),
            script_name: row.script_name.clone(),
            runs: 1,
            completed: is(RunStatus::Completed),
            failed: is(RunStatus::Failed),
            cancelled: is(RunStatus::Cancelled),
            lost: is(RunStatus::Lost),
            completed_ms: completed_ms.unwrap_or(0),
            completed_n: i64::from(completed_ms.is_some()),
            completed_ms_sq: completed_ms.map_or(0.0, |ms| (ms as f64) * (ms as f64)),
            completed_duration: completed_ms,
        })
    }

    fn same_key(&self, other: &DayCount) -> bool {
        (&self.category, &self.day, &self.script_name) == (&other.category, &other.day, &other.script_name)
    }

    /// The key as statement parameters.
    fn key(&self) -> Vec<crate::value::Value> {
        vec![self.category.clone().into(), self.day.clone().into(), self.script_name.clone().into()]
    }

    /// Parameters of [`sql::ADD_RUN_DAY`]: the key, the counters each times
    /// `sign`, then the completed duration as a candidate for the day's
    /// extremes (only when adding: a removal cannot shrink them, see
    /// [`sql::RECOMPUTE_DAY_EXTREMES`]).
    fn values(&self, sign: i64) -> Vec<crate::value::Value> {
        let mut values = self.key();
        for n in [
            self.runs,
            self.completed,
            self.failed,
            self.cancelled,
            self.lost,
            self.completed_ms,
            self.completed_n,
        ] {
            values.push((n * sign).into());
        }
        values.push((self.completed_ms_sq * sign as f64).into());
        let candidate = self.completed_duration.filter(|_| sign > 0);
        values.push(candidate.into());
        values.push(candidate.into());
        values
    }

    /// Parameters of [`sql::RECOMPUTE_DAY_EXTREMES`] for this key.
    fn recompute_values(&self) -> Vec<crate::value::Value> {
        let mut values = self.key();
        let start = chrono::NaiveDate::parse_from_str(&self.day, "%Y-%m-%d")
            .expect("a day key is formatted by DayCount::of")
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        values.push(start.into());
        values.push((start + chrono::Duration::days(1)).into());
        values
    }

    /// `self - before` for the same key.
    fn minus(&self, before: &DayCount) -> DayCount {
        DayCount {
            runs: self.runs - before.runs,
            completed: self.completed - before.completed,
            failed: self.failed - before.failed,
            cancelled: self.cancelled - before.cancelled,
            lost: self.lost - before.lost,
            completed_ms: self.completed_ms - before.completed_ms,
            completed_n: self.completed_n - before.completed_n,
            completed_ms_sq: self.completed_ms_sq - before.completed_ms_sq,
            ..self.clone()
        }
    }
}

/// Whether the run must be rebuilt from all its events rather than updated with
/// the new ones: its start arrived after other events; the main process's start
/// arrived after a joined process's (the row holds the joiner's metadata); or
/// events arrived that predate its end (a spool replayed after the run was
/// marked lost).
pub(crate) fn needs_rebuild(existing: Option<&RunRow>, inserted: &[&Event], stored_before: bool) -> bool {
    match existing {
        None => stored_before && inserted.iter().any(|e| matches!(e.kind, EventKind::RunStarted(_))),
        Some(row) => {
            // Only new events are here: a main start among them was not stored before.
            inserted.iter().any(|e| matches!(e.kind, EventKind::RunStarted(_)) && e.stream == StreamId::MAIN)
                || row.finished_at.is_some_and(|end| {
                    inserted.iter().any(|e| e.at < end && !matches!(e.kind, EventKind::ResourceSample(_)))
                })
        }
    }
}

/// Folds newly stored events into the existing row. `None` when the run has not
/// started (no row and no start among the events).
pub(crate) fn plan_incremental(
    existing: Option<RunRow>,
    inserted: &[&Event],
    outcome: &mut AppendOutcome,
) -> Option<RunWrite> {
    let new_run = existing.is_none();
    let counted = existing.as_ref().and_then(DayCount::of);
    if new_run && !inserted.iter().any(|e| matches!(e.kind, EventKind::RunStarted(_))) {
        outcome.pending += inserted.len();
        return None;
    }
    let mut row = existing.unwrap_or_default();
    let mut new_tasks: BTreeMap<TaskKey, TaskRow> = BTreeMap::new();
    let mut order: Vec<TaskKey> = Vec::new();
    let mut updates = Vec::new();
    for event in inserted {
        match row.apply(event) {
            Ok(changes) => {
                for change in changes {
                    let key = match &change {
                        TaskChange::Entered(task) => Some((task.stream, task.task_number)),
                        TaskChange::Exited { key, .. } | TaskChange::Updated { key, .. } => Some(*key),
                        TaskChange::CloseOpen { .. } => None,
                    };
                    match key {
                        Some(key) if matches!(change, TaskChange::Entered(_)) => {
                            if !new_tasks.contains_key(&key) {
                                order.push(key);
                            }
                            change.apply_to(&mut new_tasks);
                        }
                        Some(key) if new_tasks.contains_key(&key) => change.apply_to(&mut new_tasks),
                        Some(_) => updates.push(change),
                        None => {
                            change.apply_to(&mut new_tasks);
                            updates.push(change);
                        }
                    }
                }
            }
            Err(err) => outcome.conflicts.push(Conflict {
                run_id: event.run_id,
                stream: event.stream,
                seq: event.seq,
                reason: err.to_string(),
            }),
        }
    }
    let inserts = order.into_iter().filter_map(|key| new_tasks.remove(&key)).collect();
    Some(RunWrite {
        row,
        new_run,
        renamed_from: None,
        counted,
        tasks: TaskWrites { replace: false, inserts, updates },
    })
}

/// Rebuilds a run from all its stored events; `existing` is its row before.
pub(crate) fn plan_rebuild(all: &[Event], existing: Option<&RunRow>) -> Option<RunWrite> {
    let (row, tasks) = rebuild(all)?;
    let renamed_from = existing.map(|old| &old.script_name).filter(|old| **old != row.script_name).cloned();
    Some(RunWrite {
        new_run: existing.is_none() || renamed_from.is_some(),
        row,
        renamed_from,
        counted: existing.and_then(DayCount::of),
        tasks: TaskWrites { replace: true, inserts: tasks.into_values().collect(), updates: Vec::new() },
    })
}

/// SQL shared by both backends (Postgres placeholders; SQLite rewrites them).
pub(crate) mod sql {
    pub(crate) const SELECT_RUN: &str = "SELECT * FROM runs WHERE run_id = $1";
    /// Whether any event of the run is stored (one index probe).
    pub(crate) const ANY_EVENTS: &str = "SELECT EXISTS (SELECT 1 FROM events WHERE run_id = $1) AS any";
    pub(crate) const SELECT_EVENTS: &str =
        "SELECT run_id, stream, seq, at, payload FROM events WHERE run_id = $1 ORDER BY at, stream, seq";
    pub(crate) const DELETE_TASKS: &str = "DELETE FROM tasks WHERE run_id = $1";
    pub(crate) const INSERT_TASK: &str = "INSERT INTO tasks (run_id, stream, task_number, depth, name, status, \
         started_at, finished_at, message, progress_done, progress_total) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
    pub(crate) const TASK_EXITED: &str = "UPDATE tasks SET status = $4, finished_at = $5 WHERE run_id = $1 AND stream = $2 AND task_number = $3";
    pub(crate) const TASK_MESSAGE: &str =
        "UPDATE tasks SET message = $4 WHERE run_id = $1 AND stream = $2 AND task_number = $3";
    pub(crate) const TASK_PROGRESS: &str = "UPDATE tasks SET progress_done = $4, progress_total = $5 \
         WHERE run_id = $1 AND stream = $2 AND task_number = $3";
    pub(crate) const CLOSE_OPEN_TASKS: &str =
        "UPDATE tasks SET status = $2, finished_at = $3 WHERE run_id = $1 AND status = 'running'";
    /// A run moved to another script: the old one stops counting it, is
    /// removed when it has no run left, and otherwise points at its latest
    /// remaining run (the moved row is already upserted under its new name).
    pub(crate) const UNCOUNT_SCRIPT: &str =
        "UPDATE scripts SET run_count = run_count - 1 WHERE script_name = $1";
    pub(crate) const DROP_EMPTY_SCRIPT: &str =
        "DELETE FROM scripts WHERE script_name = $1 AND run_count <= 0";
    pub(crate) const REPOINT_SCRIPT: &str = "UPDATE scripts SET \
         latest_run_id = (SELECT r.run_id FROM runs r WHERE r.script_name = $1 \
             ORDER BY r.started_at DESC LIMIT 1), \
         latest_started_at = (SELECT max(r.started_at) FROM runs r WHERE r.script_name = $1) \
         WHERE script_name = $1 AND latest_run_id = $2";
    /// Adds to (or, with negative counts, takes from) one row of the rollup.
    /// The extremes only grow here; a removal recomputes them afterwards.
    pub(crate) const ADD_RUN_DAY: &str = "INSERT INTO run_days (category, day, script_name, runs, completed, \
         failed, cancelled, lost, completed_ms, completed_n, completed_ms_sq, completed_min_ms, completed_max_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (category, day, script_name) DO UPDATE SET runs = run_days.runs + excluded.runs, \
         completed = run_days.completed + excluded.completed, failed = run_days.failed + excluded.failed, \
         cancelled = run_days.cancelled + excluded.cancelled, lost = run_days.lost + excluded.lost, \
         completed_ms = run_days.completed_ms + excluded.completed_ms, \
         completed_n = run_days.completed_n + excluded.completed_n, \
         completed_ms_sq = run_days.completed_ms_sq + excluded.completed_ms_sq, \
         completed_min_ms = CASE WHEN excluded.completed_min_ms IS NULL THEN run_days.completed_min_ms \
             WHEN run_days.completed_min_ms IS NULL OR excluded.completed_min_ms < run_days.completed_min_ms \
             THEN excluded.completed_min_ms ELSE run_days.completed_min_ms END, \
         completed_max_ms = CASE WHEN excluded.completed_max_ms IS NULL THEN run_days.completed_max_ms \
             WHEN run_days.completed_max_ms IS NULL OR excluded.completed_max_ms > run_days.completed_max_ms \
             THEN excluded.completed_max_ms ELSE run_days.completed_max_ms END";
    /// Recomputes one rollup row's extremes from the runs, after a completed
    /// duration left it (rare: a run moved to another script, or a rebuild
    /// changed a completed run's duration). Runs after the run row is written.
    pub(crate) const RECOMPUTE_DAY_EXTREMES: &str = "UPDATE run_days SET \
         completed_min_ms = (SELECT min(r.duration_ms) FROM runs r WHERE r.script_name = $3 AND r.category = $1 \
             AND r.status = 'completed' AND r.started_at >= $4 AND r.started_at < $5), \
         completed_max_ms = (SELECT max(r.duration_ms) FROM runs r WHERE r.script_name = $3 AND r.category = $1 \
             AND r.status = 'completed' AND r.started_at >= $4 AND r.started_at < $5) \
         WHERE category = $1 AND day = $2 AND script_name = $3";
    pub(crate) const UPSERT_SCRIPT: &str = "INSERT INTO scripts \
         (script_name, category, latest_run_id, latest_started_at, first_seen_at, run_count) \
         VALUES ($1, $2, $3, $4, $4, $5) \
         ON CONFLICT (script_name) DO UPDATE SET \
         run_count = scripts.run_count + excluded.run_count, \
         first_seen_at = CASE WHEN excluded.first_seen_at < scripts.first_seen_at \
             THEN excluded.first_seen_at ELSE scripts.first_seen_at END, \
         category = CASE WHEN excluded.latest_started_at >= scripts.latest_started_at \
             THEN excluded.category ELSE scripts.category END, \
         latest_run_id = CASE WHEN excluded.latest_started_at >= scripts.latest_started_at \
             THEN excluded.latest_run_id ELSE scripts.latest_run_id END, \
         latest_started_at = CASE WHEN excluded.latest_started_at >= scripts.latest_started_at \
             THEN excluded.latest_started_at ELSE scripts.latest_started_at END";
}

/// How the new task rows of a [`RunWrite`] are written.
pub(crate) enum TaskInserts<'a> {
    /// One statement per row, with this SQL (after the delete of a rebuild).
    RowByRow(&'a str),
    /// The caller deletes (for a rebuild) and inserts the rows itself, in bulk,
    /// before running the returned statements.
    InBulk,
}

/// The statements (SQL and parameters) that apply a [`RunWrite`] after the run
/// row upsert; both backends execute them in order.
pub(crate) fn task_and_script_statements(
    write: &RunWrite,
    inserts: &TaskInserts<'_>,
) -> Vec<(String, Vec<crate::value::Value>)> {
    use crate::mapping::task_values;
    use crate::value::Value;
    let run_id = write.row.run_id.expect("a written run has an id");
    let id: Value = run_id.as_uuid().into();
    let mut statements: Vec<(String, Vec<Value>)> = Vec::new();
    if let TaskInserts::RowByRow(task_insert_sql) = inserts {
        if write.tasks.replace {
            statements.push((sql::DELETE_TASKS.to_owned(), vec![id.clone()]));
        }
        for task in &write.tasks.inserts {
            statements.push(((*task_insert_sql).to_owned(), task_values(run_id, task)));
        }
    }
    for change in &write.tasks.updates {
        match change {
            // The planner puts new rows in `inserts`; an `Entered` here is a row a
            // previous batch may already hold, inserted unless present.
            TaskChange::Entered(task) => {
                statements.push((sql::INSERT_TASK.to_owned(), task_values(run_id, task)));
            }
            TaskChange::Exited { key, status, at } => statements.push((
                sql::TASK_EXITED.to_owned(),
                vec![id.clone(), key.0.get().into(), key.1.into(), status.as_str().into(), (*at).into()],
            )),
            TaskChange::Updated { key, message, progress } => {
                if let Some(message) = message {
                    statements.push((
                        sql::TASK_MESSAGE.to_owned(),
                        vec![id.clone(), key.0.get().into(), key.1.into(), message.clone().into()],
                    ));
                }
                if let Some((done, total)) = progress {
                    statements.push((
                        sql::TASK_PROGRESS.to_owned(),
                        vec![id.clone(), key.0.get().into(), key.1.into(), (*done).into(), (*total).into()],
                    ));
                }
            }
            TaskChange::CloseOpen { status, at } => statements.push((
                sql::CLOSE_OPEN_TASKS.to_owned(),
                vec![id.clone(), status.as_str().into(), (*at).into()],
            )),
        }
    }
    // The run's share of the per-day rollup, moved or adjusted when it changed.
    match (&write.counted, DayCount::of(&write.row)) {
        (Some(before), Some(now)) if before.same_key(&now) => {
            if *before != now {
                // The difference keeps `now`'s duration as the extremes' candidate.
                statements.push((sql::ADD_RUN_DAY.to_owned(), now.minus(before).values(1)));
                if before.completed_duration.is_some() && before.completed_duration != now.completed_duration
                {
                    statements.push((sql::RECOMPUTE_DAY_EXTREMES.to_owned(), before.recompute_values()));
                }
            }
        }
        (before, now) => {
            if let Some(before) = before {
                statements.push((sql::ADD_RUN_DAY.to_owned(), before.values(-1)));
                if before.completed_duration.is_some() {
                    statements.push((sql::RECOMPUTE_DAY_EXTREMES.to_owned(), before.recompute_values()));
                }
            }
            if let Some(now) = now {
                statements.push((sql::ADD_RUN_DAY.to_owned(), now.values(1)));
            }
        }
    }
    if let Some(old) = &write.renamed_from {
        let name: Value = old.clone().into();
        statements.push((sql::UNCOUNT_SCRIPT.to_owned(), vec![name.clone()]));
        statements.push((sql::DROP_EMPTY_SCRIPT.to_owned(), vec![name.clone()]));
        statements.push((sql::REPOINT_SCRIPT.to_owned(), vec![name, id.clone()]));
    }
    if write.new_run || write.tasks.replace {
        statements.push((
            sql::UPSERT_SCRIPT.to_owned(),
            vec![
                write.row.script_name.clone().into(),
                write.row.category.clone().into(),
                id,
                write.row.started_at.into(),
                i64::from(write.new_run).into(),
            ],
        ));
    }
    statements
}
