//! `pipetrack demo`: a populated dashboard with no set-up. On a fresh embedded
//! SQLite file it writes weeks of realistic history (the `history-gen`
//! generator the scale benchmark uses), starts three tracked scripts as real
//! processes that keep reporting (one succeeding over and over, one failing,
//! one stalling), and serves the dashboard. Ctrl-C stops the scripts (their
//! runs end as cancelled), the server, and removes the demo store unless
//! `--dir` was given.
//!
//! The live scripts are this binary run as the hidden `pipetrack demo-script
//! ROLE`: each reports through `tracker-client`, the in-process tracker the R
//! and Python bindings wrap (heartbeats, resource samples, batching), and
//! stops when its standard input closes (the demo holds it open) or on SIGINT
//! or SIGTERM, ending its open run as cancelled.
//!
//! The scripts run in process groups of their own, so a Ctrl-C in the
//! terminal reaches only the demo, which then stops them itself (standard
//! input closed and SIGTERM, then a bounded wait) before it exits.
//!
//! `PIPETRACK_DEMO_STALL_SECS` (default 45) sets how long the stalling script
//! goes without progress before the dashboard shows it as stalled.

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
use tracker_client::config::{Inherited, StoreSetting};
use tracker_client::{ClientConfig, ExitReason, InitOptions, Tracker};
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

/// `PIPETRACK_DEMO_STALL_SECS`: seconds without progress before a run of a
/// script without history shows as stalled (default 45).
fn stall_after() -> anyhow::Result<i64> {
    match std::env::var("PIPETRACK_DEMO_STALL_SECS") {
        Err(_) => Ok(45),
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(secs) if (1..=86_400).contains(&secs) => Ok(secs),
            _ => anyhow::bail!(
                "PIPETRACK_DEMO_STALL_SECS={text:?} is not a number of seconds from 1 to 86400: unset it for the default (45)"
            ),
        },
    }
}

/// How long the live scripts get to end their runs and flush before they are killed.
const CHILD_GRACE: StdDuration = StdDuration::from_secs(5);

/// Stops the live scripts: closes their standard input and sends SIGTERM
/// (either makes a script end its open run as cancelled, flush and exit),
/// waits for all of them together for at most [`CHILD_GRACE`], then kills
/// and reaps any still running, so none outlives the demo.
async fn stop_children(children: &mut [tokio::process::Child]) {
    for child in children.iter_mut() {
        drop(child.stdin.take());
        if let Some(pid) = child.id() {
            let _ = tracker_client::resources::send_signal(pid, 15);
        }
    }
    let deadline = tokio::time::Instant::now() + CHILD_GRACE;
    for child in children.iter_mut() {
        if tokio::time::timeout_at(deadline, child.wait()).await.is_err() {
            error_line(&format!(
                "a live script (process {}) did not stop within {} s; killing it",
                child.id().unwrap_or_default(),
                CHILD_GRACE.as_secs()
            ));
            let _ = child.kill().await;
        }
    }
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
    let stall_after = stall_after()?;
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
                // A group of its own: the terminal's Ctrl-C goes to the demo only,
                // which stops the scripts itself (see `stop_children`).
                .process_group(0)
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
        stall_floor: Duration::seconds(30.min(stall_after)),
        stall_without_history: Duration::seconds(stall_after),
        ..MonitorConfig::default()
    };
    let monitor = Monitor::new(store, monitor_config);
    let server = monitor_web::bind(monitor, serve_options).await?;
    print(&format!(
        "\npipetrack dashboard: {}\n  (history, trends and errors are in the menu; Ctrl-C stops everything)",
        server.url()
    ));
    let served = server.run(stop_signal()).await;

    stop_children(&mut children).await;
    if temporary {
        // The directory is this process's own (pipetrack-demo-PID): store, log, spool.
        let _ = std::fs::remove_dir_all(&dir);
    }
    served?;
    print("pipetrack demo stopped");
    Ok(ExitCode::SUCCESS)
}

/// The run was asked to stop (standard input closed).
struct Stopped;

/// One live script: the in-process tracker (`tracker-client`, as the R and
/// Python bindings use it) and the signal to stop.
struct Live {
    tracker: Tracker,
    stop: watch::Receiver<bool>,
}

impl Live {
    async fn wait(&mut self, pause: StdDuration) -> Result<(), Stopped> {
        if *self.stop.borrow() {
            return Err(Stopped);
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => Ok(()),
            _ = self.stop.changed() => Err(Stopped),
        }
    }

    /// `genter(name)`, then a message and `progress(i, n)` per item, then `gexit()`.
    async fn task(
        &mut self,
        name: &str,
        items: &[&str],
        step: StdDuration,
    ) -> anyhow::Result<Result<(), Stopped>> {
        self.tracker.enter(name)?;
        for (i, item) in items.iter().enumerate() {
            if self.wait(step).await.is_err() {
                return Ok(Err(Stopped));
            }
            self.tracker.message(item)?;
            self.tracker.progress(i as i64 + 1, items.len() as i64)?;
        }
        self.tracker.exit()?;
        Ok(Ok(()))
    }
}

const STATES: [&str; 12] = ["AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID"];

fn append_log(path: &Path, line: &str) {
    use std::io::Write as _;
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{} {line}", Utc::now().format("%Y-%m-%d %H:%M:%S"));
    }
}

/// One run of a role; `Err(Stopped)` when asked to stop mid-run.
async fn one_run(live: &mut Live, role: Role, log: &Path) -> anyhow::Result<Result<(), Stopped>> {
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
                if live.task(name, items, step).await?.is_err() {
                    return Ok(Err(Stopped));
                }
            }
            live.tracker.finish()?;
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
                if live.task(name, items, step).await?.is_err() {
                    return Ok(Err(Stopped));
                }
            }
            live.tracker.enter("Validate schema")?;
            if live.wait(step * 2).await.is_err() {
                return Ok(Err(Stopped));
            }
            let day = Utc::now().format("%Y-%m-%d");
            let message = format!("column 'provider_id' has 3 missing values in vendor_feed_{day}.csv");
            append_log(log, &format!("ERROR ValueError: {message}"));
            let traceback = format!(
                "Traceback (most recent call last):\n  File \"DAILY_08_Live_Vendor_Feed.py\", line 88, in <module>\n    validate(frame)\n  File \"DAILY_08_Live_Vendor_Feed.py\", line 41, in validate\n    raise ValueError(f\"column 'provider_id' has {{n}} missing values in {{path}}\")\nValueError: {message}"
            );
            live.tracker.error(&message, Some("ValueError"), Some(&traceback))?;
        }
        Role::Stalls => {
            if live.task("Connect", &["Opening connection", "Checking credentials"], step).await?.is_err() {
                return Ok(Err(Stopped));
            }
            live.tracker.enter("Export tables")?;
            for (i, table) in ["hex_info", "block20_info", "funding"].iter().enumerate() {
                if live.wait(step).await.is_err() {
                    return Ok(Err(Stopped));
                }
                live.tracker.message(&format!("Exporting {table}"))?;
                live.tracker.progress(i as i64 + 1, 10)?;
            }
            // Waiting on a lock that never comes: the tracker's heartbeats say it
            // is alive, but nothing progresses.
            loop {
                if live.wait(StdDuration::from_mins(1)).await.is_err() {
                    return Ok(Err(Stopped));
                }
            }
        }
    }
    Ok(Ok(()))
}

/// `pipetrack demo-script ROLE`: one live script of the demo, reporting
/// through `tracker-client` run after run until its standard input closes;
/// a run open at that moment ends as cancelled.
pub(crate) async fn live_script(
    config: &StoreConfig,
    role: Role,
    log_dir: &Path,
) -> anyhow::Result<ExitCode> {
    let tracker = Tracker::new(ClientConfig {
        store: StoreSetting::Given(config.clone()),
        heartbeat_interval: StdDuration::from_secs(2),
        sample_interval: Some(StdDuration::from_secs(2)),
        spool_dir: log_dir.join("spool"),
        inherited: Inherited::default(),
        ..ClientConfig::default()
    });
    let (stop_tx, stop) = watch::channel(false);
    // Stop when the demo closes our standard input, or on SIGINT / SIGTERM
    // (e.g. a Ctrl-C sent to our process group): the open run ends as cancelled.
    tokio::spawn(async move {
        let stdin_closed = async {
            let mut stdin = tokio::io::stdin();
            let mut buffer = [0u8; 64];
            while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
        };
        tokio::select! {
            () = stdin_closed => {}
            () = stop_signal() => {}
        }
        let _ = stop_tx.send(true);
    });
    let log = log_dir.join("DAILY_08_Live_Vendor_Feed.log");
    let mut live = Live { tracker, stop };
    loop {
        live.tracker.init(InitOptions {
            script_name: Some(role.script().into()),
            total_tasks: Some(match role {
                Role::Succeeds => 5,
                Role::Fails => 4,
                Role::Stalls => 3,
            }),
            language: Some(if role == Role::Fails { "python" } else { "R" }.into()),
            log_path: (role == Role::Fails).then(|| log.display().to_string()),
            command: Some(format!("pipetrack demo-script {}", role.arg())),
            skip_env: true,
            skip_git: true,
            no_join: true,
            ..InitOptions::default()
        })?;
        let stopped = one_run(&mut live, role, &log).await?.is_err();
        let pause = if role == Role::Fails { StdDuration::from_secs(20) } else { StdDuration::from_secs(6) };
        if stopped || live.wait(pause).await.is_err() {
            live.tracker.shutdown(ExitReason::Signal(15));
            return Ok(ExitCode::SUCCESS);
        }
        live.tracker.flush(StdDuration::from_secs(2));
    }
}
