//! The read model of pipetrack: every question a dashboard, the CLI or the
//! R/Python query functions ask about runs, answered from either store with
//! indexed queries, typed (serde) results and a short TTL cache.
//!
//! | question | method |
//! | --- | --- |
//! | current status of every script | [`Monitor::current_status`] |
//! | run history with filters, sort and keyset pages | [`Monitor::history`] |
//! | running runs with task progress and recent messages | [`Monitor::running`] |
//! | recent failures | [`Monitor::recent_failures`] |
//! | one run in full | [`Monitor::run_detail`] |
//! | trends and statistics of a script or category | [`Monitor::trends`] |
//! | error groups, resolving them | [`Monitor::error_groups`], [`Monitor::resolve_error_group`] |
//! | lost and stalled runs, closing lost ones | [`Monitor::lost_runs`], [`Monitor::stalled_runs`], [`Monitor::mark_lost`] |
//!
//! ```no_run
//! # async fn demo() -> Result<(), monitor_queries::QueryError> {
//! use monitor_queries::{HistoryFilter, Monitor, MonitorConfig};
//! use tracker_db::Store;
//!
//! let store = Store::open_from_env().await?;
//! let monitor = Monitor::new(store, MonitorConfig::default());
//! for script in monitor.current_status().await? {
//!     println!("{} {} {:?}", script.script_name, script.state, script.latest.and_then(|r| r.progress_percent));
//! }
//! let page = monitor.history(&HistoryFilter { script: Some("DAILY_01_BDC_Locations.R".into()), ..HistoryFilter::default() }, None).await?;
//! if let Some(cursor) = page.next_cursor {
//!     let _older = monitor.history(&HistoryFilter::default(), Some(&cursor)).await?;
//! }
//! # Ok(()) }
//! ```

mod cache;
mod clock;
mod config;
mod detail;
mod dialect;
mod error;
mod errors;
pub mod fingerprint;
mod health;
mod history;
mod model;
mod rows;
pub mod stats;
mod status;
mod trends;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracker_db::Store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{MonitorConfig, scripts_in_dir};
pub use error::{QueryError, Result};
pub use errors::ErrorGroupFilter;
pub use history::{HistoryFilter, HistorySort};
pub use model::{
    DayStats, ErrorGroup, FailureCount, Page, ProgressMessage, Resolution, ResourcePoint, RunDetail,
    RunState, RunSummary, RunningRun, ScriptStatus, ScriptTiming, TrendRun, TrendScope, Trends,
};
pub use stats::DurationStats;

/// The read model over one store. Cheap to clone (the store, cache and clock are shared).
#[derive(Clone, Debug)]
pub struct Monitor {
    store: Store,
    config: Arc<MonitorConfig>,
    clock: Arc<dyn Clock>,
    cache: Arc<cache::Cache>,
}

impl Monitor {
    /// A monitor over `store`, using the system clock.
    pub fn new(store: Store, config: MonitorConfig) -> Self {
        Self { store, config: Arc::new(config), clock: Arc::new(SystemClock), cache: Arc::default() }
    }

    /// The same monitor reading time from `clock` (tests, replays).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self.cache = Arc::default();
        self
    }

    /// The store queried.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// The current time by the monitor's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Forgets every cached answer. Call it when a write is seen from outside
    /// (writes made through this monitor do it themselves).
    pub fn invalidate(&self) {
        self.cache.invalidate();
    }

    /// Answers from the cache when an answer for `key` younger than the query's
    /// TTL is there, else runs `fetch` and caches its answer.
    async fn cached<T, F>(&self, query: &'static str, params: &str, fetch: F) -> Result<T>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = Result<T>>,
    {
        let ttl = self.config.ttl_of(query);
        let key = format!("{query}\u{1f}{params}");
        let started = self.now();
        if let Some(hit) = self.cache.get::<T>(&key, started, ttl) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let value = fetch.await?;
        if ttl > chrono::Duration::zero() {
            self.cache.put(key, started, generation, value.clone());
        }
        Ok(value)
    }
}
