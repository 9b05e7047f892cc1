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
