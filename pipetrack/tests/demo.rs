//! `pipetrack demo` end to end, through the built binary: it writes a short
//! history, starts its three live scripts, serves the dashboard and prints
//! its URL; the status API shows a running, a failed and a stalled live
//! script; a Ctrl-C sent the way a terminal sends it (SIGINT to the demo's
//! whole process group) stops everything within seconds, leaves no process
//! behind, and the live runs end as cancelled in the store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

const SUCCEEDS: &str = "DAILY_07_Live_Geocoding.R";
const FAILS: &str = "DAILY_08_Live_Vendor_Feed.py";
const STALLS: &str = "PERIODIC_02_Live_Stalling_Export.R";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` over plain HTTP/1.0; the body of a 200 answer.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.to_owned())
}

/// Processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // pid (comm) state ppid ...: the command may hold spaces, so split after its ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Whether `pid` is still a live process (a zombie waiting for its reaper is not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // A failed assertion must not leave the demo (and its scripts) running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn start_demo(dir: &Path, port: u16) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipetrack"))
        .args(["demo", "--days", "3", "--bind", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(dir)
        .env_remove("PIPETRACK_DATABASE_URL")
        .env_remove("PIPETRACK_DASHBOARD_TOKEN")
        .env_remove("PIPETRACK_DASHBOARD_USER")
        .env_remove("PIPETRACK_DASHBOARD_PASSWORD")
        .env("PIPETRACK_DEMO_STALL_SECS", "4")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Like a shell's job: the demo leads a process group of its own, and
        // a Ctrl-C is SIGINT to that whole group.
        .process_group(0)
        .spawn()
        .expect("start pipetrack demo");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Demo { child, lines }
}

#[test]
fn demo_serves_live_scripts_and_ctrl_c_stops_everything_with_runs_cancelled() {
    let dir = std::env::temp_dir().join(format!("pipetrack-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let mut demo = start_demo(&dir, port);

    // The URL is printed once the history is written and the server listens.
    let started = Instant::now();
    let mut printed = Vec::new();
    let url = loop {
        let line = demo
            .lines
            .recv_timeout(Duration::from_mins(2).saturating_sub(started.elapsed()))
            .unwrap_or_else(|_| panic!("no dashboard URL printed within 120 s; output: {printed:?}"));
        if let Some(url) = line.strip_prefix("pipetrack dashboard: ") {
            break url.trim().to_owned();
        }
        printed.push(line);
    };
    assert_eq!(url, format!("http://127.0.0.1:{port}/"));
    assert!(printed.iter().any(|l| l.contains("runs,") && l.contains("events")), "{printed:?}");

    // Each live script shows in its state: running, failed, stalled.
    let mut seen = std::collections::BTreeSet::<(String, String)>::default();
    let wanted = [(SUCCEEDS, "running"), (FAILS, "failed"), (STALLS, "stalled")];
    let deadline = Instant::now() + Duration::from_mins(1);
    while !wanted.iter().all(|(s, st)| seen.contains(&(s.to_string(), st.to_string()))) {
        assert!(Instant::now() < deadline, "within 60 s saw only {seen:?} of the live scripts' states");
        if let Some(body) = get(port, "/api/v1/status") {
            let json: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
            for script in json["scripts"].as_array().expect("scripts") {
                let name = script["script_name"].as_str().unwrap_or_default();
                if [SUCCEEDS, FAILS, STALLS].contains(&name) {
                    seen.insert((name.to_owned(), script["state"].as_str().unwrap_or_default().to_owned()));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    // Ctrl-C while the succeeding script is mid-run (at least two of its five
    // tasks to go, several seconds), so that its run is open when it comes.
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        assert!(Instant::now() < deadline, "{SUCCEEDS} was not early in a run within 60 s");
        let latest = get(port, "/api/v1/status").and_then(|body| {
            let json: serde_json::Value = serde_json::from_str(&body).ok()?;
            json["scripts"].as_array()?.iter().find(|s| s["script_name"] == SUCCEEDS).cloned()
        });
        if let Some(script) = latest
            && script["state"] == "running"
            && script["latest"]["tasks_done"].as_u64().is_some_and(|done| done < 3)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let scripts = children_of(demo.child.id());
    assert_eq!(scripts.len(), 3, "three live scripts run as children of the demo: {scripts:?}");

    // Ctrl-C: SIGINT to the demo's process group, as a terminal sends it.
    let pgid = demo.child.id();
    assert!(Command::new("kill").args(["-INT", "--", &format!("-{pgid}")]).status().unwrap().success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            break status;
        }
        assert!(stopping.elapsed() < Duration::from_secs(10), "the demo still runs 10 s after Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "demo exit status after Ctrl-C: {status}");
    let rest: Vec<String> = demo.lines.try_iter().collect();
    assert!(rest.iter().any(|l| l == "pipetrack demo stopped"), "{rest:?}");
    assert!(
        !rest.iter().any(|l| l.contains("did not stop")),
        "every live script stopped by itself, none was killed: {rest:?}"
    );
    let left: Vec<u32> = scripts.iter().copied().filter(|pid| alive(*pid)).collect();
    assert!(left.is_empty(), "live scripts still running after the demo exited: {left:?}");

    // In the store: no live script's run is left open; the two that were
    // running at Ctrl-C ended as cancelled (by the signal).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let rows = runtime.block_on(async {
        let store =
            Store::open(&StoreConfig::sqlite(dir.join("pipetrack-demo.db"), Source::Code)).await.unwrap();
        store
            .query(
                "SELECT script_name, status, started_at FROM runs \
                 WHERE script_name IN ($1, $2, $3) ORDER BY started_at",
                vec![SUCCEEDS.into(), FAILS.into(), STALLS.into()],
            )
            .await
            .unwrap()
    });
    let runs: Vec<(String, String)> = rows
        .iter()
        .map(|row| (row.text("script_name").unwrap().unwrap(), row.text("status").unwrap().unwrap()))
        .collect();
    assert!(runs.iter().all(|(_, status)| status != "running"), "a live run left open: {runs:?}");
    for script in [SUCCEEDS, STALLS] {
        let latest = runs.iter().rev().find(|(s, _)| s == script).map(|(_, status)| status.as_str());
        assert_eq!(latest, Some("cancelled"), "{script}'s run at Ctrl-C: {runs:?}");
    }
    assert!(runs.iter().any(|(s, status)| s == FAILS && status == "failed"), "{runs:?}");
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
}
