//! Settings of the read model: cache TTLs, the stalled/lost rules and the
//! scripts expected to run.

use std::collections::HashMap;
use std::path::Path;

use chrono::Duration;

use crate::error::{Result, invalid};

/// Settings of a [`crate::Monitor`]. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorConfig {
    /// How long an answer may be served from the cache (default 5 s; zero disables).
    pub cache_ttl: Duration,
    /// Per-query TTLs overriding `cache_ttl`, by query name (`current_status`,
    /// `history`, `running`, `recent_failures`, `run_detail`, `trends`,
    /// `error_groups`, `lost_runs`, `stalled_runs`, `script_timings`).
    pub cache_ttl_overrides: HashMap<&'static str, Duration>,
    /// A running run whose latest heartbeat is older than this is lost (default 2 min).
    pub lost_after: Duration,
    /// Stalled when no progress for `stall_factor` x the p90 duration ... (default 3).
    pub stall_factor: f64,
    /// ... but never before this long without progress (default 10 min).
    pub stall_floor: Duration,
    /// Without enough history: stalled after this long without progress (default 1 h).
    pub stall_without_history: Duration,
    /// How many of a script's latest completed runs define its typical duration (default 20).
    pub timing_sample: usize,
    /// Fewer completed runs than this is "not enough history" (default 3).
    pub min_history: usize,
    /// Most runs a trend reads for its chart series, failures and percentiles
    /// (default 2,000: keeps a trend within the 50 ms budget at 1M runs; counts,
    /// mean, extremes and standard deviation stay exact, from the rollup).
    pub trend_sample_limit: usize,
    /// Most failed runs an error-group query reads (default 50,000).
    pub error_sample_limit: usize,
    /// Recent progress messages per running run (default 10).
    pub recent_messages: usize,
    /// Progress messages in a run's detail (the latest; default 200).
    pub detail_messages: usize,
    /// Script file names expected to run: those without a run yet are listed
    /// by [`crate::Monitor::current_status`] as `never_run` (default none).
    pub expected_scripts: Vec<String>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::seconds(5),
            cache_ttl_overrides: HashMap::new(),
            lost_after: Duration::minutes(2),
            stall_factor: 3.0,
            stall_floor: Duration::minutes(10),
            stall_without_history: Duration::hours(1),
            timing_sample: 20,
            min_history: 3,
            trend_sample_limit: 2_000,
            error_sample_limit: 50_000,
            recent_messages: 10,
            detail_messages: 200,
            expected_scripts: Vec::new(),
        }
    }
}

impl MonitorConfig {
    /// The defaults, with `PIPETRACK_CACHE_TTL_SECS` and `PIPETRACK_LOST_AFTER_SECS`
    /// applied when set (whole seconds, >= 0 and >= 1 respectively), and the
    /// expected scripts of `PIPETRACK_SCRIPTS_DIR` (see [`scripts_in_dir`]) and
    /// `PIPETRACK_EXPECTED_SCRIPTS` (comma-separated file names).
    pub fn from_env() -> Result<Self> {
        let mut config = Self::default();
        if let Some(dir) = std::env::var_os("PIPETRACK_SCRIPTS_DIR").filter(|d| !d.is_empty()) {
            config.add_expected(scripts_in_dir(Path::new(&dir))?);
        }
        if let Ok(list) = std::env::var("PIPETRACK_EXPECTED_SCRIPTS") {
            config.add_expected(list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned));
        }
        if let Some(secs) = env_secs("PIPETRACK_CACHE_TTL_SECS")? {
            config.cache_ttl = Duration::seconds(secs);
        }
        if let Some(secs) = env_secs("PIPETRACK_LOST_AFTER_SECS")? {
            if secs < 1 {
                return Err(invalid("PIPETRACK_LOST_AFTER_SECS", "must be at least 1 second"));
            }
            config.lost_after = Duration::seconds(secs);
        }
        Ok(config)
    }

    /// Adds expected script names, keeping each once.
    pub fn add_expected(&mut self, names: impl IntoIterator<Item = String>) {
        for name in names {
            if !self.expected_scripts.contains(&name) {
                self.expected_scripts.push(name);
            }
        }
    }

    /// The TTL of one query.
    pub fn ttl_of(&self, query: &str) -> Duration {
        self.cache_ttl_overrides.get(query).copied().unwrap_or(self.cache_ttl)
    }
}

/// Extensions of the scripts a pipeline runs.
const SCRIPT_EXTENSIONS: [&str; 6] = ["R", "r", "py", "sh", "Rmd", "qmd"];

/// The pipeline scripts of a directory (not its subdirectories), sorted:
/// every regular file whose name has a known category prefix (the default
/// [`tracker_core::CategoryRules`]) and one of the extensions `.R .r .py .sh
/// .Rmd .qmd`.
pub fn scripts_in_dir(dir: &Path) -> Result<Vec<String>> {
    let unreadable =
        |err: std::io::Error| invalid("scripts directory", format!("cannot read {}: {err}", dir.display()));
    let rules = tracker_core::CategoryRules::default();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if !entry.file_type().map_err(unreadable)?.is_file() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else { continue };
        let known_extension = Path::new(&name)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| SCRIPT_EXTENSIONS.contains(&e));
        if known_extension && rules.detect(&name) != tracker_core::category::OTHER {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn env_secs(name: &'static str) -> Result<Option<i64>> {
    let Ok(text) = std::env::var(name) else { return Ok(None) };
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|secs| (0..=86_400 * 365).contains(secs))
        .map(Some)
        .ok_or_else(|| invalid(name, format!("{text:?} is not a whole number of seconds (e.g. {name}=120)")))
}
