//! Run history: filters, six sort orders and keyset pagination.
//!
//! Every sort order is a key ending in `run_id` (unique), so the order is total
//! and a page continues strictly after the last row of the previous one:
//! `WHERE (key..., run_id) < ($k..., $id) ORDER BY key... DESC, run_id DESC`.
//! The end-time and error sorts have a key that may be NULL (a running run has
//! no end, a successful one no error): NULL keys come last in both directions
//! and are ordered among themselves by `run_id`, so a cursor is either "after
//! key k" (every NULL row is still ahead) or "among the NULLs, after this run
//! id". A page of such a sort is read as two index range scans, the keyed rows
//! then (if the page is not full) the NULL ones, each with its own index
//! (migration V7).
//! Rows inserted while a reader pages never cause duplicates or gaps among the
//! rows that existed when it started, and every order has an index (see
//! migrations V2 and V7), so a page is one index range scan however deep it is.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracker_core::{RunId, RunStatus};
use tracker_db::Value;

use crate::Monitor;
use crate::dialect::{contains_pattern, ilike};
use crate::error::{QueryError, Result, invalid};
use crate::fingerprint::is_fingerprint;
use crate::model::{Page, RunSummary};
use crate::rows::{SUMMARY_COLUMNS, summaries};

/// The error sort's key: the message's first characters, as indexed (migration
/// V7; a whole message, up to 16,000 characters, is too long for a Postgres
/// index entry). Messages alike that far are ordered by run id.
const ERROR_KEY: &str = "substr(error_message, 1, 200)";
const ERROR_KEY_CHARS: usize = 200;

/// How history is ordered. Ties are broken by run id, in the same direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistorySort {
    /// By start time (default: newest first).
    #[default]
    Started,
    /// By duration (default: longest first).
    Duration,
    /// By status name, then start time (default: ascending).
    Status,
    /// By script name, then start time (default: ascending).
    Name,
    /// By end time (default: newest first); runs without an end (running)
    /// come last, by run id.
    Ended,
    /// By error message (default: ascending); runs without an error come
    /// last, by run id.
    Error,
}

impl HistorySort {
    /// The name used in the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            HistorySort::Started => "started",
            HistorySort::Duration => "duration",
            HistorySort::Status => "status",
            HistorySort::Name => "name",
            HistorySort::Ended => "ended",
            HistorySort::Error => "error",
        }
    }

    /// Whether this order runs descending unless told otherwise.
    pub fn descending_by_default(self) -> bool {
        matches!(self, HistorySort::Started | HistorySort::Duration | HistorySort::Ended)
    }

    /// The column of a sort whose key may be NULL.
    fn nullable_key(self) -> Option<&'static str> {
        match self {
            HistorySort::Ended => Some("finished_at"),
            HistorySort::Error => Some(ERROR_KEY),
            _ => None,
        }
    }

    /// A value at or below every non-NULL key of a nullable sort.
    fn smallest_key(self) -> Value {
        match self {
            HistorySort::Ended => DateTime::<Utc>::from_timestamp(-62_135_596_800, 0)
                .expect("0001-01-01 is a valid time")
                .into(),
            _ => String::new().into(),
        }
    }

    fn key_columns(self) -> &'static [&'static str] {
        match self {
            HistorySort::Started => &["started_at", "run_id"],
            HistorySort::Duration => &["duration_ms", "run_id"],
            HistorySort::Status => &["status", "started_at", "run_id"],
            HistorySort::Name => &["script_name", "started_at", "run_id"],
            HistorySort::Ended => &["finished_at", "run_id"],
            HistorySort::Error => &[ERROR_KEY, "run_id"],
        }
    }
}

impl std::str::FromStr for HistorySort {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "started" | "start" | "time" => Ok(HistorySort::Started),
            "duration" => Ok(HistorySort::Duration),
            "status" => Ok(HistorySort::Status),
            "name" | "script" => Ok(HistorySort::Name),
            "ended" | "end" | "finished" => Ok(HistorySort::Ended),
            "error" => Ok(HistorySort::Error),
            other => Err(invalid(
                "sort",
                format!("{other:?}: use started, ended, duration, status, name or error"),
            )),
        }
    }
}

/// Which runs, in which order, how many per page. Every field is optional.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HistoryFilter {
    /// Runs started at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Runs started before this.
    pub to: Option<DateTime<Utc>>,
    /// Only this category (exact).
    pub category: Option<String>,
    /// Only these stored statuses (empty: all).
    pub statuses: Vec<RunStatus>,
    /// Only this script (exact file name).
    pub script: Option<String>,
    /// Text searched, case-insensitively and literally (`%` and `_` are not
    /// wildcards), in the latest message, error message and error class.
    pub search: Option<String>,
    /// Only this error class (exact).
    pub error_class: Option<String>,
    /// Only failed runs whose error has this fingerprint (16 hex digits, see
    /// [`crate::fingerprint`]). Fingerprints are not stored: they are computed
    /// over the failed runs that the other filters select, so narrow those
    /// (date range, script, `error_class`) when the store holds many failures.
    pub fingerprint: Option<String>,
    /// Order.
    pub sort: HistorySort,
    /// Direction; `None` takes the sort's default.
    pub descending: Option<bool>,
    /// Rows per page (1..=1000, default 50).
    pub limit: usize,
}

impl Default for HistoryFilter {
    fn default() -> Self {
        Self {
            from: None,
            to: None,
            category: None,
            statuses: Vec::new(),
            script: None,
            search: None,
            error_class: None,
            fingerprint: None,
            sort: HistorySort::Started,
            descending: None,
            limit: 50,
        }
    }
}

/// What a cursor holds: the order it belongs to and the last row's key.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Cursor {
    v: u8,
    sort: HistorySort,
    desc: bool,
    text: Option<String>,
    at: Option<DateTime<Utc>>,
    ms: Option<i64>,
    id: RunId,
}

impl Cursor {
    fn after(row: &RunSummary, sort: HistorySort, desc: bool) -> Self {
        let (text, at, ms) = match sort {
            HistorySort::Started => (None, Some(row.started_at), None),
            HistorySort::Duration => (None, None, row.duration_ms),
            HistorySort::Status => (Some(row.status.as_str().to_owned()), Some(row.started_at), None),
            HistorySort::Name => (Some(row.script_name.clone()), Some(row.started_at), None),
            HistorySort::Ended => (None, row.finished_at, None),
            HistorySort::Error => {
                (row.error_message.as_deref().map(|m| m.chars().take(ERROR_KEY_CHARS).collect()), None, None)
            }
        };
        Cursor { v: 1, sort, desc, text, at, ms, id: row.run_id }
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str, sort: HistorySort, desc: bool) -> Result<Self> {
        let bad = |reason: &str| QueryError::BadCursor { reason: reason.to_owned() };
        let bytes =
            URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad("not a cursor issued by pipetrack"))?;
        let cursor: Cursor =
            serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor issued by pipetrack"))?;
        if cursor.v != 1 {
            return Err(bad("issued by another version"));
        }
        if cursor.sort != sort || cursor.desc != desc {
            return Err(bad("issued for another sort order"));
        }
        let complete = match sort {
            HistorySort::Started => cursor.at.is_some(),
            HistorySort::Duration => cursor.ms.is_some(),
            HistorySort::Status | HistorySort::Name => cursor.text.is_some() && cursor.at.is_some(),
            // A missing key means the last row had none: the cursor is among the NULLs.
            HistorySort::Ended | HistorySort::Error => true,
        };
        if complete { Ok(cursor) } else { Err(bad("its key is incomplete")) }
    }

    fn values(&self) -> Vec<Value> {
        let id: Value = self.id.as_uuid().into();
        match self.sort {
            HistorySort::Started => vec![self.at.into(), id],
            HistorySort::Duration => vec![self.ms.into(), id],
            HistorySort::Status | HistorySort::Name => vec![self.text.clone().into(), self.at.into(), id],
            HistorySort::Ended if self.at.is_some() => vec![self.at.into(), id],
            HistorySort::Error if self.text.is_some() => vec![self.text.clone().into(), id],
            HistorySort::Ended | HistorySort::Error => vec![id],
        }
    }
}

/// Builds WHERE clauses and their parameters together, so placeholders always match.
#[derive(Clone)]
struct Conditions {
    clauses: Vec<String>,
    params: Vec<Value>,
}

impl Conditions {
    fn push(&mut self, clause: impl FnOnce(&dyn Fn(usize) -> String) -> String, values: Vec<Value>) {
        let base = self.params.len();
        let placeholder = |i: usize| format!("${}", base + i);
        self.clauses.push(clause(&placeholder));
        self.params.extend(values);
    }
}

/// Failed runs read per query while filtering by fingerprint (see
/// [`HistoryFilter::fingerprint`]).
const FINGERPRINT_SCAN_BATCH: usize = 1000;

impl Monitor {
    /// One page of run history. Pass `cursor` (from the previous page's
    /// `next_cursor`, with the same filter) for the next page.
    pub async fn history(&self, filter: &HistoryFilter, cursor: Option<&str>) -> Result<Page<RunSummary>> {
        if !(1..=1000).contains(&filter.limit) {
            return Err(invalid("limit", format!("{} is out of range: use 1 to 1000", filter.limit)));
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Err(invalid("date range", format!("from ({from}) must be before to ({to})")));
        }
        if let Some(fingerprint) = &filter.fingerprint
            && !is_fingerprint(fingerprint)
        {
            return Err(invalid("fingerprint", format!("{fingerprint:?} is not 16 lower-case hex digits")));
        }
        let desc = filter.descending.unwrap_or_else(|| filter.sort.descending_by_default());
        let cursor = cursor.map(|text| Cursor::decode(text, filter.sort, desc)).transpose()?;
        let key = format!(
            "{}|{}",
            serde_json::to_string(filter).unwrap_or_default(),
            cursor.as_ref().map(Cursor::encode).unwrap_or_default()
        );
        self.cached("history", &key, async {
            let mut items = match &filter.fingerprint {
                None => self.history_rows(filter, cursor.as_ref(), desc, filter.limit + 1).await?,
                Some(fingerprint) => self.history_of_fingerprint(filter, fingerprint, cursor, desc).await?,
            };
            let more = items.len() > filter.limit;
            items.truncate(filter.limit);
            let next_cursor = if more {
                items.last().map(|last| Cursor::after(last, filter.sort, desc).encode())
            } else {
                None
            };
            self.refine(&mut items).await?;
            Ok(Page { items, next_cursor })
        })
        .await
    }

    /// Up to `limit + 1` failed runs with this fingerprint, continuing after
    /// `cursor`. The fingerprint is computed in Rust (it is not stored), so this
    /// reads the failed runs that the SQL filters select, in the page's order,
    /// [`FINGERPRINT_SCAN_BATCH`] at a time, until a page and one more row match
    /// or the candidates run out. A page continues after its last matching row,
    /// so pages have neither duplicates nor gaps; the cost of a page is bounded
    /// by the number of failed runs the other filters (date range, script,
    /// error class, text) leave between its first and last matching run.
    async fn history_of_fingerprint(
        &self,
        filter: &HistoryFilter,
        fingerprint: &str,
        mut cursor: Option<Cursor>,
        desc: bool,
    ) -> Result<Vec<RunSummary>> {
        if !filter.statuses.is_empty() && !filter.statuses.contains(&RunStatus::Failed) {
            return Ok(Vec::new());
        }
        let failed = HistoryFilter { statuses: vec![RunStatus::Failed], ..filter.clone() };
        let mut matched = Vec::new();
        loop {
            let batch = self.history_rows(&failed, cursor.as_ref(), desc, FINGERPRINT_SCAN_BATCH).await?;
            let exhausted = batch.len() < FINGERPRINT_SCAN_BATCH;
            cursor = batch.last().map(|last| Cursor::after(last, filter.sort, desc));
            for row in batch {
                if row.error_fingerprint.as_deref() == Some(fingerprint) {
                    matched.push(row);
                    if matched.len() > filter.limit {
                        return Ok(matched);
                    }
                }
            }
            if exhausted {
                return Ok(matched);
            }
        }
    }

    /// Up to `limit` runs of the filter (ignoring its fingerprint) after `cursor`.
    async fn history_rows(
        &self,
        filter: &HistoryFilter,
        cursor: Option<&Cursor>,
        desc: bool,
        limit: usize,
    ) -> Result<Vec<RunSummary>> {
        let mut conditions = Conditions { clauses: Vec::new(), params: Vec::new() };
        if let Some(from) = filter.from {
            conditions.push(|p| format!("started_at >= {}", p(1)), vec![from.into()]);
        }
        if let Some(to) = filter.to {
            conditions.push(|p| format!("started_at < {}", p(1)), vec![to.into()]);
        }
        if let Some(category) = &filter.category {
            conditions.push(|p| format!("category = {}", p(1)), vec![category.clone().into()]);
        }
        if let Some(script) = &filter.script {
            conditions.push(|p| format!("script_name = {}", p(1)), vec![script.clone().into()]);
        }
        if let Some(class) = &filter.error_class {
            conditions.push(|p| format!("error_class = {}", p(1)), vec![class.clone().into()]);
        }
        if !filter.statuses.is_empty() {
            let values: Vec<Value> = filter.statuses.iter().map(|s| s.as_str().into()).collect();
            let n = values.len();
            conditions
                .push(|p| format!("status IN ({})", (1..=n).map(p).collect::<Vec<_>>().join(", ")), values);
        }
        if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let op = ilike(self.store.backend());
            conditions.push(
                |p| {
                    format!(
                        "(message {op} {0} ESCAPE '\\' OR error_message {op} {0} ESCAPE '\\' \
                         OR error_class {op} {0} ESCAPE '\\')",
                        p(1)
                    )
                },
                vec![contains_pattern(search).into()],
            );
        }
        let columns = filter.sort.key_columns();
        let op = if desc { "<" } else { ">" };
        let direction = if desc { "DESC" } else { "ASC" };
        if let Some(key) = filter.sort.nullable_key() {
            // Two index range scans rather than one sort of every row: the rows
            // with a key (from the cursor on), then, if the page is not full,
            // the rows without one, by run id.
            let mut rows = Vec::new();
            let among_nulls = cursor.is_some_and(|c| c.values().len() == 1);
            if !among_nulls {
                let mut keyed = conditions.clone();
                // "At or above the smallest key" rather than IS NOT NULL: a range
                // the index scan starts from, where IS NOT NULL would make SQLite
                // step over every NULL entry first.
                keyed.push(|p| format!("{key} >= {}", p(1)), vec![filter.sort.smallest_key()]);
                if let Some(cursor) = cursor {
                    keyed.push(|p| format!("({key}, run_id) {op} ({}, {})", p(1), p(2)), cursor.values());
                }
                rows =
                    self.select_runs(keyed, &format!("{key} {direction}, run_id {direction}"), limit).await?;
            }
            if rows.len() < limit {
                let mut nulls = conditions;
                nulls.push(|_| format!("{key} IS NULL"), Vec::new());
                if let Some(cursor) = cursor.filter(|_| among_nulls) {
                    nulls.push(|p| format!("run_id {op} {}", p(1)), cursor.values());
                }
                rows.extend(
                    self.select_runs(nulls, &format!("run_id {direction}"), limit - rows.len()).await?,
                );
            }
            return Ok(rows);
        }
        if filter.sort == HistorySort::Duration {
            conditions.push(|_| "duration_ms IS NOT NULL".to_owned(), Vec::new());
        }
        if let Some(cursor) = cursor {
            let values = cursor.values();
            let n = values.len();
            conditions.push(
                |p| {
                    format!(
                        "({}) {op} ({})",
                        columns.join(", "),
                        (1..=n).map(p).collect::<Vec<_>>().join(", ")
                    )
                },
                values,
            );
        }
        let order = columns.iter().map(|c| format!("{c} {direction}")).collect::<Vec<_>>().join(", ");
        self.select_runs(conditions, &order, limit).await
    }

    /// Up to `limit` runs meeting every condition, in `order`.
    async fn select_runs(
        &self,
        conditions: Conditions,
        order: &str,
        limit: usize,
    ) -> Result<Vec<RunSummary>> {
        let where_clause = if conditions.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.clauses.join(" AND "))
        };
        let limit_placeholder = conditions.params.len() + 1;
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM runs {where_clause} ORDER BY {order} LIMIT ${limit_placeholder}"
        );
        let mut params = conditions.params;
        params.push((limit as i64).into());
        summaries(&self.store.query(&sql, params).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_orders_and_garbage() {
        let cursor = Cursor {
            v: 1,
            sort: HistorySort::Name,
            desc: false,
            text: Some("DAILY_01.R".into()),
            at: Some(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
            ms: None,
            id: RunId::from_parts(1, [2; 10]),
        };
        let text = cursor.encode();
        assert_eq!(Cursor::decode(&text, HistorySort::Name, false).unwrap(), cursor);
        let err = Cursor::decode(&text, HistorySort::Started, false).unwrap_err();
        assert!(err.to_string().contains("another sort order"), "{err}");
        assert!(Cursor::decode(&text, HistorySort::Name, true).is_err());
        for garbage in ["", "%%%", "eyJ2IjoxfQ", "' OR 1=1 --"] {
            let err = Cursor::decode(garbage, HistorySort::Name, false).unwrap_err();
            assert!(matches!(err, QueryError::BadCursor { .. }), "{garbage}: {err}");
        }
    }

    #[test]
    fn sort_names_parse() {
        assert_eq!("Duration".parse::<HistorySort>().unwrap(), HistorySort::Duration);
        assert_eq!("end".parse::<HistorySort>().unwrap(), HistorySort::Ended);
        assert_eq!("Error".parse::<HistorySort>().unwrap(), HistorySort::Error);
        assert!("size".parse::<HistorySort>().unwrap_err().to_string().contains("use started"));
    }
}
