//! Behaviour of the session state machine and the run projection, including
//! property tests: no sequence of calls breaks the invariants.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use tracker_core::projection::rebuild;
use tracker_core::session::validate_event;
use tracker_core::{
    CoreError, ErrorInfo, Event, EventKind, RunEnd, RunId, RunMeta, RunRow, RunStatus, Session, StatusUpdate,
    StreamId, TaskChange, TaskStatus,
};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn meta(total: Option<u32>) -> RunMeta {
    RunMeta {
        script_name: "ANNUAL_DEC_03_ACS_Hex_Aggregation.R".into(),
        total_tasks: total,
        ..RunMeta::default()
    }
}

fn completed() -> RunEnd {
    RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None }
}

fn fold(events: &[Event]) -> (RunRow, BTreeMap<tracker_core::TaskKey, tracker_core::TaskRow>) {
    let mut row = RunRow::default();
    let mut tasks = BTreeMap::new();
    for event in events {
        for change in row.apply(event).unwrap() {
            change.apply_to(&mut tasks);
        }
    }
    (row, tasks)
}

#[test]
fn a_full_run_projects_to_the_expected_row() {
    let run_id = RunId::from_parts(1, [1; 10]);
    let (mut s, start) = Session::start(run_id, meta(Some(3)), t(0)).unwrap();
    let mut events = vec![start];
    events.push(s.enter_task("Download ACS", t(1)).unwrap());
    events.push(s.message("table B01001", t(2)).unwrap());
    events.push(s.exit_task(TaskStatus::Completed, t(3)).unwrap());
    events.push(s.enter_task("Aggregate states", t(4)).unwrap());
    events.push(s.progress(25, 50, t(5)).unwrap());
    let (row, tasks) = fold(&events);
    assert_eq!(row.category, "ANNUAL_DEC");
    assert_eq!(row.status, Some(RunStatus::Running));
    assert_eq!(row.current_task.as_deref(), Some("Aggregate states"));
    assert_eq!((row.tasks_done, row.current_task_number, row.total_tasks), (1, 2, Some(3)));
    assert_eq!(row.message.as_deref(), Some("table B01001"));
    // 1 task done + half of the second, of 3.
    assert!((row.progress_percent().unwrap() - 50.0).abs() < 1e-9);
    assert_eq!(tasks.len(), 2);
    let first = &tasks[&(StreamId::MAIN, 1)];
    assert_eq!((first.status, first.finished_at), (TaskStatus::Completed, Some(t(3))));
    assert_eq!(first.message.as_deref(), Some("table B01001"));
    assert_eq!(tasks[&(StreamId::MAIN, 2)].progress_done, Some(25));

    events.extend(s.finish(completed(), t(10)).unwrap());
    let (row, tasks) = fold(&events);
    assert_eq!(row.status, Some(RunStatus::Completed));
    assert_eq!(row.finished_at, Some(t(10)));
    assert_eq!(row.duration_ms(), Some(10_000));
    assert_eq!(row.tasks_done, 2);
    assert!(tasks.values().all(|task| task.status == TaskStatus::Completed));
}

#[test]
fn errors_close_open_tasks_as_failed_and_record_the_error() {
    let (mut s, start) = Session::start(RunId::from_parts(1, [2; 10]), meta(None), t(0)).unwrap();
    let mut events = vec![start, s.enter_task("Outer", t(1)).unwrap(), s.enter_task("Inner", t(2)).unwrap()];
    let error = ErrorInfo {
        message: "object 'hex_id' not found".into(),
        class: Some("simpleError".into()),
        traceback: Some("1: f()\n2: g()".into()),
    };
    let closing = s.fail(error, Some(1), t(3)).unwrap();
    assert_eq!(closing.len(), 3, "two task exits then the finish");
    assert!(matches!(
        closing[0].kind,
        EventKind::TaskExited { task: 2, depth: 1, status: TaskStatus::Failed }
    ));
    events.extend(closing);
    let (row, tasks) = fold(&events);
    assert_eq!(row.status, Some(RunStatus::Failed));
    assert_eq!(row.error_class.as_deref(), Some("simpleError"));
    assert_eq!(row.error_traceback.as_deref(), Some("1: f()\n2: g()"));
    assert_eq!(row.exit_code, Some(1));
    assert!(tasks.values().all(|task| task.status == TaskStatus::Failed));
}

#[test]
fn calls_after_finish_are_typed_errors() {
    let (mut s, _) = Session::start(RunId::from_parts(1, [3; 10]), meta(None), t(0)).unwrap();
    s.finish(completed(), t(1)).unwrap();
    let err = s.enter_task("late", t(2)).unwrap_err();
    assert_eq!(err, CoreError::RunFinished { status: RunStatus::Completed, action: "entering a task" });
    assert!(err.to_string().contains("track_init"), "{err}");
    assert!(s.finish(completed(), t(3)).is_err());
}

#[test]
fn gexit_without_genter_is_an_error() {
    let (mut s, _) = Session::start(RunId::from_parts(1, [4; 10]), meta(None), t(0)).unwrap();
    assert_eq!(s.exit_task(TaskStatus::Completed, t(1)).unwrap_err(), CoreError::NoOpenTask);
}

#[test]
fn bad_input_is_refused_before_any_event() {
    let (mut s, _) = Session::start(RunId::from_parts(1, [5; 10]), meta(Some(2)), t(0)).unwrap();
    let seq = s.last_seq();
    assert!(matches!(s.enter_task("", t(1)), Err(CoreError::Empty { .. })));
    assert!(matches!(s.enter_task("a\u{0}b", t(1)), Err(CoreError::ControlCharacter { .. })));
    assert!(matches!(s.progress(-1, 5, t(1)), Err(CoreError::Negative { .. })));
    assert!(matches!(s.progress(6, 5, t(1)), Err(CoreError::ProgressBeyondTotal { .. })));
    assert!(matches!(s.message(&"m".repeat(5_000), t(1)), Err(CoreError::TooLong { .. })));
    s.enter_task("one", t(1)).unwrap();
    s.exit_task(TaskStatus::Completed, t(1)).unwrap();
    let update = StatusUpdate { total_tasks: Some(0), ..StatusUpdate::default() };
    assert_eq!(s.update(update, t(1)).unwrap_err(), CoreError::TotalBelowDone { total: 0, done: 1 });
    assert_eq!(s.last_seq(), seq + 2, "only the two good calls produced events");
    let bad_start = RunMeta { script_name: "  ".into(), ..RunMeta::default() };
    assert!(matches!(
        Session::start(RunId::from_parts(1, [5; 10]), bad_start, t(0)),
        Err(CoreError::Empty { .. })
    ));
}

#[test]
fn entering_more_tasks_than_declared_raises_the_total() {
    let (mut s, start) = Session::start(RunId::from_parts(1, [6; 10]), meta(Some(1)), t(0)).unwrap();
    let mut events = vec![start];
    for name in ["a", "b", "c"] {
        events.push(s.enter_task(name, t(1)).unwrap());
        events.push(s.exit_task(TaskStatus::Completed, t(2)).unwrap());
    }
    let (row, _) = fold(&events);
    assert_eq!((row.tasks_done, row.total_tasks), (3, Some(3)));
    assert_eq!(s.total_tasks(), Some(3));
}

#[test]
fn a_forked_child_writes_its_own_stream_nested_under_the_parent() {
    let (mut parent, start) = Session::start(RunId::from_parts(1, [7; 10]), meta(Some(1)), t(0)).unwrap();
    let mut events = vec![start.clone()];
    events.push(parent.enter_task("Process states", t(1)).unwrap());
    let mut children: Vec<Session> = (0..3).map(|i| parent.fork(StreamId::from_random([i + 1; 8]))).collect();
    for (i, child) in children.iter_mut().enumerate() {
        assert_eq!(child.start_event(), &start, "the child can re-send the run's start");
        events.push(child.enter_task(&format!("State {i}"), t(2)).unwrap());
        events.push(child.exit_task(TaskStatus::Completed, t(3)).unwrap());
        assert_eq!(child.last_seq(), 2, "a child's stream starts at seq 1");
    }
    events.push(parent.exit_task(TaskStatus::Completed, t(4)).unwrap());
    let (row, tasks) = fold(&events);
    assert_eq!(tasks.len(), 4);
    assert_eq!(tasks.values().filter(|task| task.depth == 1).count(), 3);
    assert_eq!((row.tasks_done, row.total_tasks), (1, Some(1)), "nested tasks are sub-progress");
}

#[test]
fn a_joining_process_adds_metadata_without_replacing_it() {
    let run_id = RunId::from_parts(1, [8; 10]);
    let wrapper = RunMeta {
        script_name: "DAILY_02.R".into(),
        command: Some("Rscript DAILY_02.R".into()),
        ..RunMeta::default()
    };
    let (_, start) = Session::start(run_id, wrapper, t(0)).unwrap();
    let inner = RunMeta {
        script_name: "something-else.R".into(),
        language: Some("R".into()),
        git_commit: Some("abc123".into()),
        ..RunMeta::default()
    };
    let (mut joined, join) = Session::join(run_id, StreamId::from_random([9; 8]), inner, t(1)).unwrap();
    let task = joined.enter_task("Load", t(2)).unwrap();
    let (row, _) = fold(&[start, join, task]);
    assert_eq!(row.script_name, "DAILY_02.R");
    assert_eq!(row.category, "DAILY");
    assert_eq!(row.language.as_deref(), Some("R"));
    assert_eq!(row.git_commit.as_deref(), Some("abc123"));
    assert_eq!(row.current_task_number, 1);
}

#[test]
fn the_projection_refuses_what_the_lifecycle_forbids_and_stays_unchanged() {
    let (mut s, start) = Session::start(RunId::from_parts(1, [10; 10]), meta(None), t(0)).unwrap();
    let fork = s.fork(StreamId::from_random([3; 8]));
    let finish = s.finish(completed(), t(1)).unwrap();
    let (mut row, _) = fold(&[vec![start], finish].concat());
    let before = row.clone();
    let mut late_child = fork;
    let late = late_child.enter_task("late", t(2)).unwrap();
    assert!(matches!(row.apply(&late), Err(CoreError::RunFinished { .. })));
    let lost = Event::marked_lost(row.run_id.unwrap(), 1, t(3));
    assert_eq!(
        row.apply(&lost).unwrap_err(),
        CoreError::IllegalTransition { from: RunStatus::Completed, to: RunStatus::Lost }
    );
    assert_eq!(row, before);
}

#[test]
fn a_lost_run_can_still_be_closed_by_a_late_finish() {
    let (mut s, start) = Session::start(RunId::from_parts(1, [11; 10]), meta(None), t(0)).unwrap();
    let lost = Event::marked_lost(start.run_id, 1, t(100));
    let finish = s.finish(completed(), t(101)).unwrap();
    let (row, _) = fold(&[vec![start, lost], finish].concat());
    assert_eq!(row.status, Some(RunStatus::Completed));
}

#[test]
fn events_before_the_start_are_not_projected_but_rebuild_orders_them() {
    let (parent, start) = Session::start(RunId::from_parts(1, [12; 10]), meta(Some(2)), t(0)).unwrap();
    let mut child = parent.fork(StreamId::from_random([4; 8]));
    let child_events =
        vec![child.enter_task("CA", t(1)).unwrap(), child.exit_task(TaskStatus::Completed, t(2)).unwrap()];
    let mut row = RunRow::default();
    assert!(matches!(row.apply(&child_events[0]), Err(CoreError::NotStarted { .. })));
    // The store then receives the start and rebuilds from everything it has.
    let mut all = child_events.clone();
    all.push(start);
    let (row, tasks) = rebuild(&all).unwrap();
    assert_eq!(row.status, Some(RunStatus::Running));
    assert_eq!((row.current_task_number, row.tasks_done), (1, 1));
    assert_eq!(tasks.len(), 1);
    assert!(rebuild(&child_events).is_none());
}

#[test]
fn external_events_are_validated() {
    let (mut s, start) = Session::start(RunId::from_parts(1, [13; 10]), meta(None), t(0)).unwrap();
    validate_event(&start).unwrap();
    let mut bad = s.enter_task("ok", t(1)).unwrap();
    bad.kind = EventKind::TaskEntered { task: 1, depth: 0, name: String::new() };
    assert!(matches!(validate_event(&bad), Err(CoreError::Empty { .. })));
    bad.seq = 0;
    assert!(validate_event(&bad).is_err());
}

#[test]
fn resource_samples_keep_the_maximum() {
    let (mut s, start) = Session::start(RunId::from_parts(1, [14; 10]), meta(None), t(0)).unwrap();
    let sample = |rss, cpu| tracker_core::ResourceSample {
        rss_bytes: rss,
        peak_rss_bytes: rss,
        cpu_seconds: cpu,
        read_bytes: 10,
        write_bytes: 20,
    };
    let events =
        vec![start, s.sample(sample(100, 1.0), t(1)).unwrap(), s.sample(sample(50, 2.5), t(2)).unwrap()];
    let (row, _) = fold(&events);
    assert_eq!(row.peak_rss_bytes, Some(100));
    assert_eq!(row.cpu_seconds, Some(2.5));
    assert_eq!((row.read_bytes, row.write_bytes), (Some(10), Some(20)));
}

// ---------------------------------------------------------------- properties

#[derive(Clone, Debug)]
enum Call {
    Enter(String),
    Exit(bool),
    Message(String),
    Progress(i64, i64),
    Total(i64),
    Heartbeat,
    Fork,
    Finish(u8),
    /// The monitor marks the run lost (its own stream, not a session call).
    MarkLost,
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        4 => "[a-zA-Z ]{0,12}".prop_map(Call::Enter),
        4 => any::<bool>().prop_map(Call::Exit),
        2 => "[a-z\n]{0,8}".prop_map(Call::Message),
        2 => (-2i64..60, -2i64..60).prop_map(|(d, t)| Call::Progress(d, t)),
        1 => (-1i64..12).prop_map(Call::Total),
        1 => Just(Call::Heartbeat),
        1 => Just(Call::Fork),
        1 => (0u8..4).prop_map(Call::Finish),
        1 => Just(Call::MarkLost),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_sequence_of_calls_breaks_the_invariants(total in proptest::option::of(0u32..8), calls in proptest::collection::vec(call(), 0..60)) {
        let run_id = RunId::from_parts(5, [5; 10]);
        let (main, start) = Session::start(run_id, meta(total), t(0)).unwrap();
        let mut sessions = vec![main];
        let mut events = vec![start];
        let mut finished = false;
        let mut monitor_seq = 0;
        for (i, call) in calls.into_iter().enumerate() {
            let at = t(i as i64 + 1);
            let which = i % sessions.len();
            let s = &mut sessions[which];
            let result: Result<Vec<Event>, CoreError> = match call {
                Call::Enter(name) => s.enter_task(&name, at).map(|e| vec![e]),
                Call::Exit(ok) => s.exit_task(if ok { TaskStatus::Completed } else { TaskStatus::Failed }, at).map(|e| vec![e]),
                Call::Message(text) => s.message(&text, at).map(|e| vec![e]),
                Call::Progress(d, t) => s.progress(d, t, at).map(|e| vec![e]),
                Call::Total(n) => tracker_core::validate::total_tasks(n)
                    .and_then(|n| s.update(StatusUpdate { total_tasks: Some(n), ..StatusUpdate::default() }, at))
                    .map(|e| vec![e]),
                Call::Heartbeat => s.heartbeat(at).map(|e| vec![e]),
                Call::Fork => {
                    let child = s.fork(StreamId::from_random([(i as u8).wrapping_add(1); 8]));
                    sessions.push(child);
                    Ok(Vec::new())
                }
                Call::MarkLost => {
                    monitor_seq += 1;
                    Ok(vec![Event::marked_lost(run_id, monitor_seq, at)])
                }
                Call::Finish(kind) => {
                    let status = [RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled, RunStatus::Running][kind as usize];
                    let r = s.finish(RunEnd { status, exit_code: None, signal: None, error: None }, at);
                    if which == 0 && r.is_ok() { finished = true; }
                    r
                }
            };
            if let Ok(new) = result {
                // A session whose run finished produces nothing more.
                if finished && which == 0 {
                    let only_closing = new.iter().all(|e| matches!(e.kind, EventKind::TaskExited { .. } | EventKind::RunFinished(_)));
                    prop_assert!(only_closing);
                }
                events.extend(new);
            }
            if finished {
                prop_assert!(sessions[0].enter_task("x", at).is_err());
                prop_assert!(sessions[0].message("x", at).is_err());
            }
        }
        // seq strictly increasing per stream, from 1, without gaps.
        let mut last: BTreeMap<StreamId, u64> = BTreeMap::new();
        for e in &events {
            let prev = last.insert(e.stream, e.seq).unwrap_or(0);
            prop_assert_eq!(e.seq, prev + 1);
            prop_assert!(validate_event(e).is_ok());
        }
        // Projection invariants, applied in arrival order; refusals leave the row intact.
        let mut row = RunRow::default();
        let mut tasks = BTreeMap::new();
        let mut ended = false;
        for e in &events {
            let before = row.clone();
            if let Ok(changes) = row.apply(e) {
                for c in &changes { c.apply_to(&mut tasks); }
                let entered = matches!(e.kind, EventKind::TaskEntered { .. });
                prop_assert!(!(ended && entered));
                // A lost run that reports again is running again; only a real end is final.
                if before.status == Some(RunStatus::Lost) && entered {
                    prop_assert_eq!(row.status, Some(RunStatus::Running));
                }
                if let EventKind::RunFinished(end) = &e.kind
                    && end.status != RunStatus::Lost
                {
                    ended = true;
                }
            } else {
                prop_assert_eq!(&row, &before);
            }
            prop_assert!(row.tasks_done <= row.current_task_number);
            if let Some(total) = row.total_tasks { prop_assert!(row.tasks_done <= total); }
            if let (Some(d), Some(t)) = (row.progress_done, row.progress_total) { prop_assert!(d <= t); }
            if let Some(p) = row.progress_percent() { prop_assert!((0.0..=100.0).contains(&p)); }
        }
        if ended {
            prop_assert!(tasks.values().all(|task: &tracker_core::TaskRow| task.status != TaskStatus::Running || task.stream != StreamId::MAIN));
        }
        // Rebuilding from the same events in any order gives the same status.
        let mut shuffled = events.clone();
        shuffled.reverse();
        let (rebuilt, _) = rebuild(&shuffled).unwrap();
        prop_assert_eq!(rebuilt.status, row.status);
    }
}

#[test]
fn task_change_close_open_only_touches_running_tasks() {
    let mut tasks = BTreeMap::new();
    let (mut s, start) = Session::start(RunId::from_parts(1, [15; 10]), meta(None), t(0)).unwrap();
    let mut row = RunRow::default();
    row.apply(&start).unwrap();
    for e in [
        s.enter_task("a", t(1)).unwrap(),
        s.exit_task(TaskStatus::Completed, t(2)).unwrap(),
        s.enter_task("b", t(3)).unwrap(),
    ] {
        for c in row.apply(&e).unwrap() {
            c.apply_to(&mut tasks);
        }
    }
    TaskChange::CloseOpen { status: TaskStatus::Failed, at: t(9) }.apply_to(&mut tasks);
    assert_eq!(tasks[&(StreamId::MAIN, 1)].finished_at, Some(t(2)));
    assert_eq!(tasks[&(StreamId::MAIN, 2)].status, TaskStatus::Failed);
}

#[test]
fn a_lost_run_that_reports_again_is_running_again() {
    let (mut s, start) = Session::start(RunId::from_parts(1, [16; 10]), meta(None), t(0)).unwrap();
    let lost = Event::marked_lost(start.run_id, 1, t(100));
    let (row, _) = fold(&[start.clone(), lost.clone()]);
    assert_eq!((row.status, row.finished_at), (Some(RunStatus::Lost), Some(t(100))));
    let (row, _) = fold(&[start, lost, s.enter_task("still here", t(101)).unwrap()]);
    assert_eq!((row.status, row.finished_at), (Some(RunStatus::Running), None));
}
