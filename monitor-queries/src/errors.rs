//! Error groups: failed runs grouped by fingerprint, and their resolution.
//!
//! A group is *open* when it was never resolved, or when a failure of the group
//! ended after its latest resolution (it reopens by itself, nothing is written).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracker_core::RunId;
use tracker_core::validate::{self, TextKind};
use tracker_db::Row;

use crate::Monitor;
use crate::dialect::{contains_pattern, ilike};
use crate::error::{QueryError, Result, invalid};
use crate::fingerprint::{is_fingerprint, normalize_message};
use crate::model::{ErrorGroup, Resolution};
use crate::rows::{failure_fingerprint, failure_message};

/// Which error groups to list.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErrorGroupFilter {
    /// Failures of runs started at or after this.
    pub from: DateTime<Utc>,
    /// Failures of runs started before this (`None`: up to now).
    pub to: Option<DateTime<Utc>>,
    /// Only failures of this script.
    pub script: Option<String>,
    /// Text searched literally and case-insensitively in error messages and classes.
    pub search: Option<String>,
    /// Also list resolved groups that did not happen again.
    pub include_resolved: bool,
}

struct Group {
    group: ErrorGroup,
    scripts: BTreeSet<String>,
}

impl Monitor {
    /// Error groups of the failures in the filter's window, most recent first.
    pub async fn error_groups(&self, filter: &ErrorGroupFilter) -> Result<Vec<ErrorGroup>> {
        if let Some(to) = filter.to
            && filter.from >= to
        {
            return Err(invalid("date range", format!("from ({}) must be before to ({to})", filter.from)));
        }
        let key = serde_json::to_string(filter).unwrap_or_default();
        self.cached("error_groups", &key, async {
            let mut params: Vec<tracker_db::Value> = vec![filter.from.into()];
            let mut sql =
                "SELECT run_id, script_name, started_at, finished_at, exit_code, error_class, error_message \
                           FROM runs WHERE status = 'failed' AND started_at >= $1"
                    .to_owned();
            if let Some(to) = filter.to {
                params.push(to.into());
                let _ = write!(sql, " AND started_at < ${}", params.len());
            }
            if let Some(script) = &filter.script {
                params.push(script.clone().into());
                let _ = write!(sql, " AND script_name = ${}", params.len());
            }
            if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                params.push(contains_pattern(search).into());
                let (op, n) = (ilike(self.store.backend()), params.len());
                let _ = write!(
                    sql,
                    " AND (error_message {op} ${n} ESCAPE '\\' OR error_class {op} ${n} ESCAPE '\\')"
                );
            }
            params.push((self.config.error_sample_limit.max(1) as i64).into());
            let _ = write!(sql, " ORDER BY started_at DESC, run_id DESC LIMIT ${}", params.len());
            let rows = self.store.query(&sql, params).await?;
            let resolutions = self.resolutions().await?;
            let mut groups: HashMap<String, Group> = HashMap::new();
            for row in &rows {
                let class = row.text("error_class")?;
                let message = failure_message(row.text("error_message")?.as_deref(), row.int("exit_code")?);
                let fingerprint = failure_fingerprint(class.as_deref(), Some(&message), None);
                let started_at = Row::required("started_at", row.time("started_at")?)?;
                let seen = row.time("finished_at")?.unwrap_or(started_at);
                let run_id = RunId(Row::required("run_id", row.uuid("run_id")?)?);
                let script = Row::required("script_name", row.text("script_name")?)?;
                let entry = groups.entry(fingerprint.clone()).or_insert_with(|| Group {
                    group: ErrorGroup {
                        fingerprint: fingerprint.clone(),
                        error_class: class.clone(),
                        normalized_message: normalize_message(&message),
                        count: 0,
                        first_seen: seen,
                        last_seen: seen,
                        scripts: Vec::new(),
                        latest_run_id: run_id,
                        latest_message: message.clone(),
                        resolution: resolutions.get(&fingerprint).cloned(),
                        open: true,
                    },
                    scripts: BTreeSet::new(),
                });
                let group = &mut entry.group;
                group.count += 1;
                group.first_seen = group.first_seen.min(seen);
                if seen > group.last_seen {
                    group.last_seen = seen;
                    group.latest_run_id = run_id;
                    group.latest_message = message;
                    group.error_class = class;
                }
                entry.scripts.insert(script);
            }
            let mut out: Vec<ErrorGroup> = groups
                .into_values()
                .map(|Group { mut group, scripts }| {
                    group.scripts = scripts.into_iter().collect();
                    group.open = group.resolution.as_ref().is_none_or(|r| group.last_seen > r.resolved_at);
                    group
                })
                .filter(|group| filter.include_resolved || group.open)
                .collect();
            out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.fingerprint.cmp(&b.fingerprint)));
            Ok(out)
        })
        .await
    }

    /// Whether any failed run has `fingerprint`: failures newest first, a few
    /// thousand at a time, stopping at the first match (recent groups are found
    /// at once; an unknown fingerprint reads every failure once).
    async fn fingerprint_seen(&self, fingerprint: &str) -> Result<bool> {
        let mut after: Option<(chrono::DateTime<Utc>, uuid::Uuid)> = None;
        loop {
            let (sql, params) = match after {
                None => (
                    "SELECT run_id, started_at, exit_code, error_class, error_message FROM runs \
                     WHERE status = 'failed' ORDER BY started_at DESC, run_id DESC LIMIT 5000",
                    Vec::new(),
                ),
                Some((at, id)) => (
                    "SELECT run_id, started_at, exit_code, error_class, error_message FROM runs \
                     WHERE status = 'failed' AND (started_at, run_id) < ($1, $2) \
                     ORDER BY started_at DESC, run_id DESC LIMIT 5000",
                    vec![at.into(), id.into()],
                ),
            };
            let rows = self.store.query(sql, params).await?;
            for row in &rows {
                let found = failure_fingerprint(
                    row.text("error_class")?.as_deref(),
                    row.text("error_message")?.as_deref(),
                    row.int("exit_code")?,
                );
                if found == fingerprint {
                    return Ok(true);
                }
            }
            let Some(last) = rows.last() else { return Ok(false) };
            after = Some((
                Row::required("started_at", last.time("started_at")?)?,
                Row::required("run_id", last.uuid("run_id")?)?,
            ));
            if rows.len() < 5000 {
                return Ok(false);
            }
        }
    }

    async fn resolutions(&self) -> Result<HashMap<String, Resolution>> {
        let rows = self
            .store
            .query("SELECT fingerprint, resolved_at, resolved_by, note FROM error_resolutions", Vec::new())
            .await?;
        rows.iter()
            .map(|row| {
                let resolution = Resolution {
                    fingerprint: Row::required("fingerprint", row.text("fingerprint")?)?,
                    resolved_at: Row::required("resolved_at", row.time("resolved_at")?)?,
                    resolved_by: row.text("resolved_by")?.unwrap_or_default(),
                    note: row.text("note")?.unwrap_or_default(),
                };
                Ok((resolution.fingerprint.clone(), resolution))
            })
            .collect()
    }

    /// Marks an error group resolved now, by `by`, with `note`. Some failed run
    /// must have this fingerprint. Resolving again replaces the resolution.
    /// Empties the cache.
    pub async fn resolve_error_group(&self, fingerprint: &str, by: &str, note: &str) -> Result<Resolution> {
        let fingerprint = fingerprint.trim().to_ascii_lowercase();
        if !is_fingerprint(&fingerprint) {
            return Err(invalid(
                "fingerprint",
                format!(
                    "{fingerprint:?} is not a fingerprint (16 hex digits, as listed by `pipetrack errors`)"
                ),
            ));
        }
        let by = validate::required_text("resolved by", by, validate::MAX_SCRIPT_NAME, TextKind::Line)
            .map_err(|err| invalid("resolved by", err.to_string()))?;
        let note = validate::optional_text("note", note, validate::MAX_MESSAGE, TextKind::Multiline)
            .map_err(|err| invalid("note", err.to_string()))?;
        let now = self.now();
        if !self.fingerprint_seen(&fingerprint).await? {
            return Err(QueryError::UnknownFingerprint { fingerprint });
        }
        self.store
            .execute(
                "INSERT INTO error_resolutions (fingerprint, resolved_at, resolved_by, note) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (fingerprint) DO UPDATE SET resolved_at = excluded.resolved_at, \
                 resolved_by = excluded.resolved_by, note = excluded.note",
                vec![fingerprint.clone().into(), now.into(), by.into(), note.into()],
            )
            .await?;
        self.invalidate();
        Ok(Resolution { fingerprint, resolved_at: now, resolved_by: by.to_owned(), note: note.to_owned() })
    }
}
