//! Query parameters of the pages and the API, parsed into the read model's
//! filters with a 400 and a message that says what is accepted.
//!
//! Empty values (what a form sends for "any") mean "not set".

use chrono::{DateTime, Duration, NaiveDate, Utc};
use monitor_queries::{ErrorGroupFilter, HistoryFilter, HistorySort, TrendScope};
use serde::Deserialize;
use tracker_core::RunStatus;

use crate::error::{WebError, bad_request};

/// The default date range of history, trends and errors.
pub(crate) const DEFAULT_DAYS: i64 = 30;
const MAX_TEXT: usize = 200;

fn clean(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn text(field: &str, value: Option<&String>) -> Result<Option<String>, WebError> {
    match clean(value) {
        Some(v) if v.chars().count() > MAX_TEXT => {
            Err(bad_request(format!("{field} is too long: at most {MAX_TEXT} characters")))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// A date (`2026-03-01`, the whole day in UTC) or an RFC 3339 time.
/// `end`: a date means the end of that day (an inclusive `to`).
pub(crate) fn parse_time(field: &str, value: &str, end: bool) -> Result<DateTime<Utc>, WebError> {
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let start = date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return Ok(if end { start + Duration::days(1) } else { start });
    }
    DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        bad_request(format!(
            "{field}={value:?} is not a date: use YYYY-MM-DD (e.g. 2026-03-01) or an RFC 3339 time (2026-03-01T06:00:00Z)"
        ))
    })
}

/// A `from`/`to` pair; `from` defaults to [`DEFAULT_DAYS`] before `now`.
fn range(
    from: Option<&String>,
    to: Option<&String>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), WebError> {
    let from = match clean(from) {
        Some(v) => parse_time("from", v, false)?,
        None => now - Duration::days(DEFAULT_DAYS),
    };
    let to = clean(to).map(|v| parse_time("to", v, true)).transpose()?;
    if let Some(to) = to
        && to <= from
    {
        return Err(bad_request("the range is empty: `to` must be after `from`"));
    }
    Ok((from, to))
}

/// `YYYY-MM-DD` of a range bound, for the date inputs (an exclusive end shows as its last day).
pub(crate) fn date_input(at: DateTime<Utc>, exclusive_end: bool) -> String {
    let at = if exclusive_end { at - Duration::seconds(1) } else { at };
    at.format("%Y-%m-%d").to_string()
}

/// Parameters of the history page, its CSV export and `/api/v1/history`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct HistoryParams {
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) script: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) status: Option<String>,
    /// Exact error class.
    pub(crate) class: Option<String>,
    /// Error fingerprint (16 hex digits): failed runs of one error group.
    pub(crate) fingerprint: Option<String>,
    pub(crate) sort: Option<String>,
    pub(crate) dir: Option<String>,
    pub(crate) cursor: Option<String>,
    pub(crate) limit: Option<String>,
}

impl HistoryParams {
    /// The read model's filter. `now` anchors the default range.
    pub(crate) fn filter(&self, now: DateTime<Utc>) -> Result<HistoryFilter, WebError> {
        let (from, to) = range(self.from.as_ref(), self.to.as_ref(), now)?;
        let statuses = match clean(self.status.as_ref()) {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<RunStatus>().map_err(|_| {
                        bad_request(format!(
                            "status={s:?} is not a status: use running, completed, failed, cancelled or lost (comma-separated for several)"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let sort = match clean(self.sort.as_ref()) {
            None => HistorySort::Started,
            Some(s) => s.parse::<HistorySort>().map_err(|err| bad_request(err.to_string()))?,
        };
        let descending = match clean(self.dir.as_ref()) {
            None => None,
            Some("desc") => Some(true),
            Some("asc") => Some(false),
            Some(other) => return Err(bad_request(format!("dir={other:?}: use asc or desc"))),
        };
        let limit = match clean(self.limit.as_ref()) {
            None => 50,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| bad_request(format!("limit={v:?}: use a whole number from 1 to 1000")))?,
        };
        Ok(HistoryFilter {
            from: Some(from),
            to,
            category: text("category", self.category.as_ref())?,
            statuses,
            script: text("script", self.script.as_ref())?,
            search: text("q", self.q.as_ref())?,
            error_class: text("class", self.class.as_ref())?,
            fingerprint: match clean(self.fingerprint.as_ref()) {
                Some(fp) if !monitor_queries::fingerprint::is_fingerprint(fp) => {
                    return Err(bad_request(format!(
                        "fingerprint={fp:?} is not a fingerprint (16 hex digits)"
                    )));
                }
                other => other.map(str::to_owned),
            },
            sort,
            descending,
            limit,
        })
    }

    /// The cursor, if any.
    pub(crate) fn cursor(&self) -> Option<&str> {
        clean(self.cursor.as_ref())
    }

    /// The query string of these parameters with some replaced (`None` removes one).
    pub(crate) fn query_with(&self, changes: &[(&str, Option<&str>)]) -> String {
        let fields = [
            ("from", &self.from),
            ("to", &self.to),
            ("category", &self.category),
            ("script", &self.script),
            ("q", &self.q),
            ("status", &self.status),
            ("class", &self.class),
            ("fingerprint", &self.fingerprint),
            ("sort", &self.sort),
            ("dir", &self.dir),
            ("cursor", &self.cursor),
            ("limit", &self.limit),
        ];
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            let value = match changes.iter().find(|(changed, _)| *changed == name) {
                Some((_, changed)) => changed.map(str::to_owned),
                None => clean(value.as_ref()).map(str::to_owned),
            };
            if let Some(value) = value {
                serializer.append_pair(name, &value);
            }
        }
        serializer.finish()
    }
}

/// Parameters of the trends page, its charts and `/api/v1/trends`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct TrendParams {
    pub(crate) script: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
}

impl TrendParams {
    /// Scope (a script wins over a category; neither: everything) and range.
    pub(crate) fn scope(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(TrendScope, DateTime<Utc>, DateTime<Utc>), WebError> {
        let (from, to) = range(self.from.as_ref(), self.to.as_ref(), now)?;
        let scope = match (text("script", self.script.as_ref())?, text("category", self.category.as_ref())?) {
            (Some(script), _) => TrendScope::Script(script),
            (None, Some(category)) => TrendScope::Category(category),
            (None, None) => TrendScope::All,
        };
        Ok((scope, from, to.unwrap_or(now)))
    }

    /// The query string, for chart URLs and links.
    pub(crate) fn query(&self) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in
            [("script", &self.script), ("category", &self.category), ("from", &self.from), ("to", &self.to)]
        {
            if let Some(value) = clean(value.as_ref()) {
                serializer.append_pair(name, value);
            }
        }
        serializer.finish()
    }
}

/// Parameters of the errors page and `/api/v1/errors`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ErrorParams {
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) script: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) resolved: Option<String>,
}

impl ErrorParams {
    /// The read model's filter.
    pub(crate) fn filter(&self, now: DateTime<Utc>) -> Result<ErrorGroupFilter, WebError> {
        let (from, to) = range(self.from.as_ref(), self.to.as_ref(), now)?;
        let include_resolved = match clean(self.resolved.as_ref()) {
            None | Some("0" | "false" | "no") => false,
            Some("1" | "true" | "yes" | "on") => true,
            Some(other) => return Err(bad_request(format!("resolved={other:?}: use 1 or 0"))),
        };
        Ok(ErrorGroupFilter {
            from,
            to,
            script: text("script", self.script.as_ref())?,
            search: text("q", self.q.as_ref())?,
            include_resolved,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
    }

    #[test]
    fn history_defaults_to_the_last_30_days_newest_first() {
        let filter = HistoryParams::default().filter(now()).unwrap();
        assert_eq!(filter.from, Some(now() - Duration::days(30)));
        assert_eq!(filter.to, None);
        assert_eq!((filter.sort, filter.descending, filter.limit), (HistorySort::Started, None, 50));
    }

    #[test]
    fn dates_are_whole_utc_days_and_to_is_inclusive() {
        let params = HistoryParams {
            from: Some("2026-03-01".into()),
            to: Some("2026-03-02".into()),
            status: Some("failed, lost".into()),
            category: Some(String::new()),
            ..HistoryParams::default()
        };
        let filter = params.filter(now()).unwrap();
        assert_eq!(filter.from, Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()));
        assert_eq!(filter.to, Some(Utc.with_ymd_and_hms(2026, 3, 3, 0, 0, 0).unwrap()));
        assert_eq!(filter.statuses, vec![RunStatus::Failed, RunStatus::Lost]);
        assert_eq!(filter.category, None);
    }

    #[test]
    fn bad_values_name_the_parameter_and_what_is_accepted() {
        let bad = |params: HistoryParams| params.filter(now()).unwrap_err().to_string();
        assert!(
            bad(HistoryParams { from: Some("yesterday".into()), ..Default::default() })
                .contains("YYYY-MM-DD")
        );
        assert!(
            bad(HistoryParams { status: Some("stalled".into()), ..Default::default() }).contains("status=")
        );
        assert!(bad(HistoryParams { sort: Some("colour".into()), ..Default::default() }).contains("sort"));
        assert!(bad(HistoryParams { limit: Some("0".into()), ..Default::default() }).contains("1 to 1000"));
        assert!(bad(HistoryParams { dir: Some("up".into()), ..Default::default() }).contains("asc or desc"));
        assert!(
            bad(HistoryParams { fingerprint: Some("xyz".into()), ..Default::default() })
                .contains("16 hex digits")
        );
        let empty = HistoryParams {
            from: Some("2026-03-05".into()),
            to: Some("2026-03-01".into()),
            ..Default::default()
        };
        assert!(bad(empty).contains("empty"));
    }

    #[test]
    fn query_strings_keep_set_values_and_apply_changes() {
        let params = HistoryParams {
            category: Some("DAILY".into()),
            q: Some("a b&c".into()),
            cursor: Some("abc".into()),
            ..HistoryParams::default()
        };
        assert_eq!(
            params.query_with(&[("cursor", None), ("sort", Some("name"))]),
            "category=DAILY&q=a+b%26c&sort=name"
        );
    }

    #[test]
    fn a_script_scope_wins_over_a_category() {
        let params = TrendParams {
            script: Some("DAILY_01.R".into()),
            category: Some("DAILY".into()),
            ..Default::default()
        };
        let (scope, from, to) = params.scope(now()).unwrap();
        assert_eq!(scope, TrendScope::Script("DAILY_01.R".into()));
        assert_eq!((from, to), (now() - Duration::days(30), now()));
    }
}
