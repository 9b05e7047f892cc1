//! Trends and statistics of one script, one category or everything over a date range.
//!
//! Counts per day are exact (SQL aggregates over the range, one index range
//! scan). Duration statistics, the chart series and the most common failures
//! come from the latest `trend_sample_limit` runs of the range, computed in
//! Rust so both stores give the same numbers; `Trends::sampled` says when the
//! range held more.

use std::collections::HashMap;

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
            let day = utc_day(self.store.backend(), "started_at");
            let count = |status: &str| format!("sum(CASE WHEN status = '{status}' THEN 1 ELSE 0 END) AS {status}");
            let per_day_sql = format!(
                "SELECT {day} AS day, count(*) AS n_runs, {}, {}, {}, {}, \
                 CAST(avg(CASE WHEN status = 'completed' THEN duration_ms END) AS double precision) AS mean_ms \
                 FROM runs WHERE {scope_sql}started_at >= $1 AND started_at < $2 GROUP BY 1 ORDER BY 1",
                count("completed"),
                count("failed"),
                count("cancelled"),
                count("lost"),
            );
            let mut totals: HashMap<&str, i64> = HashMap::new();
            let mut per_day = Vec::new();
            for row in self.store.query(&per_day_sql, params(Vec::new())).await? {
                let get = |column: &str| row.int(column).map(Option::unwrap_or_default);
                for status in ["n_runs", "completed", "failed", "cancelled", "lost"] {
                    *totals.entry(status).or_default() += get(status)?;
                }
                per_day.push(DayStats {
                    day: Row::required("day", row.text("day")?)?,
                    runs: get("n_runs")?,
                    completed: get("completed")?,
                    failed: get("failed")?,
                    mean_duration_ms: row.real("mean_ms")?,
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
            let total = totals.get("n_runs").copied().unwrap_or(0);
            let completed = totals.get("completed").copied().unwrap_or(0);
            let failed = totals.get("failed").copied().unwrap_or(0);
            let finished = completed
                + failed
                + totals.get("cancelled").copied().unwrap_or(0)
                + totals.get("lost").copied().unwrap_or(0);
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
                duration: DurationStats::of(&durations),
                per_day,
                runs,
                common_failures,
                sampled,
            })
        })
        .await
    }
}
