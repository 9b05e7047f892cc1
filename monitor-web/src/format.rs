//! How values read on screen: durations, times, sizes. UTC on the server; the
//! page's script rewrites `<time>` elements into the reader's local time.

use chrono::{DateTime, Utc};

/// `1h02m`, `4m05s`, `12s`, `-` (the same style as the CLI).
pub(crate) fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "-".to_owned() };
    let secs = ms.max(0) / 1000;
    match secs {
        s if s >= 86_400 => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// [`duration`] of a fractional number of milliseconds.
pub(crate) fn duration_f(ms: Option<f64>) -> String {
    duration(ms.map(|ms| ms.round() as i64))
}

/// `2026-03-01 06:00 UTC`.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `2026-03-01 06:00:05 UTC` (seconds matter in a run's detail).
pub(crate) fn time_precise(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// RFC 3339, for `<time datetime>` and CSV.
pub(crate) fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `5 min ago`, `3 h ago`, `2 days ago`, `just now`.
pub(crate) fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        s if s < 45 => "just now".to_owned(),
        s if s < 90 * 60 => format!("{} min ago", (s + 30) / 60),
        s if s < 36 * 3600 => format!("{} h ago", (s + 1800) / 3600),
        s => format!("{} days ago", (s + 43_200) / 86_400),
    }
}

/// `1.5 GiB`, `230 MiB`, `12 KiB`, `512 B`.
pub(crate) fn bytes(value: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let value = value.max(0) as f64;
    if value < 1024.0 {
        return format!("{value:.0} B");
    }
    let mut scaled = value / 1024.0;
    let mut unit = 0;
    while scaled >= 1024.0 && unit < UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    if scaled < 10.0 {
        format!("{scaled:.1} {}", UNITS[unit])
    } else {
        format!("{scaled:.0} {}", UNITS[unit])
    }
}

/// A percentage with one decimal when small, none otherwise.
pub(crate) fn percent(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v < 10.0 => format!("{v:.1}%"),
        Some(v) => format!("{v:.0}%"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn durations_read_like_the_cli() {
        assert_eq!(duration(None), "-");
        assert_eq!(duration(Some(12_400)), "12s");
        assert_eq!(duration(Some(245_000)), "4m05s");
        assert_eq!(duration(Some(3_720_000)), "1h02m");
        assert_eq!(duration(Some(90_000_000)), "1d01h");
    }

    #[test]
    fn relative_times_round_to_the_nearest_unit() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - chrono::Duration::minutes(5), now), "5 min ago");
        assert_eq!(ago(now - chrono::Duration::hours(3), now), "3 h ago");
        assert_eq!(ago(now - chrono::Duration::days(4), now), "4 days ago");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(12 * 1024), "12 KiB");
        assert_eq!(bytes(1536 * 1024 * 1024), "1.5 GiB");
    }
}
