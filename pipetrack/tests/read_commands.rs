//! The read commands end to end, through the built binary, on SQLite and on
//! Postgres: `status`, `history`, `show`, `errors` (+ `resolve`), `export`.
//! Runs are seeded at fixed past times, so every rendered table is stable and
//! compared as a snapshot.

use std::process::{Command, Output};

use chrono::{DateTime, Duration, TimeZone, Utc};
use tracker_core::{ErrorInfo, RunEnd, RunId, RunMeta, RunStatus, Session, TaskStatus};
use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

fn pipetrack(url: &str, args: &[&str]) -> Output {
    pipetrack_with(url, args, &[])
}

fn pipetrack_with(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipetrack"))
        .arg("--database-url")
        .arg(url)
        .args(args)
        .env_remove("PIPETRACK_DATABASE_URL")
        .env_remove("PIPETRACK_SCRIPTS_DIR")
        .env_remove("PIPETRACK_EXPECTED_SCRIPTS")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run pipetrack")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 6, 0, 0).unwrap() + Duration::seconds(seconds)
}

const NASTY: &str = "boom, \"quoted\"\nsecond line";

/// Three DAILY_01 runs (one failed with a message full of CSV specials), one STATIC run.
async fn seed(store: &Store) -> Vec<RunId> {
    store.migrate().await.unwrap();
    let mut ids = Vec::new();
    let plan: [(&str, i64, i64, Option<&str>); 4] = [
        ("DAILY_01_BDC_Locations.R", 0, 600, None),
        ("DAILY_01_BDC_Locations.R", 86_400, 720, None),
        ("STATIC_02_Technology_Codes.R", 90_000, 45, None),
        ("DAILY_01_BDC_Locations.R", 172_800, 300, Some(NASTY)),
    ];
    for (i, (script, start, duration, error)) in plan.into_iter().enumerate() {
        let id = RunId::from_parts(at(start).timestamp_millis() as u64, [i as u8 + 1; 10]);
        let meta = RunMeta {
            script_name: script.into(),
            total_tasks: Some(2),
            host: Some("etl-01".into()),
            ..RunMeta::default()
        };
        let (mut s, first) = Session::start(id, meta, at(start)).unwrap();
        let mut events = vec![first];
        events.push(s.enter_task("Load states", at(start + 1)).unwrap());
        events.push(s.message("Processing CA", at(start + 2)).unwrap());
        events.push(s.exit_task(TaskStatus::Completed, at(start + 10)).unwrap());
        let end = at(start + duration);
        match error {
            None => {
                events.push(s.enter_task("Write tables", at(start + 11)).unwrap());
                events.push(s.exit_task(TaskStatus::Completed, end).unwrap());
                let done =
                    RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None };
                events.extend(s.finish(done, end).unwrap());
            }
            Some(message) => {
                let error = ErrorInfo {
                    message: message.into(),
                    class: Some("simpleError".into()),
                    traceback: Some("1: source(\"DAILY_01_BDC_Locations.R\")\n2: stop(e)".into()),
                };
                events.extend(s.fail(error, Some(1), end).unwrap());
            }
        }
        store.append(events).await.unwrap();
        ids.push(id);
    }
    ids
}

fn check_all(url: &str, ids: &[RunId]) {
    let status = stdout(&pipetrack(url, &["status"]));
    insta::assert_snapshot!("status", status);
    let backend = if url.starts_with("postgres") { "pg" } else { "sqlite" };
    let dir = std::env::temp_dir().join(format!("pipetrack-scripts-{}-{backend}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["DAILY_01_BDC_Locations.R", "DAILY_02_Provider_Tables.R", "README.md"] {
        std::fs::write(dir.join(file), "").unwrap();
    }
    let expected = [
        ("PIPETRACK_SCRIPTS_DIR", dir.to_str().unwrap()),
        ("PIPETRACK_EXPECTED_SCRIPTS", "ANNUAL_JUNE_01_Census.py"),
    ];
    let with_never_run = stdout(&pipetrack_with(url, &["status"], &expected));
    let status_json: serde_json::Value =
        serde_json::from_str(&stdout(&pipetrack_with(url, &["status", "--json"], &expected))).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let states: Vec<(&str, &str)> = status_json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["script_name"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("ANNUAL_JUNE_01_Census.py", "never_run"),
            ("DAILY_01_BDC_Locations.R", "failed"),
            ("DAILY_02_Provider_Tables.R", "never_run"),
            ("STATIC_02_Technology_Codes.R", "completed"),
        ]
    );
    insta::assert_snapshot!("status_never_run", with_never_run);

    let history: serde_json::Value =
        serde_json::from_str(&stdout(&pipetrack(url, &["history", "--json"]))).unwrap();
    let listed: Vec<&str> =
        history["items"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    let newest_first: Vec<String> = ids.iter().rev().map(ToString::to_string).collect();
    assert_eq!(listed, newest_first);
    insta::assert_snapshot!(
        "history_daily",
        stdout(&pipetrack(url, &["history", "--script", "DAILY_01_BDC_Locations.R"]))
    );
    let page = stdout(&pipetrack(url, &["history", "--limit", "2"]));
    let cursor = page.rsplit("--cursor ").next().unwrap().trim().to_owned();
    let rest: serde_json::Value = serde_json::from_str(&stdout(&pipetrack(
        url,
        &["history", "--limit", "2", "--cursor", &cursor, "--json"],
    )))
    .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
    let hostile = stdout(&pipetrack(url, &["history", "--search", "'; DROP TABLE runs; --"]));
    assert_eq!(hostile.trim(), "No runs match.");
    assert_eq!(
        stdout(&pipetrack(url, &["history", "--search", "\"QUOTED\"", "--json"])).matches("run_id").count(),
        1
    );
    let bad = pipetrack(url, &["history", "--cursor", "not-a-cursor"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid page cursor"));

    let failed = ids[3].to_string();
    let show = stdout(&pipetrack(url, &["show", &failed[..13]]));
    insta::assert_snapshot!("show_failed", show.replace(&failed, "<run-id>"));

    let errors = stdout(&pipetrack(url, &["errors", "--days", "100000"]));
    insta::assert_snapshot!("errors", errors);
    let groups: serde_json::Value =
        serde_json::from_str(&stdout(&pipetrack(url, &["errors", "--days", "100000", "--json"]))).unwrap();
    let fingerprint = groups[0]["fingerprint"].as_str().unwrap().to_owned();
    let resolved =
        stdout(&pipetrack(url, &["errors", "resolve", &fingerprint, "--note", "disk full", "--by", "ana"]));
    assert!(resolved.starts_with(&format!("resolved {fingerprint} by ana")), "{resolved}");
    assert!(stdout(&pipetrack(url, &["errors", "--days", "100000"])).starts_with("No open error groups"));
    assert!(stdout(&pipetrack(url, &["errors", "--days", "100000", "--all"])).contains("resolved"));
    let of_group: serde_json::Value =
        serde_json::from_str(&stdout(&pipetrack(url, &["history", "--fingerprint", &fingerprint, "--json"])))
            .unwrap();
    let runs: Vec<&str> =
        of_group["items"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!(runs, [ids[3].to_string()]);
    let by_end: serde_json::Value =
        serde_json::from_str(&stdout(&pipetrack(url, &["history", "--sort", "ended", "--asc", "--json"])))
            .unwrap();
    let by_end: Vec<&str> =
        by_end["items"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    let oldest_end_first: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(by_end, oldest_end_first);
    let by_error: serde_json::Value =
        serde_json::from_str(&stdout(&pipetrack(url, &["history", "--sort", "error", "--json"]))).unwrap();
    assert_eq!(by_error["items"][0]["run_id"], ids[3].to_string(), "the only error first, then the rest");
    let unknown = pipetrack(url, &["errors", "resolve", "0123456789abcdef"]);
    assert_eq!(unknown.status.code(), Some(1));

    let csv = stdout(&pipetrack(url, &["export", "--csv"]));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header[..5], ["run_id", "script_name", "category", "status", "state"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(&rows[0][14], NASTY, "the message survives the round trip");
    assert!(csv.contains("\"boom, \"\"quoted\"\"\nsecond line\""), "RFC 4180 quoting: {csv}");
    assert!(csv.starts_with("run_id,script_name,") && csv.contains("\r\n"), "header and CRLF records");
    let lines = stdout(&pipetrack(url, &["export", "--json", "--category", "STATIC"]));
    assert_eq!(lines.lines().count(), 1);
    let no_format = pipetrack(url, &["export"]);
    assert_eq!(no_format.status.code(), Some(2), "--csv or --json is required");
}

#[test]
fn read_commands_on_sqlite() {
    let path = std::env::temp_dir().join(format!("pipetrack_read_{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", path.display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ids = runtime.block_on(async {
        let store = Store::open(&StoreConfig::sqlite(&path, Source::Code)).await.unwrap();
        seed(&store).await
    });
    check_all(&url, &ids);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[test]
fn read_commands_on_postgres() {
    let admin = std::env::var("PIPETRACK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("pt_read_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}schema={schema}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ids = runtime.block_on(async {
        let store = Store::open(&StoreConfig::from_url(&url, Source::Code).unwrap())
            .await
            .expect("Postgres is required: run scripts/test or set PIPETRACK_TEST_PG_URL");
        seed(&store).await
    });
    check_all(&url, &ids);
    runtime.block_on(async {
        let store = Store::open(&StoreConfig::from_url(&admin, Source::Code).unwrap()).await.unwrap();
        store.execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), Vec::new()).await.unwrap();
    });
}
