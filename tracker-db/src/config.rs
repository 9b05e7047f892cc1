//! Where the store is: `PIPETRACK_DATABASE_URL`, else the `MONITOR_DB_*` variables
//! of the original task list, else the embedded SQLite default file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable holding a full connection URL.
pub const DATABASE_URL_VAR: &str = "PIPETRACK_DATABASE_URL";
/// The variables of the original task list (Postgres), read when no URL is set.
pub const MONITOR_VARS: [&str; 5] =
    ["MONITOR_DB_HOST", "MONITOR_DB_PORT", "MONITOR_DB_NAME", "MONITOR_DB_USER", "MONITOR_DB_PASSWORD"];

/// Which setting a configuration came from, so every error can name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `PIPETRACK_DATABASE_URL`.
    DatabaseUrl,
    /// `MONITOR_DB_HOST` and friends.
    MonitorVars,
    /// A `--database-url` command-line flag.
    Flag,
    /// The embedded default file (nothing configured).
    Default,
    /// Given by a program embedding the crate.
    Code,
}

impl Source {
    /// How to refer to the setting in a message.
    pub fn setting(self) -> &'static str {
        match self {
            Source::DatabaseUrl => DATABASE_URL_VAR,
            Source::MonitorVars => "MONITOR_DB_HOST/PORT/NAME/USER/PASSWORD",
            Source::Flag => "--database-url",
            Source::Default => "the embedded default (no PIPETRACK_DATABASE_URL or MONITOR_DB_HOST set)",
            Source::Code => "the configuration given by the program",
        }
    }
}

/// A configuration the user must fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}; {fix}")]
pub struct ConfigError {
    /// The setting at fault.
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

/// A Postgres connection, ready for the pool.
#[derive(Clone)]
pub struct PostgresConfig {
    /// Connection parameters (password included; never printed).
    pub config: tokio_postgres::Config,
    /// Schema to use (`search_path`); `None` uses the server default (`public`).
    pub schema: Option<String>,
    /// Largest number of pooled connections.
    pub pool_size: usize,
    /// TLS (`sslmode`, `sslrootcert` of the URL).
    pub tls: crate::tls::TlsSettings,
    /// Where it came from.
    pub source: Source,
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("location", &self.location())
            .field("pool_size", &self.pool_size)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl PostgresConfig {
    /// `postgres://user@host:port/db` (with `?schema=`), never the password.
    pub fn location(&self) -> String {
        let host = self.config.get_hosts().first().map_or_else(
            || "localhost".to_owned(),
            |host| match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            },
        );
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let user = self.config.get_user().map(|user| format!("{user}@")).unwrap_or_default();
        let db = self.config.get_dbname().unwrap_or("");
        let mut query: Vec<String> = self.schema.iter().map(|s| format!("schema={s}")).collect();
        let sslmode = match self.tls.mode {
            crate::tls::TlsMode::Off => None,
            crate::tls::TlsMode::Require => Some("require"),
            crate::tls::TlsMode::VerifyCa => Some("verify-ca"),
            crate::tls::TlsMode::VerifyFull => Some("verify-full"),
        };
        query.extend(sslmode.map(|mode| format!("sslmode={mode}")));
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        format!("postgres://{user}{host}:{port}/{db}{query}")
    }
}

/// An embedded SQLite file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    /// Path of the database file.
    pub path: PathBuf,
    /// How long a writer waits for another process's lock.
    pub busy_timeout: Duration,
    /// Where it came from.
    pub source: Source,
}

/// Which store to open.
#[derive(Clone, Debug)]
pub enum StoreConfig {
    /// A Postgres server (teams).
    Postgres(Box<PostgresConfig>),
    /// An embedded SQLite file (default, zero set-up).
    Sqlite(SqliteConfig),
}

impl StoreConfig {
    /// Reads the process environment: `PIPETRACK_DATABASE_URL`, else `MONITOR_DB_*`,
    /// else the default SQLite file.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`StoreConfig::from_env`] with a custom variable lookup (tests, embedding).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        if let Some(url) = get(DATABASE_URL_VAR) {
            return Self::from_url(&url, Source::DatabaseUrl);
        }
        if let Some(host) = get("MONITOR_DB_HOST") {
            return Self::from_monitor_vars(&host, &get);
        }
        // Some MONITOR_DB_* set without the host: the user meant Postgres, and
        // silently tracking into the local SQLite file would hide every run.
        if let Some(name) = MONITOR_VARS[1..].iter().find(|name| get(name).is_some()) {
            return Err(ConfigError {
                setting: "MONITOR_DB_HOST",
                problem: format!("{name} is set but MONITOR_DB_HOST is not"),
                fix: "set MONITOR_DB_HOST (e.g. localhost) to use that PostgreSQL database, or unset \
                      MONITOR_DB_* to use the embedded SQLite file"
                    .into(),
            });
        }
        Ok(Self::sqlite(default_sqlite_path(&lookup), Source::Default))
    }

    /// An SQLite store at `path`.
    pub fn sqlite(path: impl Into<PathBuf>, source: Source) -> Self {
        StoreConfig::Sqlite(SqliteConfig { path: path.into(), busy_timeout: Duration::from_secs(10), source })
    }

    /// Parses `postgres://…`, `postgresql://…` or `sqlite:///path` (also `sqlite:path`).
    pub fn from_url(url: &str, source: Source) -> Result<Self, ConfigError> {
        let url = url.trim();
        let setting = source.setting();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path == "/" {
                return Err(ConfigError {
                    setting,
                    problem: "the sqlite URL has no file path".into(),
                    fix: "write it as sqlite:///absolute/path/pipetrack.db".into(),
                });
            }
            return Ok(Self::sqlite(PathBuf::from(path), source));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return parse_postgres_url(url, source).map(|pg| StoreConfig::Postgres(Box::new(pg)));
        }
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        Err(ConfigError {
            setting,
            problem: format!(
                "unsupported database URL scheme {:?}",
                scheme.chars().take(20).collect::<String>()
            ),
            fix: "use postgres://user@host:5432/dbname or sqlite:///path/to/pipetrack.db".into(),
        })
    }

    fn from_monitor_vars(host: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let setting = Source::MonitorVars.setting();
        let mut config = tokio_postgres::Config::new();
        config.host(host.trim());
        if let Some(port) = get("MONITOR_DB_PORT") {
            let port = port.trim().parse::<u16>().map_err(|_| ConfigError {
                setting: "MONITOR_DB_PORT",
                problem: format!("{port:?} is not a port number"),
                fix: "set it to a number such as 5432".into(),
            })?;
            config.port(port);
        }
        let Some(name) = get("MONITOR_DB_NAME") else {
            return Err(ConfigError {
                setting,
                problem: "MONITOR_DB_HOST is set but MONITOR_DB_NAME is not".into(),
                fix: "set MONITOR_DB_NAME to the database name (or use PIPETRACK_DATABASE_URL)".into(),
            });
        };
        config.dbname(name.trim());
        if let Some(user) = get("MONITOR_DB_USER") {
            config.user(user.trim());
        }
        if let Some(password) = get("MONITOR_DB_PASSWORD") {
            config.password(password);
        }
        Ok(StoreConfig::Postgres(Box::new(pg_defaults(config, None, Source::MonitorVars))))
    }

    /// A one-line description for people: backend and location, no password.
    pub fn describe(&self) -> String {
        match self {
            StoreConfig::Postgres(pg) => format!("postgres {}", pg.location()),
            StoreConfig::Sqlite(sqlite) => format!("sqlite {}", sqlite.path.display()),
        }
    }

    /// Where the configuration came from.
    pub fn source(&self) -> Source {
        match self {
            StoreConfig::Postgres(pg) => pg.source,
            StoreConfig::Sqlite(sqlite) => sqlite.source,
        }
    }
}

fn pg_defaults(mut config: tokio_postgres::Config, schema: Option<String>, source: Source) -> PostgresConfig {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("pipetrack");
    }
    if let Some(schema) = &schema {
        config.options(format!("-c search_path={schema}"));
    }
    PostgresConfig { config, schema, pool_size: 8, tls: crate::tls::TlsSettings::default(), source }
}

fn parse_postgres_url(url: &str, source: Source) -> Result<PostgresConfig, ConfigError> {
    let setting = source.setting();
    let mut parsed = url::Url::parse(url).map_err(|err| ConfigError {
        setting,
        problem: format!("the Postgres URL cannot be parsed ({err})"),
        fix: "write it as postgres://user:password@host:5432/dbname (percent-encode special characters)"
            .into(),
    })?;
    let mut schema = None;
    let mut pool_size = None;
    let mut tls = crate::tls::TlsSettings::default();
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "schema" => schema = Some(value.into_owned()),
            "pool_size" => pool_size = Some(value.into_owned()),
            // TLS is pipetrack's (rustls), not the driver's: these stay out of its options.
            "sslmode" => {
                tls.mode = crate::tls::TlsMode::parse(&value).ok_or_else(|| ConfigError {
                    setting,
                    problem: format!("sslmode={value} is not a known mode"),
                    fix: "use disable, prefer, require, verify-ca or verify-full".into(),
                })?;
            }
            "sslrootcert" => tls.root_cert = Some(PathBuf::from(value.as_ref())),
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    let config: tokio_postgres::Config = parsed.as_str().parse().map_err(|err| ConfigError {
        setting,
        problem: format!("the Postgres URL is not valid ({err})"),
        fix: "write it as postgres://user:password@host:5432/dbname".into(),
    })?;
    if let Some(schema) = &schema
        && (schema.is_empty()
            || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || schema.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(ConfigError {
            setting,
            problem: format!("schema {schema:?} is not a plain identifier"),
            fix: "use letters, digits and underscores only, e.g. ?schema=pipetrack".into(),
        });
    }
    let mut pg = pg_defaults(config, schema, source);
    if tls.mode != crate::tls::TlsMode::Off {
        pg.config.ssl_mode(tokio_postgres::config::SslMode::Require);
    }
    pg.tls = tls;
    if let Some(size) = pool_size {
        pg.pool_size = size.parse().ok().filter(|n| *n > 0).ok_or_else(|| ConfigError {
            setting,
            problem: format!("pool_size={size} is not a positive number"),
            fix: "use e.g. ?pool_size=8".into(),
        })?;
    }
    Ok(pg)
}

/// The embedded default file: `$XDG_DATA_HOME/pipetrack/pipetrack.db` (or the
/// platform's data directory), falling back to `./pipetrack.db`.
pub fn default_sqlite_path(lookup: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dir) = lookup("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Path::new(&dir).join("pipetrack").join("pipetrack.db");
    }
    directories::ProjectDirs::from("", "", "pipetrack")
        .map_or_else(|| PathBuf::from("pipetrack.db"), |dirs| dirs.data_dir().join("pipetrack.db"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn url_wins_over_monitor_vars() {
        let config = StoreConfig::from_lookup(lookup(&[
            ("PIPETRACK_DATABASE_URL", "sqlite:///tmp/x.db"),
            ("MONITOR_DB_HOST", "db"),
        ]))
        .unwrap();
        assert_eq!(config.describe(), "sqlite /tmp/x.db");
        assert_eq!(config.source(), Source::DatabaseUrl);
    }

    #[test]
    fn monitor_vars_build_a_postgres_config_without_leaking_the_password() {
        let config = StoreConfig::from_lookup(lookup(&[
            ("MONITOR_DB_HOST", "db.internal"),
            ("MONITOR_DB_PORT", "5433"),
            ("MONITOR_DB_NAME", "monitor"),
            ("MONITOR_DB_USER", "etl"),
            ("MONITOR_DB_PASSWORD", "hunter2"),
        ]))
        .unwrap();
        assert_eq!(config.describe(), "postgres postgres://etl@db.internal:5433/monitor");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn bad_monitor_port_names_the_variable() {
        let err = StoreConfig::from_lookup(lookup(&[("MONITOR_DB_HOST", "h"), ("MONITOR_DB_PORT", "x")]))
            .unwrap_err();
        assert!(err.to_string().starts_with("MONITOR_DB_PORT: \"x\" is not a port number"), "{err}");
        let err = StoreConfig::from_lookup(lookup(&[("MONITOR_DB_HOST", "h")])).unwrap_err();
        assert!(err.to_string().contains("MONITOR_DB_NAME"), "{err}");
    }

    #[test]
    fn monitor_vars_without_the_host_are_refused_not_ignored() {
        for name in &MONITOR_VARS[1..] {
            let err = StoreConfig::from_lookup(lookup(&[(name, "x")])).unwrap_err();
            assert_eq!(err.setting, "MONITOR_DB_HOST");
            assert!(err.to_string().contains(&format!("{name} is set but MONITOR_DB_HOST is not")), "{err}");
            assert!(err.to_string().contains("unset MONITOR_DB_*"), "{err}");
            assert!(!err.to_string().contains("=x"), "no value is printed: {err}");
        }
        // Blank values count as unset.
        let config = StoreConfig::from_lookup(lookup(&[("MONITOR_DB_NAME", " ")])).unwrap();
        assert_eq!(config.source(), Source::Default);
    }

    #[test]
    fn nothing_set_means_the_default_sqlite_file() {
        let config = StoreConfig::from_lookup(lookup(&[("XDG_DATA_HOME", "/data")])).unwrap();
        assert_eq!(config.describe(), "sqlite /data/pipetrack/pipetrack.db");
        assert_eq!(config.source(), Source::Default);
    }

    #[test]
    fn postgres_urls_keep_schema_out_of_the_driver_options() {
        let StoreConfig::Postgres(pg) = StoreConfig::from_url(
            "postgres://etl:pw@localhost:5432/test?schema=t_1&pool_size=3&connect_timeout=2",
            Source::Code,
        )
        .unwrap() else {
            panic!("expected postgres")
        };
        assert_eq!(pg.schema.as_deref(), Some("t_1"));
        assert_eq!(pg.pool_size, 3);
        assert_eq!(pg.config.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(pg.location(), "postgres://etl@localhost:5432/test?schema=t_1");
        let StoreConfig::Postgres(tls) = StoreConfig::from_url(
            "postgres://etl:pw@db/test?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            Source::Code,
        )
        .unwrap() else {
            panic!("expected postgres")
        };
        assert_eq!(tls.tls.mode, crate::tls::TlsMode::VerifyFull);
        assert_eq!(tls.tls.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(tls.location(), "postgres://etl@db:5432/test?sslmode=verify-full");
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        let err = StoreConfig::from_url("mysql://x", Source::DatabaseUrl).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PIPETRACK_DATABASE_URL: unsupported database URL scheme \"mysql\"; use postgres://user@host:5432/dbname or sqlite:///path/to/pipetrack.db"
        );
        assert!(StoreConfig::from_url("sqlite://", Source::DatabaseUrl).is_err());
        assert!(StoreConfig::from_url("postgres://h/db?schema=a;drop", Source::DatabaseUrl).is_err());
        let err = StoreConfig::from_url("postgres://h/db?sslmode=always", Source::DatabaseUrl).unwrap_err();
        assert!(
            err.to_string().contains("sslmode=always is not a known mode; use disable, prefer, require"),
            "{err}"
        );
        assert!(StoreConfig::from_url("postgres://h:notaport/db", Source::DatabaseUrl).is_err());
    }
}
