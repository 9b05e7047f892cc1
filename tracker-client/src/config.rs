//! Client settings: queue, batching, heartbeat, sampling, spool and exit flush,
//! read from `PIPETRACK_*` environment variables with defaults that suit a
//! batch script. A malformed value is warned about and the default used: a
//! typo in a setting must never stop a pipeline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tracker_core::RunId;
use tracker_db::StoreConfig;
use uuid::Uuid;

/// Set to `1` (or `true`) to turn tracking off: every call then costs one atomic load.
pub const DISABLED_VAR: &str = "PIPETRACK_DISABLED";
/// Run id handed down by `pipetrack run`: a process that sees it joins that run.
pub const RUN_ID_VAR: &str = "PIPETRACK_RUN_ID";
/// Pipeline run id shared by all scripts of one pipeline invocation.
pub const PIPELINE_RUN_ID_VAR: &str = "PIPETRACK_PIPELINE_RUN_ID";
/// File where a joined script leaves its error for `pipetrack run` to record.
pub const ERROR_FILE_VAR: &str = "PIPETRACK_ERROR_FILE";
/// Log file of the run (set by `pipetrack run`).
pub const LOG_PATH_VAR: &str = "PIPETRACK_LOG_PATH";
/// Directory of the disk spool.
pub const SPOOL_DIR_VAR: &str = "PIPETRACK_SPOOL_DIR";

/// Which store the writer opens.
#[derive(Clone, Debug)]
pub enum StoreSetting {
    /// Read `PIPETRACK_DATABASE_URL` / `MONITOR_DB_*` when the writer starts
    /// (a bad setting is warned about and events are spooled).
    FromEnv,
    /// This store.
    Given(StoreConfig),
}

/// What a process inherits from the process that launched it (`pipetrack run`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inherited {
    /// Join this run instead of starting a new one.
    pub run_id: Option<RunId>,
    /// Group with this pipeline run.
    pub pipeline_run_id: Option<Uuid>,
    /// Leave errors here instead of finishing the run (the launcher finishes it).
    pub error_file: Option<PathBuf>,
    /// Log file of the run.
    pub log_path: Option<String>,
}

/// Every setting of a tracker.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where events go.
    pub store: StoreSetting,
    /// Largest batch written in one transaction (`PIPETRACK_BATCH_SIZE`, default 1000).
    pub batch_size: usize,
    /// Longest time an event waits in the queue before its batch is written
    /// (`PIPETRACK_FLUSH_MS`, default 250 ms).
    pub flush_interval: Duration,
    /// Liveness ping while a run is open (`PIPETRACK_HEARTBEAT_S`, default 5 s).
    pub heartbeat_interval: Duration,
    /// Resource sampling of this process (`PIPETRACK_SAMPLE_S`, default 10 s; 0 turns it off).
    pub sample_interval: Option<Duration>,
    /// Events the queue holds before calls spill to the spool (`PIPETRACK_QUEUE_SIZE`, default 16384:
    /// about 2.5 MB when full; the writer is woken when it is half full).
    pub queue_capacity: usize,
    /// Spool directory (`PIPETRACK_SPOOL_DIR`, default `$XDG_STATE_HOME/pipetrack/spool`
    /// or `~/.local/state/pipetrack/spool`).
    pub spool_dir: PathBuf,
    /// How long the exit flush may take before the rest is spooled
    /// (`PIPETRACK_EXIT_FLUSH_MS`, default 2000 ms).
    pub exit_flush_timeout: Duration,
    /// Longest wait for one store operation before it counts as failed (default 10 s).
    pub store_timeout: Duration,
    /// Longest pause between reconnection attempts while the store is down
    /// (`PIPETRACK_RETRY_MAX_S`, default 30 s; attempts start at 250 ms and double).
    pub retry_max: Duration,
    /// What was inherited from a launcher.
    pub inherited: Inherited,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            store: StoreSetting::FromEnv,
            batch_size: 1000,
            flush_interval: Duration::from_millis(250),
            heartbeat_interval: Duration::from_secs(5),
            sample_interval: Some(Duration::from_secs(10)),
            queue_capacity: 16_384,
            spool_dir: default_spool_dir(&|name| std::env::var(name).ok()),
            exit_flush_timeout: Duration::from_secs(2),
            store_timeout: Duration::from_secs(10),
            retry_max: Duration::from_secs(30),
            inherited: Inherited::default(),
        }
    }
}

impl ClientConfig {
    /// Settings from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Settings from a custom variable lookup (tests, embedding).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let defaults = Self::default();
        let number = |name: &str, default: u64, max: u64| -> u64 {
            match get(name) {
                None => default,
                Some(text) => match text.parse::<u64>() {
                    Ok(value) if value <= max => value,
                    _ => {
                        crate::warn::warn(&format!(
                            "{name}={text:?} is not a whole number between 0 and {max}; using {default}"
                        ));
                        default
                    }
                },
            }
        };
        let sample_s = number("PIPETRACK_SAMPLE_S", 10, 86_400);
        let inherited = Inherited {
            run_id: get(RUN_ID_VAR).and_then(|text| match text.parse::<RunId>() {
                Ok(id) => Some(id),
                Err(err) => {
                    crate::warn::warn(&format!("{RUN_ID_VAR}: {err}; starting a new run instead of joining"));
                    None
                }
            }),
            pipeline_run_id: get(PIPELINE_RUN_ID_VAR).and_then(|text| {
                let parsed = Uuid::parse_str(&text).ok();
                if parsed.is_none() {
                    crate::warn::warn(&format!(
                        "{PIPELINE_RUN_ID_VAR}={text:?} is not a UUID; the run is recorded without a pipeline run id"
                    ));
                }
                parsed
            }),
            error_file: get(ERROR_FILE_VAR).map(PathBuf::from),
            log_path: get(LOG_PATH_VAR),
        };
        Self {
            store: StoreSetting::FromEnv,
            batch_size: number("PIPETRACK_BATCH_SIZE", defaults.batch_size as u64, 100_000).max(1) as usize,
            flush_interval: Duration::from_millis(number("PIPETRACK_FLUSH_MS", 250, 600_000)),
            heartbeat_interval: Duration::from_secs(number("PIPETRACK_HEARTBEAT_S", 5, 3_600).max(1)),
            sample_interval: (sample_s > 0).then(|| Duration::from_secs(sample_s)),
            queue_capacity: number("PIPETRACK_QUEUE_SIZE", defaults.queue_capacity as u64, 100_000_000).max(1)
                as usize,
            spool_dir: get(SPOOL_DIR_VAR).map_or_else(|| default_spool_dir(lookup), PathBuf::from),
            exit_flush_timeout: Duration::from_millis(number("PIPETRACK_EXIT_FLUSH_MS", 2_000, 600_000)),
            store_timeout: defaults.store_timeout,
            retry_max: Duration::from_secs(number("PIPETRACK_RETRY_MAX_S", 30, 3_600).max(1)),
            inherited,
        }
    }

    /// These settings with `store` as the store.
    #[must_use]
    pub fn with_store(mut self, store: StoreConfig) -> Self {
        self.store = StoreSetting::Given(store);
        self
    }

    /// These settings with `dir` as the spool directory.
    #[must_use]
    pub fn with_spool_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.spool_dir = dir.as_ref().to_path_buf();
        self
    }
}

/// Whether `PIPETRACK_DISABLED` turns tracking off.
pub fn disabled_by_env() -> bool {
    std::env::var(DISABLED_VAR)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// `$XDG_STATE_HOME/pipetrack/spool`, else `~/.local/state/pipetrack/spool`,
/// else `pipetrack-spool` under the temporary directory.
pub fn default_spool_dir(lookup: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    state_dir(lookup).join("spool")
}

/// pipetrack's state directory (spool, logs): `$XDG_STATE_HOME/pipetrack`, else
/// `~/.local/state/pipetrack`, else `pipetrack` under the temporary directory.
pub fn state_dir(lookup: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dir) = lookup("XDG_STATE_HOME").filter(|d| !d.trim().is_empty()) {
        return Path::new(&dir).join("pipetrack");
    }
    if let Some(home) = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf()) {
        return home.join(".local").join("state").join("pipetrack");
    }
    std::env::temp_dir().join("pipetrack")
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
    fn settings_come_from_the_environment() {
        let config = ClientConfig::from_lookup(&lookup(&[
            ("PIPETRACK_BATCH_SIZE", "50"),
            ("PIPETRACK_FLUSH_MS", "20"),
            ("PIPETRACK_HEARTBEAT_S", "2"),
            ("PIPETRACK_SAMPLE_S", "0"),
            ("PIPETRACK_QUEUE_SIZE", "8"),
            ("PIPETRACK_SPOOL_DIR", "/var/spool/pt"),
            ("PIPETRACK_EXIT_FLUSH_MS", "500"),
            ("PIPETRACK_RUN_ID", "0192f0c4-8f1e-7c3a-9d55-2b6f3c1e4a10"),
            ("PIPETRACK_ERROR_FILE", "/tmp/err.json"),
        ]));
        assert_eq!(config.batch_size, 50);
        assert_eq!(config.flush_interval, Duration::from_millis(20));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(config.sample_interval, None);
        assert_eq!(config.queue_capacity, 8);
        assert_eq!(config.spool_dir, PathBuf::from("/var/spool/pt"));
        assert_eq!(config.exit_flush_timeout, Duration::from_millis(500));
        assert_eq!(
            config.inherited.run_id.map(|id| id.to_string()).as_deref(),
            Some("0192f0c4-8f1e-7c3a-9d55-2b6f3c1e4a10")
        );
        assert_eq!(config.inherited.error_file, Some(PathBuf::from("/tmp/err.json")));
    }

    #[test]
    fn malformed_values_fall_back_to_defaults() {
        let config = ClientConfig::from_lookup(&lookup(&[
            ("PIPETRACK_BATCH_SIZE", "lots"),
            ("PIPETRACK_FLUSH_MS", "-5"),
            ("PIPETRACK_RUN_ID", "not-a-run"),
            ("XDG_STATE_HOME", "/state"),
        ]));
        assert_eq!(config.batch_size, 1000);
        assert_eq!(config.flush_interval, Duration::from_millis(250));
        assert_eq!(config.inherited.run_id, None);
        assert_eq!(config.spool_dir, PathBuf::from("/state/pipetrack/spool"));
    }
}
