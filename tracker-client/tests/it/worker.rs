//! Worker processes: the test binary re-runs itself with `PT_TEST_WORKER` set
//! and this test's name, to be a tracked script that the test can kill.

use std::io::Write;
use std::time::Duration;

use tracker_client::config::StoreSetting;
use tracker_client::{ClientConfig, InitOptions, Tracker};
use tracker_db::StoreConfig;
use tracker_db::config::Source;

/// Runs the test binary as a worker of `mode`; returns the child with piped stdout.
pub(crate) fn spawn(mode: &str, envs: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "worker::entry", "--nocapture", "--test-threads=1"])
        .env("PT_TEST_WORKER", mode)
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn worker")
}

#[test]
fn entry() {
    let Ok(mode) = std::env::var("PT_TEST_WORKER") else {
        return; // Not a worker: nothing to do in a normal test run.
    };
    match mode.as_str() {
        "spool-and-wait" => spool_and_wait(),
        "sigterm" => record_then_wait_for_sigterm(),
        other => panic!("unknown worker mode {other}"),
    }
}

/// A script whose store is unreachable: 40 tasks, all spooled (and fsynced),
/// then it says READY with its run id and waits to be killed.
fn spool_and_wait() {
    let spool = std::env::var("PT_SPOOL").expect("PT_SPOOL");
    // A directory under a regular file can never be created, even by root.
    let store = StoreConfig::sqlite("/dev/null/pipetrack/unreachable.db", Source::Code);
    let config = ClientConfig {
        store: StoreSetting::Given(store),
        flush_interval: Duration::from_millis(10),
        sample_interval: None,
        spool_dir: spool.into(),
        ..ClientConfig::default()
    };
    tracker_client::set_warning_hook(|_| {});
    let tracker = Tracker::new(config);
    let run_id = tracker
        .init(InitOptions {
            script_name: Some("DAILY_09_Killed.R".into()),
            total_tasks: Some(40),
            ..InitOptions::default()
        })
        .expect("init");
    for i in 0..40 {
        tracker.enter(&format!("county {i}")).expect("enter");
        tracker.exit().expect("exit");
    }
    let report = tracker.flush(Duration::from_secs(5));
    assert!(!report.complete && report.spooled > 0, "{report:?}");
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY {run_id}").expect("stdout");
    out.flush().expect("flush");
    std::thread::sleep(Duration::from_mins(2));
}

/// A script on the process-wide tracker (configured by the environment) with
/// the SIGTERM flush armed: one task and a message, then READY with its run id
/// and a wait for the signal. Its writer only writes every ten minutes (the
/// parent sets `PIPETRACK_FLUSH_MS`), so what lands got there by the flush.
fn record_then_wait_for_sigterm() {
    let run_id = tracker_client::track_init(InitOptions {
        script_name: Some("DAILY_11_Terminated.py".into()),
        ..InitOptions::default()
    })
    .expect("init")
    .expect("tracking is on");
    tracker_client::genter("worker task").expect("enter");
    tracker_client::gmessage("before the SIGTERM").expect("message");
    tracker_client::gexit().expect("exit");
    assert!(tracker_client::flush_on_sigterm(), "SIGTERM has its default action here");
    assert_eq!(
        forked_child_dies_of_sigterm(),
        Some(libc::SIGTERM),
        "a forked child has the default action again"
    );
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY {run_id}").expect("stdout");
    out.flush().expect("flush");
    drop(out);
    std::thread::sleep(Duration::from_mins(2));
    panic!("no SIGTERM came");
}

/// Forks a child that raises SIGTERM at itself (then exits 0 if it survives);
/// returns the signal that ended it.
#[allow(unsafe_code)] // fork, raise, _exit and waitpid, as a forking R or Python worker does
fn forked_child_dies_of_sigterm() -> Option<i32> {
    // SAFETY: the child only raises a signal and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain calls in the child, no allocation.
        unsafe {
            libc::raise(libc::SIGTERM);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waits for our own child into a local.
    let waited = unsafe { libc::waitpid(pid, &raw mut status, 0) };
    assert_eq!(waited, pid);
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}
