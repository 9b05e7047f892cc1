//! Deterministic, realistic pipeline history for pipetrack.
//!
//! The ~40 scripts of the original pipeline ([`scripts::SCRIPTS`]) run on
//! their cadences: the DAILY pipeline `daily_runs_per_day` times a day (its
//! scripts one after the other, stopping at a failure, as `make` does), the
//! ANNUAL ones once a year in their month, STATIC every quarter, PERIODIC and
//! PREREQ monthly. Each run has the script's tasks (`Load states`,
//! `Processing states` with state-by-state progress ...), durations around the
//! script's typical one with noise and occasional slow runs, resource samples,
//! and 2-8 % failures with real-looking R and Python errors and tracebacks.
//!
//! Every event is produced by a [`tracker_core::Session`], so the data is
//! exactly what real trackers write, and the same seed always gives the same
//! events.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use history_gen::{History, HistoryConfig};
//!
//! let config = HistoryConfig { days: 2, ..HistoryConfig::default() };
//! let runs: Vec<_> = History::new(config.clone()).collect();
//! assert!(runs.len() > 10);
//! let again: Vec<_> = History::new(config).collect();
//! assert_eq!(runs[5].events, again[5].events, "deterministic");
//! ```

mod failures;
pub mod scripts;

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt as _, SeedableRng};
use tracker_core::{
    Event, ResourceSample, RunEnd, RunId, RunMeta, RunStatus, Session, StatusUpdate, TaskStatus,
};
use tracker_db::{DbError, Store};

use crate::scripts::{Cadence, Language, SCRIPTS, STATES, ScriptDef};

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryConfig {
    /// Seed of the random generator: same seed, same history.
    pub seed: u64,
    /// First day (its date is used, at 00:00 UTC).
    pub start: DateTime<Utc>,
    /// Number of days.
    pub days: u32,
    /// How many times a day the DAILY pipeline runs.
    pub daily_runs_per_day: u32,
    /// When set, runs are cut at this time: later ones are not generated and
    /// those under way are left running (with a recent heartbeat), as a live
    /// pipeline looks.
    pub now: Option<DateTime<Utc>>,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            start: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().unwrap_or_default(),
            days: 30,
            daily_runs_per_day: 1,
            now: None,
        }
    }
}

impl HistoryConfig {
    /// The last `days` days up to `now`, the DAILY pipeline once a day: what
    /// `pipetrack demo` shows. Runs under way at `now` are left running.
    pub fn last_days(days: u32, now: DateTime<Utc>, seed: u64) -> Self {
        Self {
            seed,
            start: now - Duration::days(i64::from(days)),
            days: days + 1,
            daily_runs_per_day: 1,
            now: Some(now),
        }
    }

    /// About `target_runs` runs over ten years from 2016-01-01 (the DAILY
    /// pipeline runs as often a day as it takes), for the scale benchmark.
    pub fn scale(target_runs: u64, seed: u64) -> Self {
        let daily_scripts = SCRIPTS.iter().filter(|s| s.cadence == Cadence::Daily).count() as u64;
        let days = 3_650_u64.min((target_runs / daily_scripts).max(1));
        // A failure stops the rest of its pipeline (as `make` does): about 86 % of
        // the DAILY scripts' runs happen (measured with seed 42).
        let per_day = ((target_runs as f64 / (daily_scripts * days) as f64 / 0.86).round() as u64).max(1);
        Self {
            seed,
            start: Utc.with_ymd_and_hms(2016, 1, 1, 0, 0, 0).single().unwrap_or_default(),
            days: days as u32,
            daily_runs_per_day: per_day as u32,
            now: None,
        }
    }
}

/// One generated run.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedRun {
    /// Its id.
    pub run_id: RunId,
    /// Its script.
    pub script: &'static str,
    /// Its events, in order.
    pub events: Vec<Event>,
}

/// The history, run by run, day by day. An iterator: memory stays flat however long.
#[derive(Debug)]
pub struct History {
    config: HistoryConfig,
    rng: ChaCha8Rng,
    day: u32,
    pending: VecDeque<GeneratedRun>,
}

impl History {
    /// A history for `config`.
    pub fn new(config: HistoryConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        Self { config, rng, day: 0, pending: VecDeque::new() }
    }

    fn generate_day(&mut self) {
        let midnight = self.config.start.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            + Duration::days(i64::from(self.day));
        let mut runs = Vec::new();
        // The DAILY pipeline: sequential, stops at a failure.
        let per_day = self.config.daily_runs_per_day.max(1);
        let spacing = 86_400 / i64::from(per_day);
        for k in 0..per_day {
            let mut at = midnight
                + Duration::hours(5)
                + Duration::seconds(spacing * i64::from(k) + self.rng.random_range(0..60));
            let pipeline = uuid::Builder::from_random_bytes(self.rng.random()).into_uuid();
            for script in SCRIPTS.iter().filter(|s| s.cadence == Cadence::Daily) {
                let (run, end, ok) = self.run(script, at, Some(pipeline));
                runs.extend(run);
                if !ok {
                    break;
                }
                at = end + Duration::seconds(self.rng.random_range(2..15));
            }
        }
        // Annual categories in their month (from the 1st, sequential); the others on their period.
        let mut annual_at: Option<DateTime<Utc>> = None;
        for (index, script) in SCRIPTS.iter().enumerate() {
            match script.cadence {
                Cadence::Daily => {}
                Cadence::Annual { month } => {
                    if midnight.month() == month && midnight.day() == 1 {
                        let at = annual_at.unwrap_or(midnight + Duration::hours(1));
                        let (run, end, _) = self.run(script, at, None);
                        runs.extend(run);
                        annual_at = Some(end + Duration::minutes(5));
                    }
                }
                Cadence::EveryDays(period) => {
                    if (self.day + index as u32).is_multiple_of(period) {
                        let at = midnight + Duration::hours(2) + Duration::minutes(index as i64 * 7);
                        runs.extend(self.run(script, at, None).0);
                    }
                }
            }
        }
        runs.sort_by_key(|run| run.events.first().map(|e| e.at));
        self.pending.extend(runs);
    }

    /// One run of `script` from `start`: its events (none if it starts after
    /// `now`), its end, and whether it completed.
    fn run(
        &mut self,
        script: &'static ScriptDef,
        start: DateTime<Utc>,
        pipeline: Option<uuid::Uuid>,
    ) -> (Option<GeneratedRun>, DateTime<Utc>, bool) {
        let rng = &mut self.rng;
        let mut factor = (rng.random_range(-1.0..1.0_f64) * 0.15).exp();
        if rng.random_bool(0.03) {
            factor *= rng.random_range(1.5..3.0);
        }
        let total_ms = (f64::from(script.typical_secs) * 1000.0 * factor) as i64;
        let fails = rng.random_bool(script.failure_rate);
        let cancelled = !fails && rng.random_bool(0.004);
        let stop_task = rng.random_range(0..script.tasks.len());
        let weights: Vec<f64> = script
            .tasks
            .iter()
            .map(|task| rng.random_range(0.5..1.5) * if task.starts_with("Processing") { 6.0 } else { 1.0 })
            .collect();
        let weight_sum: f64 = weights.iter().sum();
        let run_id = RunId::from_parts(start.timestamp_millis().max(0) as u64, rng.random());
        let language = script.language;
        let commit_seed = (start.timestamp() / (14 * 86_400)) as u64;
        let meta = RunMeta {
            script_name: script.name.to_owned(),
            script_path: Some(format!("/srv/pipeline/{}", script.name)),
            total_tasks: Some(script.tasks.len() as u32),
            host: Some(if rng.random_bool(0.8) { "etl-01" } else { "etl-02" }.to_owned()),
            pid: Some(rng.random_range(2_000..400_000)),
            os_user: Some("etl".to_owned()),
            language: Some(
                match language {
                    Language::R => "R",
                    Language::Python => "python",
                }
                .to_owned(),
            ),
            language_version: Some(
                match language {
                    Language::R => "4.4.1",
                    Language::Python => "3.12.3",
                }
                .to_owned(),
            ),
            git_commit: Some(format!(
                "{:016x}{:024x}",
                commit_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                commit_seed
            )),
            git_branch: Some("main".to_owned()),
            git_dirty: Some(false),
            working_dir: Some("/srv/pipeline".to_owned()),
            log_path: Some(format!(
                "/var/log/pipeline/{}.log",
                script.name.rsplit_once('.').map_or(script.name, |(stem, _)| stem)
            )),
            env: [
                ("MONITOR_DB_PASSWORD".to_owned(), "[REDACTED]".to_owned()),
                ("R_LIBS_USER".to_owned(), "/srv/R/library".to_owned()),
            ]
            .into(),
            pipeline_run_id: pipeline,
            ..RunMeta::default()
        };
        let Ok((mut session, first)) = Session::start(run_id, meta, start) else {
            return (None, start, false);
        };
        let mut events = vec![first];
        let mut at = start;
        let peak = run_peak_bytes(script.peak_mib, start, run_id);
        let mut ended_ok = true;
        let date = start.format("%Y-%m-%d").to_string();
        for (i, task) in script.tasks.iter().enumerate() {
            let task_ms = (total_ms as f64 * weights[i] / weight_sum) as i64;
            let task_end = at + Duration::milliseconds(task_ms.max(1));
            events.extend(session.enter_task(task, at).ok());
            if task.starts_with("Processing") {
                let unit = if task.ends_with("counties") { "county batch" } else { "state" };
                let checkpoints = 5;
                for j in 1..=checkpoints {
                    let t = at + Duration::milliseconds(task_ms * j / (checkpoints + 1));
                    let done = STATES.len() * j as usize / checkpoints as usize;
                    let update = StatusUpdate {
                        message: Some(format!(
                            "Processing {} ({unit} {done}/{})",
                            STATES[done.saturating_sub(1)],
                            STATES.len()
                        )),
                        progress_done: Some(done as u64),
                        progress_total: Some(STATES.len() as u64),
                        ..StatusUpdate::default()
                    };
                    events.extend(session.update(update, t).ok());
                }
            } else if rng.random_bool(0.3) {
                let message = format!("{task}: {} rows", rng.random_range(1_000..5_000_000));
                events.extend(session.message(&message, at + Duration::milliseconds(task_ms / 2)).ok());
            }
            if (fails || cancelled) && i == stop_task {
                // After whatever the task reported before it broke.
                at = events.last().map_or(at, |e| e.at) + Duration::milliseconds(task_ms / 10 + 1);
                ended_ok = false;
                break;
            }
            events.extend(session.exit_task(TaskStatus::Completed, task_end).ok());
            if i == script.tasks.len() / 3 || i == script.tasks.len() * 2 / 3 {
                let elapsed = (task_end - start).num_milliseconds() as f64 / 1000.0;
                let sample = ResourceSample {
                    rss_bytes: (peak as f64 * rng.random_range(0.4..0.95)) as u64,
                    peak_rss_bytes: peak,
                    cpu_seconds: elapsed * rng.random_range(0.6..0.98),
                    read_bytes: (elapsed * 4_000_000.0) as u64,
                    write_bytes: (elapsed * 1_000_000.0) as u64,
                };
                events.extend(session.sample(sample, task_end).ok());
            }
            at = task_end;
        }
        let end = if fails {
            let task = script.tasks[stop_task];
            let error = failures::failure(language, script.name, task, rng, &date);
            events.extend(session.fail(error, Some(1), at).unwrap_or_default());
            at
        } else if cancelled {
            let end = RunEnd { status: RunStatus::Cancelled, exit_code: None, signal: Some(15), error: None };
            events.extend(session.finish(end, at).unwrap_or_default());
            at
        } else {
            let end = RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None };
            events.extend(session.finish(end, at).unwrap_or_default());
            at
        };
        if let Some(now) = self.config.now {
            if start > now {
                return (None, end, false);
            }
            if end > now {
                // Under way: keep what happened so far and a recent heartbeat.
                events.retain(|event| event.at <= now);
                let heartbeat_at = now - Duration::seconds(rng.random_range(1..20));
                if events.last().is_some_and(|last| last.at < heartbeat_at) {
                    let seq = events.last().map_or(1, |last| last.seq + 1);
                    events.push(Event {
                        run_id,
                        stream: tracker_core::StreamId::MAIN,
                        seq,
                        at: heartbeat_at,
                        kind: tracker_core::EventKind::Heartbeat,
                    });
                }
                return (Some(GeneratedRun { run_id, script: script.name, events }), end, false);
            }
        }
        (Some(GeneratedRun { run_id, script: script.name, events }), end, ended_ok)
    }
}

impl Iterator for History {
    type Item = GeneratedRun;

    fn next(&mut self) -> Option<GeneratedRun> {
        loop {
            if let Some(run) = self.pending.pop_front() {
                return Some(run);
            }
            if self.day >= self.config.days {
                return None;
            }
            self.generate_day();
            self.day += 1;
        }
    }
}

/// Progress of [`write`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Runs written.
    pub runs: u64,
    /// Top-level and nested tasks written.
    pub tasks: u64,
    /// Events written.
    pub events: u64,
}

/// Appends runs to `store` in batches of about `batch_events` events (one
/// transaction each), calling `progress` after each batch. Stops after `limit`
/// runs when given.
pub async fn write(
    store: &Store,
    runs: impl Iterator<Item = GeneratedRun>,
    batch_events: usize,
    mut progress: impl FnMut(&WriteSummary),
) -> Result<WriteSummary, DbError> {
    let mut summary = WriteSummary::default();
    let mut batch: Vec<Event> = Vec::with_capacity(batch_events + 64);
    for run in runs {
        summary.runs += 1;
        summary.tasks += run
            .events
            .iter()
            .filter(|e| matches!(e.kind, tracker_core::EventKind::TaskEntered { .. }))
            .count() as u64;
        summary.events += run.events.len() as u64;
        batch.extend(run.events);
        if batch.len() >= batch_events {
            store.append(std::mem::take(&mut batch)).await?;
            progress(&summary);
        }
    }
    if !batch.is_empty() {
        store.append(batch).await?;
        progress(&summary);
    }
    Ok(summary)
}

/// A run's peak memory: the script's typical peak, drifting slowly over the
/// year (data grows, then is pruned: +-15 % over a ~90-day cycle) and varying
/// run to run (+-20 %). Derived from the start time and the run id, not from
/// the generator's random stream, so every other value of a seeded history is
/// unchanged; the same run always gets the same peak.
fn run_peak_bytes(typical_mib: u32, start: DateTime<Utc>, run_id: RunId) -> u64 {
    let day = start.timestamp().div_euclid(86_400) as f64;
    let drift = 1.0 + 0.15 * (day * std::f64::consts::TAU / 90.0).sin();
    // splitmix64 of the id: a uniform number in [0, 1).
    let mut x = (run_id.0.as_u128() as u64) ^ ((run_id.0.as_u128() >> 64) as u64);
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let jitter = 0.8 + 0.4 * ((x >> 11) as f64 / (1u64 << 53) as f64);
    (f64::from(typical_mib) * drift * jitter * 1024.0 * 1024.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every resource sample's peak memory in `run`.
    fn peaks(run: &GeneratedRun) -> Vec<u64> {
        run.events
            .iter()
            .filter_map(|e| match &e.kind {
                tracker_core::EventKind::ResourceSample(s) => Some(s.peak_rss_bytes),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn peak_memory_varies_from_run_to_run_deterministically() {
        let config = HistoryConfig { days: 60, ..HistoryConfig::default() };
        let runs: Vec<GeneratedRun> = History::new(config.clone()).collect();
        let script = "DAILY_00a_BDC_Download.py";
        let typical = u64::from(SCRIPTS.iter().find(|s| s.name == script).unwrap().peak_mib) << 20;
        let per_run: Vec<u64> =
            runs.iter().filter(|r| r.script == script).filter_map(|r| peaks(r).first().copied()).collect();
        assert!(per_run.len() > 40, "{}", per_run.len());
        let distinct: std::collections::BTreeSet<u64> = per_run.iter().copied().collect();
        assert!(distinct.len() > per_run.len() * 9 / 10, "peaks differ between runs");
        let (lo, hi) = (*distinct.first().unwrap(), *distinct.last().unwrap());
        assert!(
            lo as f64 >= typical as f64 * 0.8 * 0.85 - 1.0 && hi as f64 <= typical as f64 * 1.2 * 1.15 + 1.0
        );
        assert!(hi as f64 > lo as f64 * 1.2, "a visible spread: {lo}..{hi}");
        // Within a run every sample reports the same peak; the same seed gives the same peaks.
        assert!(runs.iter().all(|r| peaks(r).windows(2).all(|w| w[0] == w[1])));
        let again: Vec<GeneratedRun> = History::new(config).collect();
        assert_eq!(runs, again);
    }

    #[test]
    fn same_seed_same_history_other_seed_other_history() {
        let config = HistoryConfig { days: 3, ..HistoryConfig::default() };
        let a: Vec<GeneratedRun> = History::new(config.clone()).collect();
        let b: Vec<GeneratedRun> = History::new(config.clone()).collect();
        assert_eq!(a, b);
        let c: Vec<GeneratedRun> = History::new(HistoryConfig { seed: 7, ..config }).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn a_year_has_every_cadence_failures_and_realistic_shapes() {
        let config = HistoryConfig { days: 366, ..HistoryConfig::default() };
        let runs: Vec<GeneratedRun> = History::new(config).collect();
        let scripts: std::collections::BTreeSet<&str> = runs.iter().map(|r| r.script).collect();
        assert_eq!(scripts.len(), SCRIPTS.len(), "every script ran within a year");
        let count = |name: &str| runs.iter().filter(|r| r.script == name).count();
        assert_eq!(count("ANNUAL_DEC_01_Hex_Info_Base.R"), 1);
        assert!((360..=366).contains(&count("DAILY_00a_BDC_Download.py")));
        assert!((3..=5).contains(&count("STATIC_02_Technology_Codes.R")));
        let failed = runs
            .iter()
            .filter(|r| r.events.iter().any(|e| matches!(&e.kind, tracker_core::EventKind::RunFinished(end) if end.status == RunStatus::Failed)))
            .count();
        let rate = failed as f64 / runs.len() as f64;
        assert!((0.02..0.08).contains(&rate), "failure rate {rate}");
        let events: usize = runs.iter().map(|r| r.events.len()).sum();
        let per_run = events as f64 / runs.len() as f64;
        assert!((20.0..40.0).contains(&per_run), "{per_run} events per run");
        // Every run's events are valid as a batch: increasing seq, times never going back.
        for run in &runs {
            assert!(
                run.events.windows(2).all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at),
                "{}",
                run.script
            );
        }
    }

    #[test]
    fn last_days_leaves_the_runs_under_way_running() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 5, 4, 0).unwrap();
        let runs: Vec<GeneratedRun> = History::new(HistoryConfig::last_days(7, now, 1)).collect();
        assert!(runs.iter().all(|r| r.events.iter().all(|e| e.at <= now)));
        let open: Vec<&GeneratedRun> = runs
            .iter()
            .filter(|r| !r.events.iter().any(|e| matches!(e.kind, tracker_core::EventKind::RunFinished(_))))
            .collect();
        let names: Vec<&str> = runs.iter().rev().take(4).map(|r| r.script).collect();
        assert_eq!(
            open.len(),
            1,
            "the DAILY pipeline started at 05:00 has its first script running at 05:04: {names:?}"
        );
        let last = open[0].events.last().unwrap();
        assert!(now - last.at < Duration::seconds(60), "a fresh heartbeat");
    }

    #[test]
    fn scale_config_reaches_the_target() {
        let config = HistoryConfig::scale(1_000_000, 1);
        assert_eq!(config.days, 3_650);
        assert_eq!(config.daily_runs_per_day, 40);
        let small = HistoryConfig::scale(800, 1);
        assert_eq!((small.days, small.daily_runs_per_day), (100, 1));
        // The attrition estimate holds: a month at the 1M rate gives 8 x 40 x 30 x ~0.86 runs.
        let month = HistoryConfig { days: 30, ..config };
        let runs = History::new(month).count();
        assert!((7_800..=8_700).contains(&runs), "{runs}");
    }
}
