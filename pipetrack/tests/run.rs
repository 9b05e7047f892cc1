//! `pipetrack run` and `pipetrack spool`, end to end: the built binary runs real
//! commands against a real store (a fresh SQLite file per test; one case on a
//! fresh Postgres schema), and the test reads back what was recorded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tracker_core::{RunId, RunRow, RunStatus, TaskStatus};
use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

const BIN: &str = env!("CARGO_BIN_EXE_pipetrack");

/// A scratch directory with a migrated store, a spool and a log directory.
struct Env {
    dir: PathBuf,
    url: String,
    schema: Option<String>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn pg_admin_url() -> String {
    std::env::var("PIPETRACK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl Env {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pt_run_{name}_{}_{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let url = format!("sqlite://{}/pipetrack.db", dir.display());
        let env = Env { dir, url, schema: None };
        env.migrate();
        env
    }

    fn postgres(name: &str) -> Self {
        let mut env = Env::new(name);
        let schema =
            format!("pt_run_{}_{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let admin = pg_admin_url();
        let separator = if admin.contains('?') { '&' } else { '?' };
        env.url = format!("{admin}{separator}schema={schema}");
        env.schema = Some(schema);
        env.migrate();
        env
    }

    fn migrate(&self) {
        let out = self.pipetrack(&["migrate"]).output().expect("migrate");
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn spool(&self) -> PathBuf {
        self.dir.join("spool")
    }

    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// `pipetrack ARGS` with this store, spool and log directory, and no tracking
    /// variables inherited from whatever runs the tests.
    fn pipetrack(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("PIPETRACK_DATABASE_URL", &self.url)
            .env("PIPETRACK_SPOOL_DIR", self.spool())
            .env("PIPETRACK_LOG_DIR", self.logs())
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for var in [
            "PIPETRACK_RUN_ID",
            "PIPETRACK_PIPELINE_RUN_ID",
            "PIPETRACK_ERROR_FILE",
            "MAKELEVEL",
            "MAKEFLAGS",
            "MFLAGS",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        self.pipetrack(&all).output().expect("pipetrack run")
    }

    fn store(&self) -> (tokio::runtime::Runtime, Store) {
        let rt = runtime();
        let store = rt
            .block_on(Store::open(&StoreConfig::from_url(&self.url, Source::Code).expect("url")))
            .expect("open store");
        (rt, store)
    }

    fn runs(&self) -> Vec<RunRow> {
        let (rt, store) = self.store();
        let rows = rt
            .block_on(store.query("SELECT run_id FROM runs ORDER BY started_at", Vec::new()))
            .expect("runs");
        rows.iter()
            .map(|row| {
                let id: RunId = row.text("run_id").expect("id").expect("id").parse().expect("uuid");
                rt.block_on(store.run(id)).expect("run").expect("row")
            })
            .collect()
    }

    fn only_run(&self) -> RunRow {
        let runs = self.runs();
        assert_eq!(runs.len(), 1, "exactly one run: {runs:#?}");
        runs.into_iter().next().expect("one")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            let rt = runtime();
            if let Ok(store) =
                rt.block_on(Store::open(&StoreConfig::from_url(&pg_admin_url(), Source::Code).expect("url")))
            {
                let _ = rt
                    .block_on(store.execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), Vec::new()));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeding_command_is_recorded_with_tasks_log_and_environment(env: &Env) {
    let script = r#"echo "run=$PIPETRACK_RUN_ID"
echo "::pipetrack total 2"
echo "::pipetrack task-enter Load states"
echo "::pipetrack progress 2 5"
echo "::pipetrack message halfway"
echo "::pipetrack task-exit"
echo "::pipetrack task-enter Write tables"
echo "::pipetrack task-exit failed"
echo "to stderr" >&2"#;
    let out = env.run(&["--name", "DAILY_07_Shell_Job.sh", "--", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("::pipetrack task-enter Load states"), "output is shown as is: {stdout}");
    assert_eq!(text(&out.stderr), "to stderr\n");

    let run = env.only_run();
    let run_id = run.run_id.expect("id");
    assert!(stdout.starts_with(&format!("run={run_id}\n")), "the command gets PIPETRACK_RUN_ID: {stdout}");
    assert_eq!(run.status, Some(RunStatus::Completed));
    assert_eq!((run.script_name.as_str(), run.category.as_str()), ("DAILY_07_Shell_Job.sh", "DAILY"));
    assert_eq!((run.exit_code, run.signal), (Some(0), None));
    assert_eq!(run.language.as_deref(), Some("shell"));
    assert!(run.command.as_deref().is_some_and(|c| c.starts_with("sh -c echo")), "{:?}", run.command);
    assert_eq!((run.tasks_done, run.total_tasks), (2, Some(2)));
    assert_eq!(run.message.as_deref(), Some("halfway"));
    assert!(
        run.peak_rss_bytes.unwrap_or(0) > 0 && run.cpu_seconds.is_some(),
        "process tree resources: {run:?}"
    );
    let (rt, store) = env.store();
    let tasks = rt.block_on(store.tasks(run_id)).expect("tasks");
    let summary: Vec<(&str, TaskStatus)> = tasks.iter().map(|t| (t.name.as_str(), t.status)).collect();
    assert_eq!(summary, [("Load states", TaskStatus::Completed), ("Write tables", TaskStatus::Failed)]);
    assert_eq!((tasks[0].progress_done, tasks[0].progress_total), (Some(2), Some(5)));
    let log = PathBuf::from(run.log_path.expect("log path"));
    assert!(log.starts_with(env.logs()), "{}", log.display());
    let logged = std::fs::read_to_string(&log).expect("log file");
    assert!(logged.contains(&format!("run={run_id}")) && logged.contains("to stderr\n"), "{logged}");
}

#[test]
fn a_succeeding_command_on_sqlite() {
    succeeding_command_is_recorded_with_tasks_log_and_environment(&Env::new("ok"));
}

#[test]
fn a_succeeding_command_on_postgres() {
    succeeding_command_is_recorded_with_tasks_log_and_environment(&Env::postgres("ok_pg"));
}

#[test]
fn a_failing_command_fails_the_run_with_its_last_error_line() {
    let env = Env::new("fail");
    let out = env.run(&["--", "sh", "-c", "echo working; echo 'Error: object hex_id not found' >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let run = env.only_run();
    assert_eq!((run.status, run.exit_code), (Some(RunStatus::Failed), Some(3)));
    assert_eq!(run.error_message.as_deref(), Some("Error: object hex_id not found"));
    assert_eq!(run.error_traceback.as_deref(), Some("Error: object hex_id not found"));
}

#[test]
fn a_signalled_command_is_cancelled_and_exits_128_plus_the_signal() {
    let env = Env::new("signal");
    let out = env.run(&["--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(143));
    let run = env.only_run();
    assert_eq!((run.status, run.signal, run.exit_code), (Some(RunStatus::Cancelled), Some(15), None));
}

#[test]
fn a_missing_command_is_a_clear_error_exit_127_and_a_failed_run() {
    let env = Env::new("missing");
    let out = env.run(&["--", "no-such-command-pt-42", "--flag"]);
    assert_eq!(out.status.code(), Some(127));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr,
        "error: command not found: no-such-command-pt-42 (check the name, or that its directory is on PATH)\n"
    );
    let run = env.only_run();
    assert_eq!((run.status, run.exit_code), (Some(RunStatus::Failed), Some(127)));
    assert!(run.error_message.as_deref().is_some_and(|m| m.contains("no-such-command-pt-42")));
    let out = env.pipetrack(&["run"]).output().expect("usage");
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
}

#[test]
fn sigterm_to_pipetrack_reaches_the_command_and_cancels_the_run() {
    let env = Env::new("forward");
    let mut child = env
        .pipetrack(&["run", "--", "sh", "-c", "echo started; exec sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 8];
    std::io::Read::read_exact(child.stdout.as_mut().expect("stdout"), &mut first).expect("started");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(10), "the command was not stopped");
    assert_eq!(out.status.code(), Some(143));
    let run = env.only_run();
    assert_eq!((run.status, run.signal), (Some(RunStatus::Cancelled), Some(15)));
}

#[test]
fn all_scripts_of_one_make_invocation_share_a_pipeline_run_id() {
    let env = Env::new("make");
    let makefile = env.dir.join("Makefile");
    std::fs::write(
        &makefile,
        format!(
            "all: a b\na:\n\t{BIN} run --name DAILY_01_A.sh -- true\nb:\n\t{BIN} run --name DAILY_02_B.sh -- true\n"
        ),
    )
    .expect("Makefile");
    for round in 0..2 {
        let mut make = Command::new("make");
        make.args(["-s", "-f"]).arg(&makefile).current_dir(&env.dir);
        for (key, value) in env.pipetrack(&[]).get_envs() {
            match value {
                Some(value) => make.env(key, value),
                None => make.env_remove(key),
            };
        }
        let status = make.status().expect("make");
        assert!(status.success(), "round {round}");
    }
    let runs = env.runs();
    assert_eq!(runs.len(), 4);
    let ids: Vec<_> = runs.iter().map(|r| r.pipeline_run_id.expect("pipeline run id")).collect();
    assert_eq!(ids[0], ids[1], "one make invocation, one pipeline run");
    assert_eq!(ids[2], ids[3]);
    assert_ne!(ids[0], ids[2], "another make invocation, another pipeline run");
}

/// An instrumented script (this test binary, re-run) joins the run `pipetrack
/// run` created: one run, its tasks on the script's own stream, and its
/// `track_error` recorded with the exit status.
#[test]
fn an_instrumented_script_joins_the_run_instead_of_starting_another() {
    let env = Env::new("join");
    let me = std::env::current_exe().expect("test binary");
    let out = env
        .pipetrack(&["run", "--name", "ANNUAL_DEC_02_ACS_Download.py", "--"])
        .arg(me)
        .args(["--exact", "instrumented_script_entry", "--nocapture", "--test-threads=1"])
        .env("PT_INSTRUMENTED_SCRIPT", "1")
        .output()
        .expect("pipetrack run");
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    let run = env.only_run();
    assert_eq!(run.script_name, "ANNUAL_DEC_02_ACS_Download.py");
    assert_eq!((run.status, run.exit_code), (Some(RunStatus::Failed), Some(2)));
    assert_eq!(run.error_message.as_deref(), Some("HTTP 503 from api.census.gov"));
    assert_eq!(run.error_class.as_deref(), Some("HTTPError"));
    let (rt, store) = env.store();
    let tasks = rt.block_on(store.tasks(run.run_id.expect("id"))).expect("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].name.as_str(), tasks[0].status), ("Download ACS tables", TaskStatus::Failed));
    assert_ne!(tasks[0].stream.get(), 0, "the script writes its own stream");
}

#[test]
fn instrumented_script_entry() {
    if std::env::var_os("PT_INSTRUMENTED_SCRIPT").is_none() {
        return; // Only as the child of the test above.
    }
    let run_id = tracker_client::track_init(tracker_client::InitOptions::default()).expect("init");
    assert_eq!(run_id.map(|id| id.to_string()), std::env::var("PIPETRACK_RUN_ID").ok());
    tracker_client::genter("Download ACS tables").expect("genter");
    tracker_client::track_error("HTTP 503 from api.census.gov", Some("HTTPError"), Some("download()"))
        .expect("error");
    tracker_client::shutdown(tracker_client::ExitReason::Code(2));
    std::process::exit(2);
}

#[test]
fn spool_status_and_replay_for_operators() {
    let env = Env::new("spool");
    // The store is unreachable (a directory under /dev/null cannot exist): the run is spooled.
    let out = env
        .pipetrack(&["run", "--name", "STATIC_04_State_Codes.R", "--", "true"])
        .env("PIPETRACK_DATABASE_URL", "sqlite:///dev/null/nowhere/pipetrack.db")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "a tracking outage never fails the command");
    assert!(text(&out.stderr).contains("kept in the spool"), "{}", text(&out.stderr));
    assert!(env.runs().is_empty());

    let status = env.pipetrack(&["spool", "status", "--json"]).output().expect("status");
    assert!(status.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    let segments = listed["segments"].as_array().expect("segments");
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0]["state"], "ready");
    assert!(segments[0]["records"].as_u64().unwrap_or(0) >= 3, "start, samples, finish: {listed}");

    let replay = env.pipetrack(&["spool", "replay"]).output().expect("replay");
    assert!(replay.status.success(), "{}", text(&replay.stderr));
    assert!(text(&replay.stdout).contains("replayed 1 segments"), "{}", text(&replay.stdout));
    let run = env.only_run();
    assert_eq!(
        (run.script_name.as_str(), run.status),
        ("STATIC_04_State_Codes.R", Some(RunStatus::Completed))
    );
    let status = env.pipetrack(&["spool", "status"]).output().expect("status");
    assert!(text(&status.stdout).contains("empty, nothing waits for the store"), "{}", text(&status.stdout));
    assert_eq!(
        Path::new(&env.spool()).read_dir().map_or(0, Iterator::count),
        0,
        "the replayed segment is deleted"
    );
}
