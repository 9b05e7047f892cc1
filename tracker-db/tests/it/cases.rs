//! The contract cases, each given a fresh store.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tracker_core::{
    ErrorInfo, Event, EventKind, ResourceSample, RunEnd, RunId, RunMeta, RunStatus, Session, StreamId,
    TaskStatus,
};
use tracker_db::{DbError, SCHEMA_VERSION, Store, Value};

use crate::harness::Harness;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn new_run_id() -> RunId {
    RunId(uuid::Uuid::now_v7())
}

fn meta(script: &str, total: Option<u32>) -> RunMeta {
    RunMeta {
        script_name: script.into(),
        total_tasks: total,
        host: Some("etl-01".into()),
        pid: Some(4242),
        language: Some("R".into()),
        git_commit: Some("0123abc".into()),
        env: [("HOME".to_owned(), "/home/etl".to_owned())].into(),
        ..RunMeta::default()
    }
}

fn end(status: RunStatus) -> RunEnd {
    RunEnd { status, exit_code: Some(i32::from(status != RunStatus::Completed)), signal: None, error: None }
}

/// A run of `tasks` top-level tasks, with a message and progress in each, finished as `status`.
fn script_run(script: &str, tasks: u32, status: Option<RunStatus>, start: i64) -> (RunId, Vec<Event>) {
    let run_id = new_run_id();
    let (mut s, first) = Session::start(run_id, meta(script, Some(tasks)), t(start)).unwrap();
    let mut events = vec![first];
    for i in 0..tasks {
        let at = t(start + 10 * i64::from(i) + 1);
        events.push(s.enter_task(&format!("Task {i}"), at).unwrap());
        events.push(s.message(&format!("working on {i}"), at).unwrap());
        events.push(s.progress(5, 10, at).unwrap());
        events.push(s.exit_task(TaskStatus::Completed, at + Duration::seconds(5)).unwrap());
    }
    if let Some(status) = status {
        events.extend(s.finish(end(status), t(start + 10 * i64::from(tasks) + 2)).unwrap());
    }
    (run_id, events)
}

async fn count(store: &Store, table: &str) -> i64 {
    let rows = store.query(&format!("SELECT count(*) AS n FROM {table}"), Vec::new()).await.unwrap();
    rows[0].int("n").unwrap().unwrap()
}

pub(crate) async fn migrations_apply_from_empty_and_rerun_as_no_op(h: Harness) {
    assert_eq!(h.store.schema_version().await.unwrap(), 0);
    let applied = h.store.migrate().await.unwrap();
    assert_eq!(
        applied,
        [
            "V1__initial",
            "V2__error_resolutions_and_query_indexes",
            "V3__uniform_sort_indexes",
            "V4__covering_trend_indexes",
            "V5__scripts_hot_updates",
            "V6__lighter_writes",
            "V7__history_sort_indexes",
            "V8__run_days_rollup",
            "V9__exact_duration_stats_and_column_comments",
        ]
        .map(str::to_owned)
    );
    assert_eq!(h.store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert!(h.store.migrate().await.unwrap().is_empty(), "second migrate applies nothing");
    h.store.ensure_current().await.unwrap();
    if h.store.backend() == tracker_db::Backend::Postgres {
        let rows = h
            .store
            .query(
                "SELECT array_to_string(reloptions, ',') AS o FROM pg_class WHERE oid = 'scripts'::regclass",
                Vec::new(),
            )
            .await
            .unwrap();
        assert!(rows[0].text("o").unwrap().unwrap().contains("fillfactor=50"), "V5 tuned the scripts table");
        // Every table and column of ours documents itself (`\d+` in psql).
        let rows = h
            .store
            .query(
                "SELECT c.relname || coalesce('.' || a.attname, '') AS what FROM pg_class c \
                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r' \
                 AND c.relname <> 'refinery_schema_history' \
                 AND (obj_description(c.oid, 'pg_class') IS NULL OR col_description(c.oid, a.attnum) IS NULL) \
                 ORDER BY 1",
                Vec::new(),
            )
            .await
            .unwrap();
        let undocumented: Vec<String> = rows.iter().map(|r| r.text("what").unwrap().unwrap()).collect();
        assert!(undocumented.is_empty(), "tables or columns without a comment: {undocumented:?}");
    }
    let check = h.store.check("test").await.unwrap();
    assert!(check.is_current());
    for table in ["runs", "tasks", "events", "scripts", "resource_samples", "error_resolutions"] {
        assert_eq!(count(&h.store, table).await, 0, "{table} exists and is empty");
    }
}

pub(crate) async fn an_unmigrated_store_says_to_run_migrate(h: Harness) {
    let err = h.store.ensure_current().await.unwrap_err();
    assert!(matches!(err, DbError::NotMigrated { found: 0, .. }), "{err:?}");
    assert!(err.to_string().contains("run `pipetrack migrate`"), "{err}");
}

pub(crate) async fn a_full_run_lands_in_runs_tasks_events_and_scripts(h: Harness) {
    let h = h.migrated().await;
    let (run_id, events) = script_run("DAILY_01_BDC_Locations.R", 3, Some(RunStatus::Completed), 0);
    let n = events.len();
    let outcome = h.store.append(events).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates, outcome.pending), (n, 0, 0));
    assert!(outcome.conflicts.is_empty(), "{:?}", outcome.conflicts);

    let run = h.store.run(run_id).await.unwrap().expect("run row");
    assert_eq!(run.script_name, "DAILY_01_BDC_Locations.R");
    assert_eq!(run.category, "DAILY");
    assert_eq!(run.status, Some(RunStatus::Completed));
    assert_eq!((run.tasks_done, run.total_tasks, run.current_task_number), (3, Some(3), 3));
    assert_eq!(run.current_task.as_deref(), Some("Task 2"));
    assert_eq!(run.message.as_deref(), Some("working on 2"));
    assert_eq!(run.started_at, Some(t(0)));
    assert_eq!(run.finished_at, Some(t(32)));
    assert_eq!(run.duration_ms(), Some(32_000));
    assert_eq!(run.host.as_deref(), Some("etl-01"));
    assert_eq!(run.pid, Some(4242));
    assert_eq!(run.git_commit.as_deref(), Some("0123abc"));
    assert_eq!(run.env.get("HOME").map(String::as_str), Some("/home/etl"));
    assert_eq!(run.exit_code, Some(0));

    let tasks = h.store.tasks(run_id).await.unwrap();
    assert_eq!(tasks.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Task 0", "Task 1", "Task 2"]);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Completed && t.finished_at.is_some()));
    assert_eq!(tasks[1].message.as_deref(), Some("working on 1"));
    assert_eq!((tasks[1].progress_done, tasks[1].progress_total), (Some(5), Some(10)));
    assert_eq!(tasks[1].started_at, t(11));
    assert_eq!(tasks[1].finished_at, Some(t(16)));

    let stored = h.store.events(run_id).await.unwrap();
    assert_eq!(stored.len(), n);
    assert!(matches!(stored[0].kind, EventKind::RunStarted(_)));

    let latest = h.store.latest_runs().await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].run.run_id, Some(run_id));
    assert_eq!(latest[0].run_count, 1);
    // The stored progress percentage is what readers sort and filter on.
    let rows = h
        .store
        .query(
            "SELECT progress_percent, duration_ms FROM runs WHERE run_id = $1",
            vec![run_id.as_uuid().into()],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].real("progress_percent").unwrap(), Some(100.0));
    assert_eq!(rows[0].int("duration_ms").unwrap(), Some(32_000));
}

pub(crate) async fn every_final_status_is_stored(h: Harness) {
    let h = h.migrated().await;
    for status in [RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled] {
        let (run_id, events) = script_run(&format!("STATIC_{status}.R"), 1, Some(status), 0);
        h.store.append(events).await.unwrap();
        assert_eq!(h.store.run(run_id).await.unwrap().unwrap().status, Some(status));
    }
    // Failed with an error: message, class and traceback are kept.
    let run_id = new_run_id();
    let (mut s, start) = Session::start(run_id, meta("ANNUAL_DEC_02.R", None), t(0)).unwrap();
    let mut events = vec![start, s.enter_task("Download", t(1)).unwrap()];
    let error = ErrorInfo {
        message: "HTTP 503 from api.census.gov".into(),
        class: Some("httr_error".into()),
        traceback: Some("1: download()\n2: GET()".into()),
    };
    events.extend(s.fail(error, Some(1), t(2)).unwrap());
    h.store.append(events).await.unwrap();
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, Some(RunStatus::Failed));
    assert_eq!(run.error_message.as_deref(), Some("HTTP 503 from api.census.gov"));
    assert_eq!(run.error_class.as_deref(), Some("httr_error"));
    assert_eq!(run.error_traceback.as_deref(), Some("1: download()\n2: GET()"));
    let tasks = h.store.tasks(run_id).await.unwrap();
    assert_eq!(tasks[0].status, TaskStatus::Failed);

    // Running -> lost (by a monitor) -> the process reports again -> running -> completed.
    let run_id = new_run_id();
    let (mut s, start) = Session::start(run_id, meta("DAILY_03.R", None), t(0)).unwrap();
    h.store.append(vec![start, s.enter_task("Slow download", t(1)).unwrap()]).await.unwrap();
    let lost = Event::marked_lost(run_id, 1, t(100));
    h.store.append(vec![lost]).await.unwrap();
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!((run.status, run.finished_at), (Some(RunStatus::Lost), Some(t(100))));
    let tasks = h.store.tasks(run_id).await.unwrap();
    assert_eq!(tasks[0].status, TaskStatus::Failed, "a lost run's open tasks are closed as failed");
    h.store.append(vec![s.heartbeat(t(101)).unwrap()]).await.unwrap();
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!((run.status, run.finished_at), (Some(RunStatus::Running), None));
    h.store.append(s.finish(end(RunStatus::Completed), t(102)).unwrap()).await.unwrap();
    assert_eq!(h.store.run(run_id).await.unwrap().unwrap().status, Some(RunStatus::Completed));
}

pub(crate) async fn refused_transitions_are_kept_in_history_and_reported(h: Harness) {
    let h = h.migrated().await;
    let (run_id, events) = script_run("DAILY_04.R", 1, Some(RunStatus::Completed), 0);
    let last_seq = events.iter().filter(|e| e.stream == StreamId::MAIN).map(|e| e.seq).max().unwrap();
    h.store.append(events).await.unwrap();
    let before = h.store.run(run_id).await.unwrap().unwrap();
    // A second finish (as failed) after completion, from the same stream.
    let late = Event {
        run_id,
        stream: StreamId::MAIN,
        seq: last_seq + 1,
        at: t(500),
        kind: EventKind::RunFinished(Box::new(end(RunStatus::Failed))),
    };
    let outcome = h.store.append(vec![late]).await.unwrap();
    assert_eq!(outcome.inserted, 1);
    assert_eq!(outcome.conflicts.len(), 1);
    assert_eq!(outcome.conflicts[0].reason, "a run cannot go from completed to failed");
    assert_eq!(h.store.run(run_id).await.unwrap().unwrap(), before, "projection unchanged");
    assert_eq!(h.store.events(run_id).await.unwrap().len(), 7, "but the event is in history");
}

pub(crate) async fn replaying_a_batch_changes_nothing(h: Harness) {
    let h = h.migrated().await;
    let (run_id, events) = script_run("PERIODIC_01_ESRI_Hex_Data.R", 4, Some(RunStatus::Completed), 0);
    h.store.append(events.clone()).await.unwrap();
    let run = h.store.run(run_id).await.unwrap();
    let tasks = h.store.tasks(run_id).await.unwrap();
    let outcome = h.store.append(events.clone()).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, events.len()));
    // A partial overlap (the tail replayed, as a spool would) changes nothing either.
    let outcome = h.store.append(events[events.len() / 2..].to_vec()).await.unwrap();
    assert_eq!(outcome.inserted, 0);
    assert_eq!(h.store.run(run_id).await.unwrap(), run);
    assert_eq!(h.store.tasks(run_id).await.unwrap(), tasks);
    assert_eq!(count(&h.store, "events").await, events.len() as i64);
    assert_eq!(h.store.latest_runs().await.unwrap()[0].run_count, 1, "a replay is not a new run");
}

pub(crate) async fn batches_of_any_size_give_the_same_projection(h: Harness) {
    let h = h.migrated().await;
    let (run_id, events) = script_run("ANNUAL_SEPT_02_Road_Lengths_Hex.R", 5, Some(RunStatus::Completed), 0);
    for chunk in events.chunks(3) {
        h.store.append(chunk.to_vec()).await.unwrap();
    }
    let chunked = (h.store.run(run_id).await.unwrap().unwrap(), h.store.tasks(run_id).await.unwrap());
    // The same run under another id, in one batch.
    let other = new_run_id();
    let renamed: Vec<Event> = events
        .iter()
        .cloned()
        .map(|mut e| {
            e.run_id = other;
            e
        })
        .collect();
    h.store.append(renamed).await.unwrap();
    let mut whole = h.store.run(other).await.unwrap().unwrap();
    whole.run_id = Some(run_id);
    assert_eq!(whole, chunked.0);
    assert_eq!(h.store.tasks(other).await.unwrap(), chunked.1);
}

pub(crate) async fn events_before_the_start_wait_then_fold_in(h: Harness) {
    let h = h.migrated().await;
    let run_id = new_run_id();
    let (mut parent, start) =
        Session::start(run_id, meta("ANNUAL_DEC_05_Block20_Info_Table.R", Some(1)), t(0)).unwrap();
    let enter = parent.enter_task("Process states", t(1)).unwrap();
    let mut child = parent.fork(StreamId::from_random([7; 8]));
    let child_events = vec![
        child.enter_task("State 06", t(2)).unwrap(),
        child.exit_task(TaskStatus::Completed, t(3)).unwrap(),
    ];
    // The child's events reach the store before the parent's first batch.
    let outcome = h.store.append(child_events).await.unwrap();
    assert_eq!((outcome.inserted, outcome.pending), (2, 2));
    assert!(h.store.run(run_id).await.unwrap().is_none());
    let outcome = h.store.append(vec![start, enter]).await.unwrap();
    assert_eq!(outcome.inserted, 2);
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.current_task_number, 1);
    let tasks = h.store.tasks(run_id).await.unwrap();
    assert_eq!(tasks.len(), 2);
    let state = tasks.iter().find(|t| t.name == "State 06").unwrap();
    assert_eq!((state.depth, state.status), (1, TaskStatus::Completed));
    // A forked child re-sends the start it inherited: a harmless duplicate.
    let outcome = h.store.append(vec![child.start_event().clone()]).await.unwrap();
    assert_eq!(outcome.duplicates, 1);
}

/// The `run_days` rollup holds exactly what aggregating the runs gives.
async fn assert_rollup_matches_runs(store: &Store) {
    let day = match store.backend() {
        tracker_db::Backend::Postgres => "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        tracker_db::Backend::Sqlite => "substr(started_at, 1, 10)",
    };
    let count = |status: &str| format!("sum(CASE WHEN status = '{status}' THEN 1 ELSE 0 END)");
    let direct = format!(
        "SELECT category, {day} AS day, script_name, count(*) AS runs, CAST({} AS bigint) AS completed, \
         CAST({} AS bigint) AS failed, CAST({} AS bigint) AS cancelled, CAST({} AS bigint) AS lost, \
         CAST(coalesce(sum(CASE WHEN status = 'completed' THEN duration_ms END), 0) AS bigint) AS completed_ms, \
         count(CASE WHEN status = 'completed' THEN duration_ms END) AS completed_n, \
         CAST(coalesce(sum(CASE WHEN status = 'completed' THEN CAST(duration_ms AS double precision) * duration_ms END), 0) AS bigint) AS completed_ms_sq, \
         min(CASE WHEN status = 'completed' THEN duration_ms END) AS completed_min_ms, \
         max(CASE WHEN status = 'completed' THEN duration_ms END) AS completed_max_ms \
         FROM runs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        count("completed"),
        count("failed"),
        count("cancelled"),
        count("lost")
    );
    let rollup = "SELECT category, day, script_name, runs, completed, failed, cancelled, lost, completed_ms, \
                  completed_n, CAST(completed_ms_sq AS bigint) AS completed_ms_sq, completed_min_ms, \
                  completed_max_ms FROM run_days WHERE runs <> 0 OR completed_n <> 0 ORDER BY 1, 2, 3";
    let read = |rows: Vec<tracker_db::Row>| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                let mut v = vec![
                    r.text("category").unwrap().unwrap(),
                    r.text("day").unwrap().unwrap(),
                    r.text("script_name").unwrap().unwrap(),
                ];
                for c in ["runs", "completed", "failed", "cancelled", "lost", "completed_ms", "completed_n"] {
                    v.push(r.int(c).unwrap().unwrap_or(0).to_string());
                }
                // Exact here: the test's durations are small, their squares' sums well under 2^53.
                for c in ["completed_ms_sq", "completed_min_ms", "completed_max_ms"] {
                    v.push(format!("{c}={:?}", r.int(c).unwrap()));
                }
                v
            })
            .collect()
    };
    let expected = read(store.query(&direct, Vec::new()).await.unwrap());
    assert!(!expected.is_empty());
    assert_eq!(read(store.query(rollup, Vec::new()).await.unwrap()), expected);
}

pub(crate) async fn the_per_day_rollup_follows_every_kind_of_write(h: Harness) {
    let h = h.migrated().await;
    let mut all = Vec::new();
    // Runs over several days and scripts, in every final status, one left running.
    for (i, status) in [
        Some(RunStatus::Completed),
        Some(RunStatus::Failed),
        Some(RunStatus::Cancelled),
        Some(RunStatus::Completed),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let script = if i % 2 == 0 { "DAILY_01_A.R" } else { "ANNUAL_DEC_02_B.R" };
        let (_, events) = script_run(script, 2, status, i64::try_from(i).unwrap() * 50_000);
        all.push(events);
    }
    // Completed runs of one script and day with different durations (the
    // day's minimum and maximum, sum of squares), the longest in the middle.
    for (tasks, start) in [(1, 1_000), (4, 2_000), (2, 3_000)] {
        all.push(script_run("DAILY_01_A.R", tasks, Some(RunStatus::Completed), start).1);
    }
    // Appended in small batches: a run is counted at its start, moved at its end.
    for events in &all {
        for chunk in events.chunks(3) {
            h.store.append(chunk.to_vec()).await.unwrap();
        }
    }
    assert_rollup_matches_runs(&h.store).await;
    // Marked lost, then its spool replayed: lost, then completed again.
    let (run_id, events) = script_run("DAILY_03_C.R", 2, Some(RunStatus::Completed), 90_000);
    h.store.append(events[..1].to_vec()).await.unwrap();
    h.store.append(vec![Event::marked_lost(run_id, 1, t(90_100))]).await.unwrap();
    assert_rollup_matches_runs(&h.store).await;
    h.store.append(events[1..].to_vec()).await.unwrap();
    // A batch replayed: nothing counted twice.
    h.store.append(all[0].clone()).await.unwrap();
    assert_rollup_matches_runs(&h.store).await;
}

pub(crate) async fn a_joined_process_stored_first_gives_way_to_the_main_start(h: Harness) {
    let h = h.migrated().await;
    let (earlier, earlier_events) = script_run("worker.R", 1, Some(RunStatus::Completed), -100);
    h.store.append(earlier_events).await.unwrap();
    let run_id = new_run_id();
    let (mut main, start) = Session::start(run_id, meta("ANNUAL_DEC_01_Test.R", Some(2)), t(0)).unwrap();
    // A PSOCK worker joins the run (inherited run id); its batch lands before the parent's.
    let (mut worker, joined) =
        Session::join(run_id, StreamId::from_random([9; 8]), meta("worker.R", None), t(1)).unwrap();
    let worker_events = vec![
        joined,
        worker.enter_task("Chunk 1", t(2)).unwrap(),
        worker.exit_task(TaskStatus::Completed, t(3)).unwrap(),
    ];
    h.store.append(worker_events).await.unwrap();
    let early = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(early.script_name, "worker.R", "the joiner's metadata is all there is so far");
    let mut events = vec![start, main.enter_task("Load", t(4)).unwrap()];
    events.push(main.exit_task(TaskStatus::Completed, t(5)).unwrap());
    events.extend(main.finish(end(RunStatus::Completed), t(6)).unwrap());
    h.store.append(events).await.unwrap();
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.script_name, "ANNUAL_DEC_01_Test.R");
    assert_eq!(run.category, "ANNUAL_DEC");
    assert_eq!(run.status, Some(RunStatus::Completed));
    assert_eq!(run.started_at, Some(t(0)));
    let mut names: Vec<String> = h.store.tasks(run_id).await.unwrap().into_iter().map(|t| t.name).collect();
    names.sort();
    assert_eq!(names, ["Chunk 1", "Load"]);
    let scripts = h
        .store
        .query("SELECT script_name, run_count, latest_run_id FROM scripts ORDER BY script_name", Vec::new())
        .await
        .unwrap();
    let rows: Vec<(String, i64, String)> = scripts
        .iter()
        .map(|r| {
            (
                r.text("script_name").unwrap().unwrap(),
                r.int("run_count").unwrap().unwrap(),
                r.uuid("latest_run_id").unwrap().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ANNUAL_DEC_01_Test.R".to_owned(), 1, run_id.to_string()),
            ("worker.R".to_owned(), 1, earlier.to_string()),
        ],
        "the worker's script keeps only its own run and points back at it"
    );
    assert_rollup_matches_runs(&h.store).await;
}

pub(crate) async fn events_replayed_after_a_run_was_marked_lost_rebuild_it(h: Harness) {
    let h = h.migrated().await;
    let (run_id, events) = script_run("DAILY_05.R", 3, Some(RunStatus::Completed), 0);
    // Only the start reached the store; the rest was spooled during an outage.
    h.store.append(events[..1].to_vec()).await.unwrap();
    let lost = Event::marked_lost(run_id, 1, t(20));
    h.store.append(vec![lost]).await.unwrap();
    assert_eq!(h.store.run(run_id).await.unwrap().unwrap().status, Some(RunStatus::Lost));
    // The spool is replayed: events older than the lost mark arrive.
    let outcome = h.store.append(events[1..].to_vec()).await.unwrap();
    assert!(outcome.conflicts.is_empty(), "{:?}", outcome.conflicts);
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, Some(RunStatus::Completed));
    assert_eq!(run.tasks_done, 3);
    let tasks = h.store.tasks(run_id).await.unwrap();
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Completed));
}

pub(crate) async fn an_invalid_event_refuses_the_whole_batch(h: Harness) {
    let h = h.migrated().await;
    let (run_id, mut events) = script_run("DAILY_06.R", 2, None, 0);
    events[2].kind = EventKind::TaskEntered { task: 9, depth: 0, name: "bad\u{7}name".into() };
    let err = h.store.append(events.clone()).await.unwrap_err();
    assert!(matches!(err, DbError::InvalidEvent { .. }), "{err:?}");
    assert!(err.to_string().contains("control character"), "{err}");
    assert_eq!(count(&h.store, "events").await, 0, "nothing of the batch was written");
    assert!(h.store.run(run_id).await.unwrap().is_none());
    // Sequence numbers going backwards within a stream are refused too.
    let (_, mut events) = script_run("DAILY_06.R", 2, None, 0);
    events.swap(1, 2);
    let err = h.store.append(events).await.unwrap_err();
    assert!(matches!(err, DbError::BatchOrder { .. }), "{err:?}");
    assert!(err.to_string().contains("events must be appended in order"), "{err}");
}

pub(crate) async fn hostile_text_is_stored_verbatim(h: Harness) {
    let h = h.migrated().await;
    let name = "STATIC_'; DROP TABLE runs; --.R";
    let run_id = new_run_id();
    let (mut s, start) = Session::start(run_id, meta(name, None), t(0)).unwrap();
    let hostile = "50% done_ \"quoted\" 'single' \\ back $1 ?1 Zürich 東京 🚀";
    let events = vec![start, s.enter_task(hostile, t(1)).unwrap(), s.message(hostile, t(2)).unwrap()];
    h.store.append(events).await.unwrap();
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.script_name, name);
    assert_eq!(run.message.as_deref(), Some(hostile));
    assert_eq!(h.store.tasks(run_id).await.unwrap()[0].name, hostile);
    assert_eq!(count(&h.store, "runs").await, 1);
    let rows = h
        .store
        .query("SELECT count(*) AS n FROM runs WHERE message = $1", vec![Value::from(hostile)])
        .await
        .unwrap();
    assert_eq!(rows[0].int("n").unwrap(), Some(1));
}

pub(crate) async fn resource_samples_are_stored_with_run_totals(h: Harness) {
    let h = h.migrated().await;
    let run_id = new_run_id();
    let (mut s, start) = Session::start(run_id, meta("DAILY_02_Provider_Tables.R", None), t(0)).unwrap();
    let sample = |rss: u64, cpu: f64, io: u64| ResourceSample {
        rss_bytes: rss,
        peak_rss_bytes: rss,
        cpu_seconds: cpu,
        read_bytes: io,
        write_bytes: io * 2,
    };
    let events = vec![
        start,
        s.sample(sample(100 << 20, 1.5, 1000), t(5)).unwrap(),
        s.sample(sample(300 << 20, 4.25, 5000), t(10)).unwrap(),
        s.sample(sample(200 << 20, 6.0, 9000), t(15)).unwrap(),
    ];
    h.store.append(events).await.unwrap();
    let run = h.store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.peak_rss_bytes, Some(300 << 20));
    assert_eq!(run.cpu_seconds, Some(6.0));
    assert_eq!((run.read_bytes, run.write_bytes), (Some(9000), Some(18000)));
    let rows = h
        .store
        .query(
            "SELECT rss_bytes, cpu_seconds, at FROM resource_samples WHERE run_id = $1 ORDER BY at",
            vec![run_id.as_uuid().into()],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].int("rss_bytes").unwrap(), Some(300 << 20));
    assert_eq!(rows[1].real("cpu_seconds").unwrap(), Some(4.25));
    assert_eq!(rows[2].time("at").unwrap(), Some(t(15)));
}

pub(crate) async fn scripts_point_at_their_latest_run(h: Harness) {
    let h = h.migrated().await;
    let (first, a) = script_run("DAILY_01.R", 1, Some(RunStatus::Failed), 0);
    let (second, b) = script_run("DAILY_01.R", 1, None, 1000);
    let (_, c) = script_run("STATIC_02_Technology_Codes.R", 1, Some(RunStatus::Completed), 500);
    // The newer run arrives first: the older one must not take the pointer back.
    h.store.append(b).await.unwrap();
    h.store.append(a).await.unwrap();
    h.store.append(c).await.unwrap();
    let latest = h.store.latest_runs().await.unwrap();
    let names: Vec<&str> = latest.iter().map(|l| l.run.script_name.as_str()).collect();
    assert_eq!(names, ["DAILY_01.R", "STATIC_02_Technology_Codes.R"], "ordered by category then name");
    assert_eq!(latest[0].run.run_id, Some(second));
    assert_eq!(latest[0].run.status, Some(RunStatus::Running));
    assert_eq!(latest[0].run_count, 2);
    assert_ne!(latest[0].run.run_id, Some(first));
}

/// Events each writer (thread or process) appends: its own run, plus a stream of
/// a run shared by all writers (as forked children write into their parent's run).
pub(crate) async fn write_worker_load(store: &Store, worker: u8, shared: RunId) {
    let (_, events) = script_run(&format!("DAILY_W{worker:02}.R"), 20, Some(RunStatus::Completed), 0);
    for chunk in events.chunks(7) {
        store.append(chunk.to_vec()).await.unwrap();
    }
    let (parent, _) = Session::start(shared, meta("ANNUAL_DEC_01_Hex_Info_Base.R", Some(1)), t(0)).unwrap();
    let mut child = parent.fork(StreamId::from_random([worker.wrapping_add(1); 8]));
    let mut batch = vec![child.start_event().clone()];
    for i in 0..20 {
        batch.push(child.enter_task(&format!("W{worker} state {i}"), t(i + 1)).unwrap());
        batch.push(child.exit_task(TaskStatus::Completed, t(i + 1)).unwrap());
        if batch.len() >= 9 {
            store.append(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.append(batch).await.unwrap();
}

async fn assert_worker_load_landed(store: &Store, workers: usize, shared: RunId) {
    // Each worker's own run: 1 start + 20 * 4 + 2 (exit of none open, finish) events.
    let per_run = 1 + 20 * 4 + 1;
    assert_eq!(count(store, "runs").await, workers as i64 + 1);
    assert_eq!(count(store, "events").await, (workers * per_run + 1 + workers * 40) as i64);
    let shared_tasks = store.tasks(shared).await.unwrap();
    assert_eq!(shared_tasks.len(), workers * 20);
    assert!(shared_tasks.iter().all(|t| t.status == TaskStatus::Completed));
    let latest = store.latest_runs().await.unwrap();
    assert_eq!(latest.len(), workers + 1);
    for l in latest.iter().filter(|l| l.run.script_name.starts_with("DAILY_W")) {
        assert_eq!((l.run.status, l.run.tasks_done), (Some(RunStatus::Completed), 20));
    }
}

pub(crate) async fn concurrent_writers_in_one_process_lose_nothing(h: Harness) {
    let h = h.migrated().await;
    let shared = new_run_id();
    let workers = 8;
    // Half the writers share the test's store (one SQLite connection, or one
    // Postgres pool); the other half each open their own, as separate tracked
    // scripts would: on SQLite these contend for the file's write lock (WAL,
    // busy timeout), on Postgres for rows of the shared run.
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let shared_store = h.store.clone();
            let url = h.url.clone();
            tokio::spawn(async move {
                let store = if w % 2 == 0 {
                    shared_store
                } else {
                    let config =
                        tracker_db::StoreConfig::from_url(&url, tracker_db::config::Source::Code).unwrap();
                    Store::open(&config).await.unwrap()
                };
                write_worker_load(&store, w as u8, shared).await;
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_worker_load_landed(&h.store, workers, shared).await;
}

pub(crate) async fn concurrent_writer_processes_lose_nothing(h: Harness) {
    let h = h.migrated().await;
    let shared = new_run_id();
    let workers = 4;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..workers)
        .map(|w| {
            std::process::Command::new(&exe)
                .args(["worker::entry", "--exact", "--test-threads=1", "--quiet"])
                .env("PIPETRACK_TEST_WORKER_URL", &h.url)
                .env("PIPETRACK_TEST_WORKER_INDEX", w.to_string())
                .env("PIPETRACK_TEST_SHARED_RUN", shared.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "worker failed: {}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "the worker really ran");
    }
    assert_worker_load_landed(&h.store, workers, shared).await;
}

/// Every (from, to) pair of run statuses, through the store: legal moves are
/// applied, the others are kept in history, reported as a conflict and leave
/// the projection as it was, exactly as `RunStatus::can_become` says.
pub(crate) async fn every_status_pair_follows_the_lifecycle(h: Harness) {
    let h = h.migrated().await;
    for from in RunStatus::ALL {
        for to in RunStatus::ALL {
            let run_id = new_run_id();
            let (mut s, start) = Session::start(run_id, meta("DAILY_07.R", None), t(0)).unwrap();
            let mut setup = vec![start];
            let mut monitor_seq = 0;
            let mut main_seq = 1;
            match from {
                RunStatus::Running => {}
                RunStatus::Lost => {
                    monitor_seq += 1;
                    setup.push(Event::marked_lost(run_id, monitor_seq, t(10)));
                }
                status => {
                    let finish = s.finish(end(status), t(10)).unwrap();
                    main_seq += finish.len() as u64;
                    setup.extend(finish);
                }
            }
            h.store.append(setup).await.unwrap();
            let before = h.store.run(run_id).await.unwrap().unwrap();
            assert_eq!(before.status, Some(from));
            let at = t(20);
            let step = match to {
                RunStatus::Lost => Event::marked_lost(run_id, monitor_seq + 1, at),
                RunStatus::Running => Event {
                    run_id,
                    stream: StreamId::MAIN,
                    seq: main_seq + 1,
                    at,
                    kind: EventKind::Heartbeat,
                },
                status => Event {
                    run_id,
                    stream: StreamId::MAIN,
                    seq: main_seq + 1,
                    at,
                    kind: EventKind::RunFinished(Box::new(end(status))),
                },
            };
            let outcome = h.store.append(vec![step]).await.unwrap();
            assert_eq!(outcome.inserted, 1, "{from} -> {to}: the event is kept in history");
            let after = h.store.run(run_id).await.unwrap().unwrap();
            if from == to && from == RunStatus::Running {
                assert!(
                    outcome.conflicts.is_empty(),
                    "a heartbeat of a running run: {:?}",
                    outcome.conflicts
                );
                assert_eq!(after.status, Some(RunStatus::Running));
            } else if from.can_become(to) {
                assert!(outcome.conflicts.is_empty(), "{from} -> {to} is legal: {:?}", outcome.conflicts);
                assert_eq!(after.status, Some(to), "{from} -> {to}");
                assert_eq!(after.finished_at.is_some(), to != RunStatus::Running, "{from} -> {to}");
            } else {
                assert_eq!(outcome.conflicts.len(), 1, "{from} -> {to} is illegal");
                let reason = &outcome.conflicts[0].reason;
                assert!(reason.contains(from.as_str()), "{from} -> {to}: {reason}");
                assert_eq!(after, before, "{from} -> {to}: projection unchanged");
            }
        }
    }
}

/// A change that makes a valid batch invalid.
type Spoil = Box<dyn Fn(&mut Vec<Event>)>;

/// Each kind of bad input is refused with an error that names it, and nothing
/// of the batch is written.
pub(crate) async fn bad_input_is_refused_with_a_clear_error(h: Harness) {
    let h = h.migrated().await;
    let long = |n: usize| "x".repeat(n + 1);
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "task name",
            Box::new(|e: &mut Vec<Event>| {
                e[1].kind = EventKind::TaskEntered { task: 1, depth: 0, name: String::new() }
            }),
        ),
        (
            "task name",
            Box::new(move |e: &mut Vec<Event>| {
                e[1].kind = EventKind::TaskEntered {
                    task: 1,
                    depth: 0,
                    name: long(tracker_core::validate::MAX_TASK_NAME),
                }
            }),
        ),
        (
            "control character",
            Box::new(|e: &mut Vec<Event>| {
                e[1].kind = EventKind::TaskEntered { task: 1, depth: 0, name: "tab\tname".into() }
            }),
        ),
        (
            "message",
            Box::new(move |e: &mut Vec<Event>| {
                e[2].kind = EventKind::StatusUpdate(tracker_core::StatusUpdate {
                    message: Some(long(tracker_core::validate::MAX_MESSAGE)),
                    ..Default::default()
                });
            }),
        ),
        (
            "progress",
            Box::new(|e: &mut Vec<Event>| {
                e[3].kind = EventKind::StatusUpdate(tracker_core::StatusUpdate {
                    progress_done: Some(11),
                    progress_total: Some(10),
                    ..Default::default()
                });
            }),
        ),
        (
            "script name",
            Box::new(|e: &mut Vec<Event>| {
                if let EventKind::RunStarted(meta) = &mut e[0].kind {
                    meta.script_name = String::new();
                }
            }),
        ),
        ("seq", Box::new(|e: &mut Vec<Event>| e[0].seq = 0)),
        (
            "running",
            Box::new(|e: &mut Vec<Event>| {
                let last = e.len() - 1;
                e[last].kind = EventKind::RunFinished(Box::new(end(RunStatus::Running)));
            }),
        ),
    ];
    for (needle, spoil) in cases {
        let (run_id, mut events) = script_run("DAILY_08.R", 2, Some(RunStatus::Completed), 0);
        spoil(&mut events);
        let err = h.store.append(events).await.unwrap_err();
        assert!(matches!(err, DbError::InvalidEvent { .. }), "{needle}: {err:?}");
        let text = err.to_string();
        assert!(text.to_lowercase().contains(needle), "the error names the problem ({needle}): {text}");
        assert!(h.store.run(run_id).await.unwrap().is_none(), "{needle}: nothing written");
    }
    assert_eq!(count(&h.store, "events").await, 0);
}

/// Migration V9 fills the new duration columns of the rollup (sum of squares,
/// extremes) from the runs already stored.
pub(crate) async fn the_v9_backfill_fills_the_duration_statistics(h: Harness) {
    let h = h.migrated().await;
    for (tasks, start) in [(1, 0), (3, 100), (2, 200), (5, 90_000)] {
        h.store.append(script_run("DAILY_09.R", tasks, Some(RunStatus::Completed), start).1).await.unwrap();
    }
    h.store.append(script_run("DAILY_09.R", 2, Some(RunStatus::Failed), 300).1).await.unwrap();
    assert_rollup_matches_runs(&h.store).await;
    // Back to the state before V9: without its columns and its history row.
    for column in ["completed_ms_sq", "completed_min_ms", "completed_max_ms"] {
        h.store.execute(&format!("ALTER TABLE run_days DROP COLUMN {column}"), Vec::new()).await.unwrap();
    }
    h.store.execute("DELETE FROM refinery_schema_history WHERE version = 9", Vec::new()).await.unwrap();
    assert_eq!(h.store.schema_version().await.unwrap(), 8);
    assert_eq!(h.store.migrate().await.unwrap(), ["V9__exact_duration_stats_and_column_comments"]);
    assert_rollup_matches_runs(&h.store).await;
    let rows = h
        .store
        .query(
            "SELECT completed_min_ms, completed_max_ms FROM run_days WHERE script_name = $1 ORDER BY day",
            vec![Value::from("DAILY_09.R")],
        )
        .await
        .unwrap();
    let extremes: Vec<(Option<i64>, Option<i64>)> = rows
        .iter()
        .map(|r| (r.int("completed_min_ms").unwrap(), r.int("completed_max_ms").unwrap()))
        .collect();
    assert_eq!(extremes, [(Some(12_000), Some(32_000)), (Some(52_000), Some(52_000))]);
}
