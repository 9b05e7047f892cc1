//! Descriptive statistics of run durations, computed in Rust from a bounded
//! sample so both stores give identical answers (SQLite has no percentile).
//!
//! Conventions (those of R's defaults, which the team's analysts use):
//! percentiles interpolate linearly between order statistics (R `quantile`
//! type 7, numpy's default); the standard deviation is the sample one (n - 1,
//! R `sd`), `None` for fewer than two values.

use serde::{Deserialize, Serialize};

/// Summary of a set of durations, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    /// How many durations.
    pub count: usize,
    /// Arithmetic mean.
    pub mean_ms: Option<f64>,
    /// 50th percentile.
    pub median_ms: Option<f64>,
    /// Smallest.
    pub min_ms: Option<i64>,
    /// Largest.
    pub max_ms: Option<i64>,
    /// Sample standard deviation (n - 1).
    pub stddev_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
}

impl DurationStats {
    /// Computes the summary of `durations` (any order).
    pub fn of(durations: &[i64]) -> Self {
        let mut sorted = durations.to_vec();
        sorted.sort_unstable();
        let count = sorted.len();
        if count == 0 {
            return Self::default();
        }
        let mean = sorted.iter().map(|&d| d as f64).sum::<f64>() / count as f64;
        let stddev = (count > 1).then(|| {
            let squares: f64 = sorted.iter().map(|&d| (d as f64 - mean).powi(2)).sum();
            (squares / (count - 1) as f64).sqrt()
        });
        Self {
            count,
            mean_ms: Some(mean),
            median_ms: percentile_sorted(&sorted, 0.5),
            min_ms: sorted.first().copied(),
            max_ms: sorted.last().copied(),
            stddev_ms: stddev,
            p90_ms: percentile_sorted(&sorted, 0.9),
        }
    }
}

impl DurationStats {
    /// The summary of durations known by their moments (from the per-day
    /// rollup): `count`, mean, minimum, maximum and standard deviation are
    /// exact over all of them; the median and 90th percentile, which no rollup
    /// can give, come from `sample`, a subset (the latest durations).
    pub fn of_moments(
        count: i64,
        sum: i64,
        sum_sq: f64,
        min: Option<i64>,
        max: Option<i64>,
        sample: &[i64],
    ) -> Self {
        if count <= 0 {
            return Self::default();
        }
        let n = count as f64;
        let mean = sum as f64 / n;
        // Sample variance from the moments; rounding can make it a hair negative.
        let stddev = (count > 1).then(|| ((sum_sq - sum as f64 * mean) / (n - 1.0)).max(0.0).sqrt());
        let mut sorted = sample.to_vec();
        sorted.sort_unstable();
        Self {
            count: usize::try_from(count).unwrap_or(usize::MAX),
            mean_ms: Some(mean),
            median_ms: percentile_sorted(&sorted, 0.5),
            min_ms: min,
            max_ms: max,
            stddev_ms: stddev,
            p90_ms: percentile_sorted(&sorted, 0.9),
        }
    }
}

/// The `q` quantile (0..=1) of sorted values, R type 7. `None` when empty.
pub fn percentile_sorted(sorted: &[i64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = q.clamp(0.0, 1.0) * last as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    Some(sorted[below] as f64 + (sorted[above] as f64 - sorted[below] as f64) * fraction)
}

/// The median of unsorted values.
pub fn median(values: &[i64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    percentile_sorted(&sorted, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_match_r() {
        // R: x <- c(10, 20, 30, 40, 100); mean 40, median 30, sd 35.35534,
        // quantile(x, .9) = 76 (type 7).
        let stats = DurationStats::of(&[40, 10, 100, 30, 20]);
        assert_eq!(stats.count, 5);
        assert_eq!(stats.mean_ms, Some(40.0));
        assert_eq!(stats.median_ms, Some(30.0));
        assert_eq!((stats.min_ms, stats.max_ms), (Some(10), Some(100)));
        assert!((stats.stddev_ms.unwrap() - 35.355_339).abs() < 1e-5);
        assert_eq!(stats.p90_ms, Some(76.0));
    }

    #[test]
    fn even_counts_interpolate_and_tiny_samples_are_defined() {
        assert_eq!(median(&[4, 1, 3, 2]), Some(2.5));
        assert_eq!(median(&[]), None);
        let one = DurationStats::of(&[7]);
        assert_eq!((one.median_ms, one.p90_ms, one.stddev_ms), (Some(7.0), Some(7.0), None));
        assert_eq!(DurationStats::of(&[]), DurationStats::default());
    }

    #[test]
    fn moments_give_the_same_statistics_as_the_durations() {
        // Hours-long durations with a small spread: the moments lose no precision.
        let all: Vec<i64> = (0..10_000).map(|i| 3_600_000 + (i * 7919) % 60_000).collect();
        let exact = DurationStats::of(&all);
        let sum: i64 = all.iter().sum();
        let sum_sq: f64 = all.iter().map(|&d| (d as f64) * (d as f64)).sum();
        let (min, max) = (all.iter().min().copied(), all.iter().max().copied());
        let from_moments = DurationStats::of_moments(all.len() as i64, sum, sum_sq, min, max, &all[..100]);
        assert_eq!(from_moments.count, exact.count);
        assert_eq!((from_moments.min_ms, from_moments.max_ms), (exact.min_ms, exact.max_ms));
        assert!((from_moments.mean_ms.unwrap() - exact.mean_ms.unwrap()).abs() < 1e-6);
        let (sd, exact_sd) = (from_moments.stddev_ms.unwrap(), exact.stddev_ms.unwrap());
        assert!((sd - exact_sd).abs() < 1e-6 * exact_sd, "{sd} vs {exact_sd}");
        // The percentiles are those of the sample.
        assert_eq!(from_moments.median_ms, DurationStats::of(&all[..100]).median_ms);
        assert_eq!(DurationStats::of_moments(0, 0, 0.0, None, None, &[]), DurationStats::default());
        assert_eq!(DurationStats::of_moments(1, 5, 25.0, Some(5), Some(5), &[5]).stddev_ms, None);
    }
}
