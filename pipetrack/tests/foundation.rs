//! The foundation commands end to end, through the built binary: `migrate`,
//! `db check`, `status`, and the messages and exit codes of bad configuration.

use std::process::{Command, Output};

/// Environment variables set for one run.
type Env<'a> = &'a [(&'a str, &'a str)];

fn pipetrack(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipetrack"));
    command.args(args).env_remove("PIPETRACK_DATABASE_URL").env("NO_COLOR", "1");
    for name in tracker_db::config::MONITOR_VARS {
        command.env_remove(name);
    }
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
    let cases: [(Env<'_>, i32, &str); 5] = [
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
        (
            &[("MONITOR_DB_NAME", "monitor"), ("MONITOR_DB_PASSWORD", "hunter2")],
            2,
            "MONITOR_DB_HOST: MONITOR_DB_NAME is set but MONITOR_DB_HOST is not; set MONITOR_DB_HOST",
        ),
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
    let out = drop.expect("psql (scripts/test installs it) drops the test's schema");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_database_url_flag_wins_over_the_environment() {
    let (path, url) = temp_db();
    let output =
        pipetrack(&["--database-url", &url, "migrate"], &[("PIPETRACK_DATABASE_URL", "mysql://db/x")]);
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(path.exists(), "the flag's file was created");
    let check = pipetrack(&["db", "check", "--database-url", &url], &[("MONITOR_DB_HOST", "db.invalid")]);
    assert!(check.status.success(), "{:?}", text(&check));
    assert!(text(&check).0.contains("backend:  sqlite"), "{:?}", text(&check));
    let _ = std::fs::remove_file(path);
}

#[test]
fn an_unusable_store_location_names_the_problem_and_the_fix() {
    // A database that does not exist on a reachable server.
    let admin = std::env::var("PIPETRACK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let (base, query) = admin.split_once('?').map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("the test URL names a database");
    let missing = format!("{server}/pt_no_such_db{}", query.map(|q| format!("?{q}")).unwrap_or_default());
    let output = pipetrack(&["status"], &[("PIPETRACK_DATABASE_URL", &missing)]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("database \"pt_no_such_db\" does not exist"), "{err}");
    assert!(err.contains("createdb"), "says what to do: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // An SQLite path under a regular file.
    let output = pipetrack(&["--database-url", "sqlite:///etc/passwd/x.db", "status"], &[]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("/etc/passwd"), "{err}");
    assert!(err.contains("choose a writable location"), "{err}");
}

/// `--help` works for every command and subcommand, found by walking the
/// top-level help's command list, and says what each does.
#[test]
fn every_command_has_help() {
    fn commands(help: &str) -> Vec<String> {
        help.lines()
            .skip_while(|line| !line.starts_with("Commands:"))
            .skip(1)
            .take_while(|line| line.starts_with("  "))
            // A command's own line; wrapped descriptions are indented further.
            .filter(|line| !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .filter(|name| name != "help")
            .collect()
    }
    let top = pipetrack(&["--help"], &[]);
    assert!(top.status.success());
    let mut pending: Vec<Vec<String>> = commands(&text(&top).0).into_iter().map(|c| vec![c]).collect();
    assert!(pending.len() >= 10, "the top-level commands are listed: {pending:?}");
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let output = pipetrack(&args, &[]);
        let (out, err) = text(&output);
        assert!(output.status.success(), "{args:?}: {err}");
        assert!(out.contains("Usage: pipetrack"), "{args:?}: {out}");
        let about = out.lines().next().unwrap_or_default();
        assert!(!about.trim().is_empty() && !about.starts_with("Usage"), "{args:?} says what it does: {out}");
        for sub in commands(&out) {
            let mut next = path.clone();
            next.push(sub);
            pending.push(next);
        }
        seen += 1;
    }
    assert!(seen >= 15, "commands and subcommands checked: {seen}");
}
