//! Trends and statistics of one script, one category or everything over a date range.
//!
//! Counts per day are exact: whole days come from the `run_days` rollup the
//! store keeps (migration V8), the partial days at either end of the range
//! from the runs themselves (one index range scan each). Duration statistics
//! are exact too: count, mean, minimum, maximum and standard deviation come
//! from the same day totals (sums, sums of squares and extremes, V9). The
//! chart series, the most common failures and, when the range held more runs
//! than `trend_sample_limit`, the median and 90th percentile come from the
//! latest `trend_sample_limit` runs of the range; `Trends::sampled` says when.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use tracker_core::{RunId, RunStatus};
use tracker_db::{Row, Value};

use crate::Monitor;
use crate::dialect::utc_day;
use crate::error::{Result, invalid};
use crate::model::{DayStats, FailureCount, TrendRun, TrendScope, Trends};
use crate::rows::{failure_fingerprint, failure_message};
use crate::stats::DurationStats;

fn scope_condition(scope: &TrendScope) -> (&'static str, Vec<Value>) {
    match scope {
        TrendScope::Script(name) => ("script_name = $3 AND ", vec![name.clone().into()]),
        TrendScope::Category(name) => ("category = $3 AND ", vec![name.clone().into()]),
        TrendScope::All => ("", Vec::new()),
    }
}

/// Counts of one day (or of a whole range), from the rollup or the runs.
#[derive(Default)]
struct DayTotals {
    runs: i64,
    completed: i64,
    failed: i64,
    cancelled: i64,
    lost: i64,
    completed_ms: i64,
    completed_n: i64,
    completed_ms_sq: f64,
    completed_min_ms: Option<i64>,
    completed_max_ms: Option<i64>,
}

impl DayTotals {
    fn merge(&mut self, other: &DayTotals) {
        self.runs += other.runs;
        self.completed += other.completed;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.lost += other.lost;
        self.completed_ms += other.completed_ms;
        self.completed_n += other.completed_n;
        self.completed_ms_sq += other.completed_ms_sq;
        self.completed_min_ms = [self.completed_min_ms, other.completed_min_ms].into_iter().flatten().min();
        self.completed_max_ms = [self.completed_max_ms, other.completed_max_ms].into_iter().flatten().max();
    }

    /// Adds a row with a `day` and the counter columns to its day.
    fn add_row(days: &mut BTreeMap<String, DayTotals>, row: &Row) -> Result<()> {
        let get = |column: &str| row.int(column).map(Option::unwrap_or_default);
        let counts = DayTotals {
            runs: get("runs")?,
            completed: get("completed")?,
            failed: get("failed")?,
            cancelled: get("cancelled")?,
            lost: get("lost")?,
            completed_ms: get("completed_ms")?,
            completed_n: get("completed_n")?,
            completed_ms_sq: row.real("completed_ms_sq")?.unwrap_or_default(),
            completed_min_ms: row.int("completed_min_ms")?,
            completed_max_ms: row.int("completed_max_ms")?,
        };
        days.entry(Row::required("day", row.text("day")?)?).or_default().merge(&counts);
        Ok(())
    }
}

/// The whole UTC days inside `[from, to)`: from the first midnight at or after
/// `from` to the last midnight at or before `to` (empty when `first >= end`).
fn whole_days(from: DateTime<Utc>, to: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let midnight = |t: DateTime<Utc>| t.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let first = if midnight(from) == from { from } else { midnight(from) + chrono::Duration::days(1) };
    (first, midnight(to))
}

fn day_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl Monitor {
    /// Trends of `scope` for runs started in `[from, to)`.
    pub async fn trends(&self, scope: &TrendScope, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Trends> {
        if from >= to {
            return Err(invalid("date range", format!("from ({from}) must be before to ({to})")));
        }
        let key = format!("{scope:?}|{}|{}", from.timestamp_micros(), to.timestamp_micros());
        self.cached("trends", &key, async {
            let (scope_sql, scope_params) = scope_condition(scope);
            let params = |extra: Vec<Value>| {
                let mut p: Vec<Value> = vec![from.into(), to.into()];
                p.extend(scope_params.iter().cloned());
                p.extend(extra);
                p
            };
            let mut days: BTreeMap<String, DayTotals> = BTreeMap::new();
            // Whole days from the per-day rollup; the partial days at either end
            // of the range from the runs themselves.
            let (first_full, end_full) = whole_days(from, to);
            let partial: Vec<(DateTime<Utc>, DateTime<Utc>)> = if first_full < end_full {
                let rollup_sql = format!(
                    "SELECT day, {}, sum(completed_ms_sq) AS completed_ms_sq, \
                     min(completed_min_ms) AS completed_min_ms, max(completed_max_ms) AS completed_max_ms \
                     FROM run_days WHERE {scope_sql}day >= $1 AND day < $2 GROUP BY day",
                    ["runs", "completed", "failed", "cancelled", "lost", "completed_ms", "completed_n"]
                        .map(|c| format!("CAST(sum({c}) AS bigint) AS {c}"))
                        .join(", ")
                );
                let mut rollup_params: Vec<Value> = vec![day_text(first_full).into(), day_text(end_full).into()];
                rollup_params.extend(scope_params.iter().cloned());
                for row in self.store.query(&rollup_sql, rollup_params).await? {
                    DayTotals::add_row(&mut days, &row)?;
                }
                [(from, first_full), (end_full, to)].into_iter().filter(|(a, b)| a < b).collect()
            } else {
                vec![(from, to)]
            };
            let day = utc_day(self.store.backend(), "started_at");
            let count = |status: &str| {
                format!("CAST(sum(CASE WHEN status = '{status}' THEN 1 ELSE 0 END) AS bigint) AS {status}")
            };
            let per_day_sql = format!(
                "SELECT {day} AS day, count(*) AS runs, {}, {}, {}, {}, \
                 CAST(sum(CASE WHEN status = 'completed' THEN duration_ms END) AS bigint) AS completed_ms, \
                 count(CASE WHEN status = 'completed' THEN duration_ms END) AS completed_n, \
                 sum(CASE WHEN status = 'completed' THEN CAST(duration_ms AS double precision) * duration_ms END) \
                     AS completed_ms_sq, \
                 min(CASE WHEN status = 'completed' THEN duration_ms END) AS completed_min_ms, \
                 max(CASE WHEN status = 'completed' THEN duration_ms END) AS completed_max_ms \
                 FROM runs WHERE {scope_sql}started_at >= $1 AND started_at < $2 GROUP BY 1",
                count("completed"),
                count("failed"),
                count("cancelled"),
                count("lost"),
            );
            for (start, end) in partial {
                let mut range_params: Vec<Value> = vec![start.into(), end.into()];
                range_params.extend(scope_params.iter().cloned());
                for row in self.store.query(&per_day_sql, range_params).await? {
                    DayTotals::add_row(&mut days, &row)?;
                }
            }
            let mut totals = DayTotals::default();
            let mut per_day = Vec::new();
            for (day, d) in days {
                if d.runs == 0 {
                    continue; // a rollup row whose runs all moved away
                }
                totals.merge(&d);
                per_day.push(DayStats {
                    day,
                    runs: d.runs,
                    completed: d.completed,
                    failed: d.failed,
                    mean_duration_ms: (d.completed_n > 0).then(|| d.completed_ms as f64 / d.completed_n as f64),
                });
            }
            let limit = self.config.trend_sample_limit.max(1);
            let limit_placeholder = 3 + scope_params.len();
            let sample_sql = format!(
                "SELECT run_id, script_name, started_at, duration_ms, status, exit_code, error_class, error_message, \
                 peak_rss_bytes, cpu_seconds, read_bytes, write_bytes FROM runs \
                 WHERE {scope_sql}started_at >= $1 AND started_at < $2 \
                 ORDER BY started_at DESC, run_id DESC LIMIT ${limit_placeholder}"
            );
            let rows = self.store.query(&sample_sql, params(vec![((limit + 1) as i64).into()])).await?;
            let sampled = rows.len() > limit;
            let mut runs = Vec::with_capacity(rows.len().min(limit));
            let mut durations = Vec::new();
            let mut failures: HashMap<String, FailureCount> = HashMap::new();
            for row in rows.iter().take(limit) {
                let status: RunStatus = Row::required("status", row.text("status")?)?
                    .parse()
                    .map_err(|err| tracker_db::DbError::Corrupt(format!("runs.status: {err}")))?;
                let duration_ms = row.int("duration_ms")?;
                if status == RunStatus::Completed
                    && let Some(ms) = duration_ms
                {
                    durations.push(ms);
                }
                if status == RunStatus::Failed {
                    let class = row.text("error_class")?;
                    let message = row.text("error_message")?;
                    let exit_code = row.int("exit_code")?;
                    let fingerprint = failure_fingerprint(class.as_deref(), message.as_deref(), exit_code);
                    // Rows come newest first: the first one seen is the group's latest example.
                    failures
                        .entry(fingerprint.clone())
                        .or_insert_with(|| FailureCount {
                            fingerprint,
                            error_class: class,
                            example: failure_message(message.as_deref(), exit_code),
                            count: 0,
                        })
                        .count += 1;
                }
                runs.push(TrendRun {
                    run_id: RunId(Row::required("run_id", row.uuid("run_id")?)?),
                    script_name: Row::required("script_name", row.text("script_name")?)?,
                    started_at: Row::required("started_at", row.time("started_at")?)?,
                    duration_ms,
                    status,
                    peak_rss_bytes: row.int("peak_rss_bytes")?,
                    cpu_seconds: row.real("cpu_seconds")?,
                    read_bytes: row.int("read_bytes")?,
                    write_bytes: row.int("write_bytes")?,
                });
            }
            let mut common_failures: Vec<FailureCount> = failures.into_values().collect();
            common_failures.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.fingerprint.cmp(&b.fingerprint)));
            common_failures.truncate(10);
            let (total, completed, failed) = (totals.runs, totals.completed, totals.failed);
            let finished = completed + failed + totals.cancelled + totals.lost;
            let days = ((to - from).num_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
            Ok(Trends {
                scope: scope.clone(),
                from,
                to,
                total_runs: total,
                completed,
                failed,
                failure_percent: (finished > 0).then(|| failed as f64 * 100.0 / finished as f64),
                runs_per_day: total as f64 / days,
                // Exact over the range from the day totals; when the range held
                // more runs than the sample, the median and p90 are the sample's.
                duration: if sampled {
                    DurationStats::of_moments(
                        totals.completed_n,
                        totals.completed_ms,
                        totals.completed_ms_sq,
                        totals.completed_min_ms,
                        totals.completed_max_ms,
                        &durations,
                    )
                } else {
                    DurationStats::of(&durations)
                },
                per_day,
                runs,
                common_failures,
                sampled,
            })
        })
        .await
    }
}
