//! The cases, each run against SQLite and Postgres by `main.rs`.
// Each case owns its harness: dropping it at the end removes the store and spool.
#![allow(clippy::needless_pass_by_value)]

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracker_client::{ClientError, ExitReason, InitOptions, StatusFields, Tracker};
use tracker_core::{EventKind, RunId, RunStatus, StreamId, TaskStatus};

use crate::harness::{Backend, Harness};

fn count(events: &[tracker_core::Event], name: &str) -> usize {
    events.iter().filter(|e| e.kind.name() == name).count()
}

fn init(tracker: &Tracker, script: &str, total: Option<i64>) -> RunId {
    tracker
        .init(InitOptions {
            script_name: Some(script.into()),
            script_path: Some(format!("{}/{script}", env!("CARGO_MANIFEST_DIR"))),
            total_tasks: total,
            ..InitOptions::default()
        })
        .expect("init")
}

/// Collects warnings for one test (the hook is process-wide, so tests only add to it).
fn quiet() {
    tracker_client::set_warning_hook(|_| {});
}

pub(crate) fn all_events_of_a_run_land_with_metadata(h: Harness) {
    let tracker = h.tracker();
    let run_id = init(&tracker, "DAILY_01_BDC_Locations.R", Some(3));
    for (i, state) in ["Alabama", "Alaska", "Arizona"].iter().enumerate() {
        tracker.enter(&format!("Load {state}")).unwrap();
        tracker.message(&format!("reading {state}")).unwrap();
        tracker.progress(i as i64 + 1, 3).unwrap();
        tracker.exit().unwrap();
    }
    tracker
        .status(StatusFields { message: Some("writing tables".into()), ..StatusFields::default() })
        .unwrap();
    tracker.finish().unwrap();
    let report = tracker.flush(Duration::from_secs(10));
    assert!(report.complete && report.spooled == 0, "{report:?}");

    let run = h.run(run_id);
    assert_eq!(run.status, Some(RunStatus::Completed));
    assert_eq!(run.script_name, "DAILY_01_BDC_Locations.R");
    assert_eq!(run.category, "DAILY");
    assert_eq!((run.tasks_done, run.total_tasks), (3, Some(3)));
    assert_eq!(run.message.as_deref(), Some("writing tables"));
    assert_eq!(run.pid, Some(std::process::id()));
    assert!(run.host.as_deref().is_some_and(|h| !h.is_empty()));
    assert_eq!(run.language.as_deref(), Some("rust"));
    assert_eq!(run.git_commit.as_ref().map(String::len), Some(40), "the script sits in this git checkout");
    assert!(run.working_dir.is_some() && !run.env.is_empty());
    let tasks = h.tasks(run_id);
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Load Alabama", "Load Alaska", "Load Arizona"]);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Completed && t.stream == StreamId::MAIN));
    assert_eq!(tasks[2].message.as_deref(), Some("reading Arizona"));
    let events = h.events(run_id);
    assert_eq!(count(&events, "run_started"), 1);
    assert_eq!(count(&events, "task_entered"), 3);
    assert_eq!(count(&events, "task_exited"), 3);
    assert_eq!(count(&events, "run_finished"), 1);
    assert!(h.spool_files().is_empty(), "{:?}", h.spool_files());
}

/// The store really fails: SQLite is locked by another connection (every write
/// gets SQLITE_BUSY); Postgres runs on a throwaway cluster that is stopped with
/// `pg_ctl stop -m fast` and started again.
pub(crate) fn store_down_then_up_lands_every_event_exactly_once(h: Harness) {
    quiet();
    let h = if h.backend == Backend::Postgres {
        drop(h);
        Harness::postgres_cluster()
    } else {
        h
    };
    let tracker = h.tracker();
    let run_id = init(&tracker, "ANNUAL_DEC_03_ACS_Hex_Aggregation.R", Some(60));
    for i in 0..20 {
        tracker.enter(&format!("state {i}")).unwrap();
        tracker.exit().unwrap();
    }
    assert!(tracker.flush(Duration::from_secs(10)).complete);

    // Outage.
    let lock = match h.backend {
        Backend::Sqlite => Some(h.stall()),
        Backend::Postgres => {
            h.cluster().expect("cluster").stop();
            None
        }
    };
    for i in 20..40 {
        tracker.enter(&format!("state {i}")).unwrap();
        tracker.progress(1, 2).unwrap();
        tracker.exit().unwrap();
    }
    let during = tracker.flush(Duration::from_secs(3));
    assert!(!during.complete && during.spooled > 0, "events must be spooled during the outage: {during:?}");
    assert!(!h.spool_files().is_empty());

    // Back.
    match lock {
        Some(lock) => lock.end(),
        None => h.cluster().expect("cluster").restart(),
    }
    for i in 40..60 {
        tracker.enter(&format!("state {i}")).unwrap();
        tracker.exit().unwrap();
    }
    tracker.finish().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut report = tracker.flush(Duration::from_secs(10));
    while !report.complete && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        report = tracker.flush(Duration::from_secs(10));
    }
    assert!(report.complete, "{report:?}");

    let events = h.events(run_id);
    assert_eq!(count(&events, "task_entered"), 60);
    assert_eq!(count(&events, "task_exited"), 60);
    assert_eq!(count(&events, "run_finished"), 1);
    let mut keys: Vec<(i64, u64)> = events.iter().map(|e| (e.stream.get(), e.seq)).collect();
    let before = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), before, "an event was stored twice");
    let tasks = h.tasks(run_id);
    assert_eq!(tasks.len(), 60);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Completed), "{tasks:?}");
    let run = h.run(run_id);
    assert_eq!((run.status, run.tasks_done), (Some(RunStatus::Completed), 60));
    assert!(h.spool_files().is_empty(), "the replayed spool is deleted: {:?}", h.spool_files());
}

pub(crate) fn a_slow_store_overflows_the_queue_into_the_spool_and_nothing_is_lost(h: Harness) {
    quiet();
    let config = tracker_client::ClientConfig { queue_capacity: 16, batch_size: 8, ..h.client_config() };
    let tracker = Tracker::new(config);
    let run_id = init(&tracker, "DAILY_02_Provider_Tables.R", None);
    assert!(tracker.flush(Duration::from_secs(10)).complete);
    let stall = h.stall();
    let started = Instant::now();
    for i in 0..2_000 {
        tracker.enter(&format!("provider {i}")).unwrap();
        tracker.exit().unwrap();
    }
    // The calls never waited for the stalled store.
    assert!(started.elapsed() < Duration::from_secs(5), "calls blocked: {:?}", started.elapsed());
    assert!(!h.spool_files().is_empty(), "a full queue spills to the spool");
    stall.end();
    tracker.finish().unwrap();
    // Generous: Postgres appends that timed out during the stall finish first, and CI machines are busy.
    let deadline = Instant::now() + Duration::from_mins(2);
    let mut report = tracker.flush(Duration::from_secs(10));
    while !report.complete && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        report = tracker.flush(Duration::from_secs(10));
    }
    assert!(report.complete, "{report:?}");
    let tasks = h.tasks(run_id);
    assert_eq!(tasks.len(), 2_000);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Completed));
    let run = h.run(run_id);
    assert_eq!((run.status, run.tasks_done), (Some(RunStatus::Completed), 2_000));
    assert!(h.events(run_id).iter().all(|e| !matches!(e.kind, EventKind::StatusUpdate(_))));
}

fn kill_worker_after_spooling(h: &Harness) -> RunId {
    let mut child = crate::worker::spawn("spool-and-wait", &[("PT_SPOOL", h.spool.to_str().unwrap())]);
    let stdout = child.stdout.take().expect("stdout");
    let mut run_id = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("worker output");
        // The test harness prints `test worker::entry ... ` on the same line first.
        if let Some((_, id)) = line.split_once("READY ") {
            run_id = Some(id.parse::<RunId>().expect("run id"));
            break;
        }
    }
    let run_id = run_id.expect("the worker reported READY");
    // SIGKILL: no exit hook, no flush, nothing runs.
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    assert!(!h.spool_files().is_empty(), "the killed worker left its spool");
    run_id
}

pub(crate) fn a_killed_process_leaves_a_spool_the_next_process_replays(h: Harness) {
    quiet();
    let run_id = kill_worker_after_spooling(&h);
    // The next tracked process on this machine finds the segment and replays it.
    let next = h.tracker();
    let own = init(&next, "DAILY_10_Next.R", None);
    next.finish().unwrap();
    let report = next.shutdown(ExitReason::Code(0));
    assert!(report.complete, "{report:?}");
    let run = h.run(run_id);
    assert_eq!(run.script_name, "DAILY_09_Killed.R");
    assert_eq!(run.status, Some(RunStatus::Running), "killed: never finished (the monitor marks it lost)");
    assert_eq!(run.tasks_done, 40);
    assert_eq!(h.tasks(run_id).len(), 40);
    assert_eq!(h.run(own).status, Some(RunStatus::Completed));
    assert!(h.spool_files().is_empty(), "{:?}", h.spool_files());
}

/// A worker a pool ends with SIGTERM stores what it recorded first, then dies
/// of the signal; the signal is sent to a thread other than the main one (the
/// kernel may pick any), which a handler on the main thread would never see.
pub(crate) fn a_sigterm_flushes_then_ends_the_process(h: Harness) {
    use std::os::unix::process::ExitStatusExt;
    let mut child = crate::worker::spawn(
        "sigterm",
        &[
            ("PIPETRACK_DATABASE_URL", h.url.as_str()),
            ("PIPETRACK_SPOOL_DIR", h.spool.to_str().unwrap()),
            ("PIPETRACK_FLUSH_MS", "600000"),
            ("PIPETRACK_SAMPLE_S", "0"),
        ],
    );
    let stdout = child.stdout.take().expect("stdout");
    let run_id = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split_once("READY ").map(|(_, id)| id.parse::<RunId>().expect("run id")))
        .expect("the worker reported READY");
    let pid = child.id();
    let thread = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the worker's threads")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .find(|&tid| tid != i64::from(pid))
        .expect("the worker has a thread besides its main one");
    #[allow(unsafe_code)]
    // SAFETY: tgkill takes plain integers.
    let sent = unsafe { libc::syscall(libc::SYS_tgkill, i64::from(pid), thread, libc::SIGTERM) };
    assert_eq!(sent, 0, "tgkill: {}", std::io::Error::last_os_error());
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("the worker did not die of its SIGTERM within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    let tasks = h.tasks(run_id);
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].name.as_str(), tasks[0].status), ("worker task", TaskStatus::Completed));
    let messages: Vec<_> = h
        .events(run_id)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::StatusUpdate(update) => update.message,
            _ => None,
        })
        .collect();
    assert_eq!(messages, ["before the SIGTERM"]);
    assert!(h.spool_files().is_empty(), "{:?}", h.spool_files());
}

pub(crate) fn spool_replay_as_operators_run_it(h: Harness) {
    quiet();
    let run_id = kill_worker_after_spooling(&h);
    let listed = tracker_client::spool::list(&h.spool).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, tracker_client::spool::SegmentState::Ready);
    assert_eq!(listed[0].runs, vec![run_id]);
    assert!(listed[0].records >= 81, "start + 40 tasks entered and exited: {listed:?}");
    let report = h.runtime.block_on(tracker_client::spool::replay_dir(&h.store, &h.spool, 500, &[]));
    assert_eq!(report.segments, 1, "{report:?}");
    assert_eq!(report.inserted, report.events);
    assert_eq!(report.stopped, None);
    assert_eq!(h.tasks(run_id).len(), 40);
    assert!(h.spool_files().is_empty());
    // A damaged segment is replayed up to the damage, kept as .corrupt, and reported.
    let run_id = kill_worker_after_spooling(&h);
    let segment = h.spool_files().pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
    let report = h.runtime.block_on(tracker_client::spool::replay_dir(&h.store, &h.spool, 500, &[]));
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert!(report.inserted > 0 && report.inserted < 81, "{report:?}");
    assert!(h.run(run_id).tasks_done < 40);
    let left = tracker_client::spool::list(&h.spool).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, tracker_client::spool::SegmentState::Corrupt);
    // Replaying again changes nothing and does not fail.
    let again = h.runtime.block_on(tracker_client::spool::replay_dir(&h.store, &h.spool, 500, &[]));
    assert_eq!((again.segments, again.inserted), (0, 0));
}

#[allow(unsafe_code)] // fork() and _exit() are what R's mclapply and Python's multiprocessing do
pub(crate) fn a_fork_storm_reports_into_the_parent_run(h: Harness) {
    const CHILDREN: usize = 200;
    // A hang must fail the test, not block the suite.
    let watchdog_done = Arc::new(Mutex::new(false));
    let flag = watchdog_done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_mins(3));
        if !*flag.lock().unwrap() {
            #[allow(clippy::print_stderr)] // the only way to say why the test aborts
            {
                eprintln!("fork storm did not finish in 3 minutes");
            }
            std::process::abort();
        }
    });
    let tracker = h.tracker();
    let run_id = init(&tracker, "ANNUAL_DEC_05_Block20_Info_Table.R", Some(1));
    tracker.enter("Aggregate counties in parallel").unwrap();
    let mut pids = Vec::with_capacity(CHILDREN);
    for i in 0..CHILDREN {
        // SAFETY: the child only calls the tracker and then _exit, like a forked R/Python worker.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let ok = tracker.enter(&format!("county {i}")).is_ok()
                && tracker.progress(1, 1).is_ok()
                && tracker.exit().is_ok()
                && tracker.is_forked_child();
            // SAFETY: ends the child without running the parent's exit handlers or destructors.
            unsafe { libc::_exit(if ok { 0 } else { 3 }) };
        }
        pids.push(pid);
        // The parent keeps reporting while children run.
        tracker.message(&format!("forked {i}")).unwrap();
    }
    for pid in pids {
        let mut status = 0;
        // SAFETY: waits for our own child.
        let waited = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        assert_eq!(waited, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child failed: {status}");
    }
    tracker.exit().unwrap();
    tracker.finish().unwrap();
    let report = tracker.shutdown(ExitReason::Code(0));
    *watchdog_done.lock().unwrap() = true;
    assert!(report.complete, "{report:?}");
    let tasks = h.tasks(run_id);
    let children: Vec<_> = tasks.iter().filter(|t| t.stream != StreamId::MAIN).collect();
    assert_eq!(children.len(), CHILDREN, "every child's task landed");
    let mut streams: Vec<i64> = children.iter().map(|t| t.stream.get()).collect();
    streams.sort_unstable();
    streams.dedup();
    assert_eq!(streams.len(), CHILDREN, "one stream per child");
    assert!(children.iter().all(|t| t.status == TaskStatus::Completed && t.depth == 1));
    assert_eq!(h.run_count(), 1, "children joined the parent's run");
    assert_eq!(h.run(run_id).status, Some(RunStatus::Completed));
    assert!(h.spool_files().is_empty(), "{:?}", h.spool_files());
}

pub(crate) fn a_joining_process_adds_a_stream_not_a_run(h: Harness) {
    let launcher = h.tracker();
    let run_id = init(&launcher, "DAILY_03_Hexagon_Prospecting.R", None);
    let error_file = h.spool.join("error.json");
    let mut config = h.client_config();
    config.inherited.run_id = Some(run_id);
    config.inherited.error_file = Some(error_file.clone());
    let script = Tracker::new(config);
    assert_eq!(init(&script, "DAILY_03_Hexagon_Prospecting.R", Some(2)), run_id);
    assert_ne!(script.stream(), Some(StreamId::MAIN));
    script.enter("Prospect hexagons").unwrap();
    script.error("object 'hex_id' not found", Some("simpleError"), Some("f()\ng()")).unwrap();
    // The joined stream does not finish the run; it hands the error to the launcher.
    assert!(matches!(script.enter("late"), Err(ClientError::RunFinished(_))));
    let handed: tracker_core::ErrorInfo =
        serde_json::from_slice(&std::fs::read(&error_file).unwrap()).unwrap();
    assert_eq!(handed.class.as_deref(), Some("simpleError"));
    assert!(script.flush(Duration::from_secs(10)).complete);
    assert_eq!(h.run(run_id).status, Some(RunStatus::Running));
    launcher
        .finish_with(tracker_client::RunEnd {
            status: RunStatus::Failed,
            exit_code: Some(1),
            signal: None,
            error: Some(handed),
        })
        .unwrap();
    assert!(launcher.flush(Duration::from_secs(10)).complete);
    assert_eq!(h.run_count(), 1);
    let run = h.run(run_id);
    assert_eq!((run.status, run.exit_code), (Some(RunStatus::Failed), Some(1)));
    assert_eq!(run.error_message.as_deref(), Some("object 'hex_id' not found"));
    let tasks = h.tasks(run_id);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].status, TaskStatus::Failed);
    assert_ne!(tasks[0].stream, StreamId::MAIN);

    // A joined script that just exits non-zero hands nothing over: the launcher
    // sees the exit status and the output itself.
    std::fs::remove_file(&error_file).unwrap();
    let mut config = h.client_config();
    config.inherited.run_id = Some(run_id);
    config.inherited.error_file = Some(error_file.clone());
    let script = Tracker::new(config);
    init(&script, "DAILY_03_Hexagon_Prospecting.R", None);
    script.enter("crashes").unwrap();
    assert!(script.shutdown(ExitReason::Code(1)).complete);
    assert!(!error_file.exists(), "only track_error hands an error over");
}

pub(crate) fn exit_reasons_finish_the_run(h: Harness) {
    let cases = [
        (ExitReason::Code(0), RunStatus::Completed, Some(0), None),
        (ExitReason::Code(3), RunStatus::Failed, Some(3), None),
        (ExitReason::Signal(2), RunStatus::Cancelled, None, Some(2)),
        (ExitReason::Unknown, RunStatus::Completed, None, None),
    ];
    for (reason, status, exit_code, signal) in cases {
        let tracker = h.tracker();
        let run_id = init(&tracker, "STATIC_02_Technology_Codes.R", None);
        tracker.enter("open at exit").unwrap();
        let report = tracker.shutdown(reason);
        assert!(report.complete, "{reason:?}: {report:?}");
        let run = h.run(run_id);
        assert_eq!((run.status, run.exit_code, run.signal), (Some(status), exit_code, signal), "{reason:?}");
        let task_status =
            if status == RunStatus::Completed { TaskStatus::Completed } else { TaskStatus::Failed };
        assert_eq!(h.tasks(run_id)[0].status, task_status, "{reason:?}");
    }
    // Dropping a tracker finishes its run too.
    let run_id = {
        let tracker = h.tracker();
        init(&tracker, "STATIC_03.R", None)
    };
    assert_eq!(h.run(run_id).status, Some(RunStatus::Completed));
}

pub(crate) fn heartbeats_and_resource_samples_are_recorded(h: Harness) {
    let config = tracker_client::ClientConfig {
        heartbeat_interval: Duration::from_millis(200),
        sample_interval: Some(Duration::from_millis(200)),
        ..h.client_config()
    };
    let tracker = Tracker::new(config);
    let run_id = init(&tracker, "PERIODIC_01_ESRI_Hex_Data.R", None);
    let buffer = vec![7u8; 32 * 1024 * 1024];
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(buffer.iter().map(|b| u64::from(*b)).sum::<u64>(), 7 * 32 * 1024 * 1024);
    assert!(tracker.flush(Duration::from_secs(10)).complete);
    let run = h.run(run_id);
    assert!(run.heartbeat_at > run.started_at, "{:?} vs {:?}", run.heartbeat_at, run.started_at);
    assert!(run.peak_rss_bytes.unwrap_or(0) > 32 * 1024 * 1024, "{:?}", run.peak_rss_bytes);
    assert!(run.cpu_seconds.is_some());
    let samples = h.events(run_id).iter().filter(|e| e.kind.name() == "resource_sample").count();
    assert!(samples >= 2, "{samples} samples");
}

pub(crate) fn high_rate_updates_are_coalesced_to_the_latest_value(h: Harness) {
    let config =
        tracker_client::ClientConfig { flush_interval: Duration::from_millis(100), ..h.client_config() };
    let tracker = Tracker::new(config);
    let run_id = init(&tracker, "ANNUAL_SEPT_02_Road_Lengths_Hex.R", None);
    tracker.enter("Counties").unwrap();
    for done in 1..=10_000 {
        tracker.progress(done, 10_000).unwrap();
    }
    tracker.message("all counties done").unwrap();
    assert!(tracker.flush(Duration::from_secs(10)).complete);
    let run = h.run(run_id);
    assert_eq!((run.progress_done, run.progress_total), (Some(10_000), Some(10_000)));
    assert_eq!(run.message.as_deref(), Some("all counties done"));
    let updates = h.events(run_id).iter().filter(|e| e.kind.name() == "status_update").count();
    assert!(updates < 1_000, "10,001 updates were written as {updates} events");
    let task = &h.tasks(run_id)[0];
    assert_eq!(task.progress_done, Some(10_000));
}

pub(crate) fn bad_input_is_a_clear_error_never_a_panic(h: Harness) {
    let tracker = h.tracker();
    // Before a run: gexit has nothing to close; a finish has nothing to finish.
    assert_eq!(tracker.exit().unwrap_err().kind(), "not_started");
    assert_eq!(tracker.finish().unwrap_err().kind(), "not_started");
    let bad_init = tracker.init(InitOptions { total_tasks: Some(-1), ..InitOptions::default() }).unwrap_err();
    assert_eq!(bad_init.to_string(), "total_tasks is -1, but it cannot be negative");
    let bad_name =
        tracker.init(InitOptions { script_name: Some("a\u{7}b".into()), ..InitOptions::default() });
    assert_eq!(bad_name.unwrap_err().kind(), "invalid_argument");

    let run_id = init(&tracker, "DAILY_04_Federal_Funding.R", None);
    let cases: Vec<(Result<(), ClientError>, &str, &str)> = vec![
        (tracker.enter(""), "invalid_argument", "task name is empty"),
        (tracker.enter("line\nbreak"), "invalid_argument", "control character U+000A"),
        (tracker.enter(&"x".repeat(501)), "invalid_argument", "over the limit of 500"),
        (tracker.message(&"m".repeat(4_001)), "invalid_argument", "over the limit of 4000"),
        (tracker.message("nul\u{0}"), "invalid_argument", "control character U+0000"),
        (tracker.progress(-1, 5), "invalid_argument", "cannot be negative"),
        (tracker.progress(6, 5), "invalid_argument", "greater than its total"),
        (tracker.exit(), "no_open_task", "no task is open"),
        (
            tracker.status(StatusFields { progress: Some((3, 2)), ..StatusFields::default() }),
            "invalid_argument",
            "greater than its total",
        ),
        (
            tracker.status(StatusFields { total_tasks: Some(20_000_000), ..StatusFields::default() }),
            "invalid_argument",
            "over the limit",
        ),
        (
            tracker.status(StatusFields { current_task: Some("  ".into()), ..StatusFields::default() }),
            "invalid_argument",
            "current task is empty",
        ),
        (tracker.error("", Some("bad\nclass"), None), "invalid_argument", "error class"),
    ];
    for (result, kind, fragment) in cases {
        let err = result.expect_err(fragment);
        assert_eq!(err.kind(), kind, "{err}");
        assert!(err.to_string().contains(fragment), "{err:?} should mention {fragment:?}");
    }
    assert_eq!(
        tracker.init(InitOptions::default()).unwrap_err().kind(),
        "already_started",
        "a second track_init while a run is open"
    );
    // Nothing invalid was recorded, and the run is still usable.
    tracker.enter("valid").unwrap();
    tracker.exit().unwrap();
    tracker.error("disk full", Some("OSError"), Some("Traceback ...")).unwrap();
    for result in [tracker.enter("after"), tracker.finish(), tracker.message("x")] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), "run_finished");
        assert!(err.to_string().contains("already finished as failed"), "{err}");
    }
    assert!(tracker.flush(Duration::from_secs(10)).complete);
    let run = h.run(run_id);
    assert_eq!(run.status, Some(RunStatus::Failed));
    assert_eq!((run.error_class.as_deref(), run.tasks_done), (Some("OSError"), 1));
}

/// Two threads shut down at once (a worker's normal exit and its SIGTERM
/// flush): the second waits until the first has flushed, so the process never
/// dies mid-flush. The store is a server that accepts connections and never
/// answers, so the first shutdown lasts its whole flush timeout.
pub(crate) fn a_second_shutdown_waits_for_the_first() {
    quiet();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let url = format!("postgres://pipetrack@127.0.0.1:{}/none", silent.local_addr().unwrap().port());
    let spool = std::env::temp_dir().join(format!("pt_two_shutdowns_{}", uuid::Uuid::new_v4().simple()));
    let config = tracker_client::ClientConfig {
        store: tracker_client::config::StoreSetting::Given(
            tracker_db::StoreConfig::from_url(&url, tracker_db::config::Source::Code).expect("url"),
        ),
        sample_interval: None,
        store_timeout: Duration::from_secs(1),
        exit_flush_timeout: Duration::from_secs(1),
        spool_dir: spool.clone(),
        ..tracker_client::ClientConfig::default()
    };
    let tracker = Arc::new(Tracker::new(config));
    init(&tracker, "DAILY_12_Two_Exits.py", None);
    tracker.enter("task").unwrap();
    tracker.exit().unwrap();
    let started = Instant::now();
    let first = {
        let tracker = Arc::clone(&tracker);
        std::thread::spawn(move || {
            let report = tracker.shutdown(ExitReason::Code(0));
            (report, Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let second = tracker.shutdown(ExitReason::Unknown);
    let second_returned = Instant::now();
    let (first, first_returned) = first.join().expect("first shutdown");
    assert!(!first.complete && first.spooled > 0, "the silent store took nothing: {first:?}");
    assert_eq!(second, tracker_client::FlushReport::default());
    assert!(
        first_returned <= second_returned + Duration::from_millis(100),
        "the second shutdown returned {:?} after the start, the first only {:?} after it",
        second_returned - started,
        first_returned - started,
    );
    let _ = std::fs::remove_dir_all(spool);
}
