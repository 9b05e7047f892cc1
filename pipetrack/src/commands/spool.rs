//! `pipetrack spool status` and `pipetrack spool replay`: the operator's view
//! of events waiting on disk for the store (see docs/tracking.md).

use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::Cell;
use serde::Serialize;
use tracker_client::ClientConfig;
use tracker_client::spool::{self, SegmentInfo, SegmentState};
use tracker_db::StoreConfig;

use crate::commands::open_for_reading;
use crate::output::{print, print_json, table};

fn spool_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| ClientConfig::from_env().spool_dir)
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} B"),
    }
}

fn state(segment: &SegmentInfo) -> &'static str {
    match segment.state {
        SegmentState::InUse => "in use",
        SegmentState::Ready => "ready",
        SegmentState::Corrupt => "corrupt",
    }
}

#[derive(Serialize)]
struct StatusReport<'a> {
    dir: &'a std::path::Path,
    segments: &'a [SegmentInfo],
}

/// `pipetrack spool status`.
pub(crate) fn status(dir: Option<PathBuf>, json: bool, color: bool) -> anyhow::Result<ExitCode> {
    let dir = spool_dir(dir);
    let segments = spool::list(&dir).map_err(|err| {
        anyhow::anyhow!(
            "cannot read the spool directory {} ({err}); check PIPETRACK_SPOOL_DIR",
            dir.display()
        )
    })?;
    if json {
        print_json(&StatusReport { dir: &dir, segments: &segments })?;
        return Ok(ExitCode::SUCCESS);
    }
    if segments.is_empty() {
        print(&format!("spool {}: empty, nothing waits for the store", dir.display()));
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table(&["SEGMENT", "PID", "STATE", "EVENTS", "RUNS", "SIZE", "WRITTEN"], color);
    for segment in &segments {
        let name = segment.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut state = state(segment).to_owned();
        if let Some(damage) = segment.damage.as_ref().filter(|d| d.is_corruption()) {
            state = format!("{state}: {damage}");
        }
        t.add_row(vec![
            Cell::new(name),
            Cell::new(segment.pid.map_or_else(|| "-".to_owned(), |p| p.to_string())),
            Cell::new(state),
            Cell::new(segment.records),
            Cell::new(segment.runs.len()),
            Cell::new(size(segment.bytes)),
            Cell::new(crate::output::timestamp(segment.modified)),
        ]);
    }
    let count = |s: SegmentState| segments.iter().filter(|seg| seg.state == s).count();
    let events: usize = segments.iter().filter(|s| s.state != SegmentState::Corrupt).map(|s| s.records).sum();
    print(&format!(
        "spool {}: {} segments, {events} events waiting ({} ready to replay, {} in use by running processes, {} corrupt)\n{t}",
        dir.display(),
        segments.len(),
        count(SegmentState::Ready),
        count(SegmentState::InUse),
        count(SegmentState::Corrupt),
    ));
    Ok(ExitCode::SUCCESS)
}

/// `pipetrack spool replay`.
pub(crate) async fn replay(
    config: &StoreConfig,
    dir: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let dir = spool_dir(dir);
    let store = open_for_reading(config).await?;
    let report = spool::replay_dir(&store, &dir, 1_000, &[]).await;
    if json {
        print_json(&report)?;
    } else {
        let mut lines = vec![format!(
            "spool {}: replayed {} segments into {}: {} events ({} new, {} already stored)",
            dir.display(),
            report.segments,
            store.location(),
            report.events,
            report.inserted,
            report.duplicates
        )];
        if report.in_use > 0 {
            lines.push(format!(
                "{} segments belong to running processes; they replay them themselves",
                report.in_use
            ));
        }
        for path in &report.corrupt {
            lines.push(format!(
                "damaged segment kept as {} (its readable events were replayed)",
                path.display()
            ));
        }
        if report.rejected > 0 {
            lines.push(format!(
                "{} events were refused by the store and kept in rejected-*.jsonl",
                report.rejected
            ));
        }
        print(&lines.join("\n"));
    }
    match report.stopped {
        None => Ok(ExitCode::SUCCESS),
        Some(reason) => {
            anyhow::bail!(
                "replay stopped: {reason}; what was not replayed stays in the spool, run this again later"
            )
        }
    }
}
