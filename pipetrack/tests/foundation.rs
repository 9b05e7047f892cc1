//! The foundation commands end to end, through the built binary: `migrate`,
//! `db check`, `status`, and the messages and exit codes of bad configuration.

use std::process::{Command, Output};

/// Environment variables set for one run.
type Env<'a> = &'a [(&'a str, &'a str)];

fn pipetrack(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipetrack"));
    command
        .args(args)
        .env_remove("PIPETRACK_DATABASE_URL")
        .env_remove("MONITOR_DB_HOST")
        .env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run pipetrack")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn temp_db() -> (std::path::PathBuf, String) {
    let path = std::env::temp_dir().join(format!("pipetrack_cli_{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", path.display());
    (path, url)
}

#[test]
fn migrate_then_status_on_a_fresh_sqlite_file() {
    let (path, url) = temp_db();
    let check = pipetrack(&["--database-url", &url, "db", "check"], &[]);
    assert_eq!(check.status.code(), Some(2), "an unmigrated store is not ready");
    assert!(text(&check).0.contains("not migrated: run `pipetrack migrate`"), "{:?}", text(&check));

    let migrate = pipetrack(&["--database-url", &url, "migrate"], &[]);
    assert!(migrate.status.success(), "{:?}", text(&migrate));
    assert!(text(&migrate).0.contains("applied V1__initial"), "{:?}", text(&migrate));
    let again = pipetrack(&["migrate"], &[("PIPETRACK_DATABASE_URL", &url)]);
    assert!(text(&again).0.contains("nothing to apply"), "{:?}", text(&again));

    let check = pipetrack(&["db", "check", "--json"], &[("PIPETRACK_DATABASE_URL", &url)]);
    assert!(check.status.success());
    let json: serde_json::Value = serde_json::from_str(&text(&check).0).unwrap();
    assert_eq!(json["backend"], "sqlite");
    assert_eq!(json["setting"], "PIPETRACK_DATABASE_URL");
    assert_eq!(json["schema_version"], json["expected_version"]);

    let status = pipetrack(&["--database-url", &url, "status"], &[]);
    assert!(status.status.success(), "{:?}", text(&status));
    assert!(
        text(&status).0.to_lowercase().contains("no runs"),
        "an empty state, not an empty screen: {:?}",
        text(&status)
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_embedded_default_needs_no_set_up() {
    let home = std::env::temp_dir().join(format!("pipetrack_home_{}", uuid::Uuid::new_v4().simple()));
    let data = home.to_str().unwrap();
    let status = pipetrack(&["status"], &[("XDG_DATA_HOME", data)]);
    assert!(status.status.success(), "{:?}", text(&status));
    assert!(home.join("pipetrack/pipetrack.db").exists(), "the default file was created and migrated");
    let check = pipetrack(&["db", "check"], &[("XDG_DATA_HOME", data)]);
    assert!(check.status.success(), "{:?}", text(&check));
    assert!(text(&check).0.contains("set by:   the embedded default"), "{:?}", text(&check));
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_configured_but_unmigrated_store_is_refused_with_the_fix() {
    let (path, url) = temp_db();
    let status = pipetrack(&["status"], &[("PIPETRACK_DATABASE_URL", &url)]);
    assert_eq!(status.status.code(), Some(2));
    let (_, err) = text(&status);
    assert!(err.starts_with("error: the store at sqlite://"), "{err}");
    assert!(err.contains("run `pipetrack migrate`"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_configuration_gives_one_clear_line_and_a_non_zero_exit() {
    let cases: [(Env<'_>, i32, &str); 4] = [
        (
            &[("PIPETRACK_DATABASE_URL", "mysql://db/x")],
            2,
            "PIPETRACK_DATABASE_URL: unsupported database URL scheme",
        ),
        (
            &[("MONITOR_DB_HOST", "db"), ("MONITOR_DB_PORT", "54x")],
            2,
            "MONITOR_DB_PORT: \"54x\" is not a port number",
        ),
        (
            &[("PIPETRACK_DATABASE_URL", "postgres://etl:hunter2@127.0.0.1:1/monitor")],
            1,
            "cannot connect to postgres://etl@127.0.0.1:1/monitor (set by PIPETRACK_DATABASE_URL)",
        ),
        (&[("PIPETRACK_DATABASE_URL", "sqlite://")], 2, "the sqlite URL has no file path"),
    ];
    for (env, code, expected) in cases {
        let output = pipetrack(&["status"], env);
        let (_, err) = text(&output);
        assert_eq!(output.status.code(), Some(code), "{env:?}: {err}");
        assert!(err.contains(expected), "{env:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!err.contains("hunter2"), "the password never appears: {err}");
    }
}

#[test]
fn postgres_migrate_check_and_status() {
    let admin = std::env::var("PIPETRACK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let schema = format!("pt_cli_{}", uuid::Uuid::new_v4().simple());
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}schema={schema}");
    let migrate = pipetrack(&["migrate"], &[("PIPETRACK_DATABASE_URL", &url)]);
    assert!(
        migrate.status.success(),
        "Postgres is required for this test (scripts/test starts one): {:?}",
        text(&migrate)
    );
    let check = pipetrack(&["db", "check"], &[("PIPETRACK_DATABASE_URL", &url)]);
    assert!(check.status.success(), "{:?}", text(&check));
    assert!(text(&check).0.contains("backend:  postgres"), "{:?}", text(&check));
    let status = pipetrack(&["status", "--json"], &[("PIPETRACK_DATABASE_URL", &url)]);
    assert!(status.status.success(), "{:?}", text(&status));
    let json: serde_json::Value = serde_json::from_str(&text(&status).0).expect("status --json prints JSON");
    assert!(!json.is_null());
    let drop =
        Command::new("psql").args([admin.as_str(), "-qc", &format!("DROP SCHEMA {schema} CASCADE")]).output();
    if let Ok(out) = drop {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
