//! `pipetrack demo`: a populated dashboard with no set-up. On a fresh embedded
//! SQLite file it writes weeks of realistic history (the `history-gen`
//! generator the scale benchmark uses), starts three tracked scripts as real
//! processes that keep reporting (one succeeding over and over, one failing,
//! one stalling), and serves the dashboard. Ctrl-C stops the scripts (their
//! runs end as cancelled), the server, and removes the demo store unless
//! `--dir` was given.
//!
//! The live scripts are this binary run as the hidden `pipetrack demo-script
//! ROLE`: each writes its events through the store like any tracked script and
//! stops when its standard input closes (the demo holds it open).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{Duration, Utc};
use history_gen::{History, HistoryConfig};
use monitor_queries::{Monitor, MonitorConfig};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tracker_core::{
    ErrorInfo, Event, ResourceSample, RunEnd, RunId, RunMeta, RunStatus, Session, TaskStatus,
};
use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

use crate::commands::serve::{options, stop_signal};
use crate::output::{error_line, print};

/// Name of the demo's store file inside its directory.
pub(crate) const DEMO_DB: &str = "pipetrack-demo.db";

/// What `pipetrack demo` was asked.
#[derive(Debug)]
pub(crate) struct DemoOptions {
    pub(crate) bind: SocketAddr,
    pub(crate) days: u32,
    pub(crate) seed: u64,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) seed_only: bool,
    pub(crate) live: bool,
}

/// The live scripts the demo keeps running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// Five tasks with state-by-state progress, completes, starts again.
    Succeeds,
    /// Fails in its third task with a Python-style error and a log file, starts again.
    Fails,
    /// Stops making progress in its second task but stays alive (stalled).
    Stalls,
}

impl Role {
    fn script(self) -> &'static str {
        match self {
            Role::Succeeds => "DAILY_07_Live_Geocoding.R",
            Role::Fails => "DAILY_08_Live_Vendor_Feed.py",
            Role::Stalls => "PERIODIC_02_Live_Stalling_Export.R",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Role::Succeeds => "succeeds",
            Role::Fails => "fails",
            Role::Stalls => "stalls",
        }
    }
}

fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let _ = std::fs::remove_file(path.with_extension("migrate.lock"));
}

pub(crate) async fn run(demo: DemoOptions) -> anyhow::Result<ExitCode> {
    let serve_options = match options(demo.bind, 2) {
        Ok(options) => options,
        Err(err) => {
            error_line(&err.to_string());
            return Ok(ExitCode::from(2));
        }
    };
    let (dir, temporary) = match &demo.dir {
        Some(dir) => (dir.clone(), false),
        None => (std::env::temp_dir().join(format!("pipetrack-demo-{}", std::process::id())), true),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the demo directory {}", dir.display()))?;
    let db = dir.join(DEMO_DB);
    remove_store(&db);
    let config = StoreConfig::sqlite(&db, Source::Code);
    let store = Store::open(&config).await?;
    store.migrate().await.context("preparing the demo store")?;

    let now = Utc::now();
    print(&format!(
        "pipetrack demo: writing {} days of history of ~40 scripts to {}",
        demo.days,
        db.display()
    ));
    let history = History::new(HistoryConfig::last_days(demo.days, now, demo.seed));
    let summary =
        history_gen::write(&store, history, 20_000, |_| {}).await.context("writing the demo history")?;
    print(&format!("  {} runs, {} tasks, {} events", summary.runs, summary.tasks, summary.events));
    if demo.seed_only {
        print(&format!("store ready: sqlite://{}", db.display()));
        return Ok(ExitCode::SUCCESS);
    }

    let url = format!("sqlite://{}", db.display());
    let mut children = Vec::new();
    if demo.live {
        let exe = std::env::current_exe().context("finding the pipetrack binary to run the live scripts")?;
        for role in [Role::Succeeds, Role::Fails, Role::Stalls] {
            let child = tokio::process::Command::new(&exe)
                .args(["--database-url", &url, "demo-script", role.arg(), "--log-dir"])
                .arg(&dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting the live script {}", role.script()))?;
            children.push(child);
        }
        print(
            "  live scripts: DAILY_07_Live_Geocoding.R (succeeds), DAILY_08_Live_Vendor_Feed.py (fails), PERIODIC_02_Live_Stalling_Export.R (stalls)",
        );
    }

    // Short thresholds so the stalling script shows as stalled within a minute.
    let monitor_config = MonitorConfig {
        cache_ttl: Duration::seconds(1),
        stall_floor: Duration::seconds(30),
        stall_without_history: Duration::seconds(45),
        ..MonitorConfig::default()
    };
    let monitor = Monitor::new(store, monitor_config);
    let server = monitor_web::bind(monitor, serve_options).await?;
    print(&format!(
        "\npipetrack dashboard: {}\n  (history, trends and errors are in the menu; Ctrl-C stops everything)",
        server.url()
    ));
    let served = server.run(stop_signal()).await;

    // Closing their standard input asks the live scripts to end their runs as cancelled.
    for child in &mut children {
        drop(child.stdin.take());
    }
    for child in &mut children {
        if tokio::time::timeout(StdDuration::from_secs(5), child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
    if temporary {
        remove_store(&db);
        let _ = std::fs::remove_file(dir.join("DAILY_08_Live_Vendor_Feed.log"));
        let _ = std::fs::remove_dir(&dir);
    }
    served?;
    print("pipetrack demo stopped");
    Ok(ExitCode::SUCCESS)
}

/// One live script's tracking: a session and the store it writes to.
struct Tracked {
    store: Store,
    session: Session,
    stop: watch::Receiver<bool>,
    rss_mib: u64,
    cpu: f64,
}

/// The run was asked to stop (standard input closed).
struct Stopped;

impl Tracked {
    async fn send(&self, events: Vec<Event>) -> anyhow::Result<()> {
        self.store.append(events).await?;
        Ok(())
    }

    async fn wait(&mut self, pause: StdDuration) -> Result<(), Stopped> {
        if *self.stop.borrow() {
            return Err(Stopped);
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => Ok(()),
            _ = self.stop.changed() => Err(Stopped),
        }
    }

    /// A task with `items` steps of `step` each, a message and progress per step.
    async fn task(
        &mut self,
        name: &str,
        items: &[&str],
        step: StdDuration,
    ) -> anyhow::Result<Result<(), Stopped>> {
        let event = self.session.enter_task(name, Utc::now())?;
        self.send(vec![event]).await?;
        for (i, item) in items.iter().enumerate() {
            if self.wait(step).await.is_err() {
                return Ok(Err(Stopped));
            }
            let now = Utc::now();
            let mut events = vec![
                self.session.message(item, now)?,
                self.session.progress(i as i64 + 1, items.len() as i64, now)?,
            ];
            if i % 5 == 4 {
                self.rss_mib += 7;
                self.cpu += 2.5;
                events.push(self.session.sample(self.sample(), now)?);
            }
            self.send(events).await?;
        }
        let event = self.session.exit_task(TaskStatus::Completed, Utc::now())?;
        self.send(vec![event]).await?;
        Ok(Ok(()))
    }

    fn sample(&self) -> ResourceSample {
        ResourceSample {
            rss_bytes: self.rss_mib * 1024 * 1024,
            peak_rss_bytes: self.rss_mib * 1024 * 1024,
            cpu_seconds: self.cpu,
            read_bytes: self.rss_mib * 3 * 1024 * 1024,
            write_bytes: self.rss_mib * 1024 * 1024,
        }
    }

    async fn cancel(&mut self) -> anyhow::Result<()> {
        let end = RunEnd { status: RunStatus::Cancelled, exit_code: None, signal: Some(15), error: None };
        let events = self.session.finish(end, Utc::now())?;
        self.send(events).await
    }
}

const STATES: [&str; 12] = ["AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID"];

fn new_run_id() -> RunId {
    let random = uuid::Uuid::new_v4();
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&random.as_bytes()[..10]);
    RunId::from_parts(Utc::now().timestamp_millis() as u64, bytes)
}

fn append_log(path: &Path, line: &str) {
    use std::io::Write as _;
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{} {line}", Utc::now().format("%Y-%m-%d %H:%M:%S"));
    }
}

/// One run of a role; `Err(Stopped)` when asked to stop mid-run (the run is then cancelled).
async fn one_run(tracked: &mut Tracked, role: Role, log: &Path) -> anyhow::Result<Result<(), Stopped>> {
    let step = StdDuration::from_millis(700);
    let state_steps: Vec<String> = STATES.iter().map(|s| format!("Geocoding {s}")).collect();
    let state_steps: Vec<&str> = state_steps.iter().map(String::as_str).collect();
    match role {
        Role::Succeeds => {
            for (name, items) in [
                ("Load states", &["Reading state list", "Reading county list", "Reading block list"][..]),
                ("Geocode addresses", &state_steps[..]),
                (
                    "Join providers",
                    &["Joining fixed providers", "Joining mobile providers", "Deduplicating"][..],
                ),
                ("Write tables", &["Writing bdc_locations", "Writing bdc_summary", "Indexing"][..]),
                ("Refresh views", &["Refreshing mv_state_summary", "Refreshing mv_hex_summary"][..]),
            ] {
                if tracked.task(name, items, step).await?.is_err() {
                    return Ok(Err(Stopped));
                }
            }
            let end = RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None };
            let events = tracked.session.finish(end, Utc::now())?;
            tracked.send(events).await?;
        }
        Role::Fails => {
            append_log(log, "INFO starting DAILY_08_Live_Vendor_Feed.py");
            for (name, items) in [
                (
                    "Download feed",
                    &["Connecting to sftp", "Downloading vendor_feed.csv", "Checking size"][..],
                ),
                ("Parse records", &["Parsing 12,000 rows", "Parsing 24,000 rows", "Parsing 36,512 rows"][..]),
            ] {
                append_log(log, &format!("INFO {name}"));
                if tracked.task(name, items, step).await?.is_err() {
                    return Ok(Err(Stopped));
                }
            }
            let event = tracked.session.enter_task("Validate schema", Utc::now())?;
            tracked.send(vec![event]).await?;
            if tracked.wait(step * 2).await.is_err() {
                return Ok(Err(Stopped));
            }
            let day = Utc::now().format("%Y-%m-%d");
            let message = format!("column 'provider_id' has 3 missing values in vendor_feed_{day}.csv");
            append_log(log, &format!("ERROR ValueError: {message}"));
            let error = ErrorInfo {
                message,
                class: Some("ValueError".into()),
                traceback: Some(format!(
                    "Traceback (most recent call last):\n  File \"DAILY_08_Live_Vendor_Feed.py\", line 88, in <module>\n    validate(frame)\n  File \"DAILY_08_Live_Vendor_Feed.py\", line 41, in validate\n    raise ValueError(f\"column 'provider_id' has {{n}} missing values in {{path}}\")\nValueError: column 'provider_id' has 3 missing values in vendor_feed_{day}.csv"
                )),
            };
            let events = tracked.session.fail(error, Some(1), Utc::now())?;
            tracked.send(events).await?;
        }
        Role::Stalls => {
            if tracked.task("Connect", &["Opening connection", "Checking credentials"], step).await?.is_err()
            {
                return Ok(Err(Stopped));
            }
            let event = tracked.session.enter_task("Export tables", Utc::now())?;
            tracked.send(vec![event]).await?;
            for (i, table) in ["hex_info", "block20_info", "funding"].iter().enumerate() {
                if tracked.wait(step).await.is_err() {
                    return Ok(Err(Stopped));
                }
                let now = Utc::now();
                let events = vec![
                    tracked.session.message(&format!("Exporting {table}"), now)?,
                    tracked.session.progress(i as i64 + 1, 10, now)?,
                ];
                tracked.send(events).await?;
            }
            // Waiting on a lock that never comes: alive (heartbeats) but no progress.
            loop {
                if tracked.wait(StdDuration::from_secs(3)).await.is_err() {
                    return Ok(Err(Stopped));
                }
                let event = tracked.session.heartbeat(Utc::now())?;
                tracked.send(vec![event]).await?;
            }
        }
    }
    Ok(Ok(()))
}

/// `pipetrack demo-script ROLE`: one live script of the demo, until its standard input closes.
pub(crate) async fn live_script(
    config: &StoreConfig,
    role: Role,
    log_dir: &Path,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(config).await?;
    store.ensure_current().await?;
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buffer = [0u8; 64];
        while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
        let _ = stop_tx.send(true);
    });
    let log = log_dir.join(format!("{}.log", role.script().trim_end_matches(".py").trim_end_matches(".R")));
    let log = if role == Role::Fails { log_dir.join("DAILY_08_Live_Vendor_Feed.log") } else { log };
    loop {
        let meta = RunMeta {
            script_name: role.script().into(),
            total_tasks: Some(match role {
                Role::Succeeds => 5,
                Role::Fails => 4,
                Role::Stalls => 3,
            }),
            host: Some("demo".into()),
            pid: Some(std::process::id()),
            language: Some(if role == Role::Fails { "python" } else { "R" }.into()),
            log_path: (role == Role::Fails).then(|| log.display().to_string()),
            command: Some(format!("pipetrack demo-script {}", role.arg())),
            ..RunMeta::default()
        };
        let (session, started) = Session::start(new_run_id(), meta, Utc::now())?;
        let mut tracked =
            Tracked { store: store.clone(), session, stop: stop.clone(), rss_mib: 120, cpu: 1.0 };
        tracked.send(vec![started]).await?;
        if one_run(&mut tracked, role, &log).await?.is_err() {
            tracked.cancel().await?;
            return Ok(ExitCode::SUCCESS);
        }
        let pause = if role == Role::Fails { StdDuration::from_secs(20) } else { StdDuration::from_secs(6) };
        if tracked.wait(pause).await.is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}
