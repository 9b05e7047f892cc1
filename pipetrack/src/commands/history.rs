//! `pipetrack history`: past runs with filters, sort orders and pages.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use comfy_table::{Cell, ContentArrangement};
use monitor_queries::{HistoryFilter, HistorySort, Page, RunSummary};
use tracker_core::RunStatus;
use tracker_db::StoreConfig;

use crate::cli::HistoryArgs;
use crate::commands::status::{monitor, state_cell};
use crate::output::{Cut, duration, fit, print, print_json, screen_width, table, timestamp};

/// A date (`2026-03-01`, midnight UTC) or an RFC 3339 time.
pub(crate) fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc)).with_context(|| {
        format!("{text:?} is not a date: use YYYY-MM-DD or an RFC 3339 time like 2026-03-01T06:00:00Z")
    })
}

/// The history filter the arguments describe.
pub(crate) fn filter(args: &HistoryArgs, now: DateTime<Utc>) -> anyhow::Result<HistoryFilter> {
    let mut from = args.from.as_deref().map(parse_time).transpose()?;
    if let Some(days) = args.days {
        from = Some(now - chrono::Duration::days(i64::from(days)));
    }
    let statuses = args
        .status
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(str::parse::<RunStatus>)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HistoryFilter {
        from,
        to: args.to.as_deref().map(parse_time).transpose()?,
        category: args.category.clone(),
        statuses,
        script: args.script.clone(),
        search: args.search.clone(),
        error_class: args.error_class.clone(),
        fingerprint: args.fingerprint.clone(),
        sort: args.sort.parse::<HistorySort>()?,
        descending: if args.asc {
            Some(false)
        } else if args.desc {
            Some(true)
        } else {
            None
        },
        limit: args.limit,
    })
}

pub(crate) async fn run(
    config: &StoreConfig,
    args: &HistoryArgs,
    json: bool,
    color: bool,
) -> anyhow::Result<ExitCode> {
    let monitor = monitor(config).await?;
    let filter = filter(args, monitor.now())?;
    let page = monitor.history(&filter, args.cursor.as_deref()).await?;
    if json {
        print_json(&page)?;
    } else {
        print(&render(&page, color));
    }
    Ok(ExitCode::SUCCESS)
}

/// First line of a text, cut to `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max.saturating_sub(1)).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// The history table and, when there is more, how to get the next page.
pub(crate) fn render(page: &Page<RunSummary>, color: bool) -> String {
    if page.items.is_empty() {
        return "No runs match.".to_owned();
    }
    let headers = ["RUN", "SCRIPT", "STATE", "STARTED", "TIME", "ERROR / MESSAGE"];
    let mut rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|run| {
            let note = run.error_message.as_deref().or(run.message.as_deref()).unwrap_or("");
            vec![
                run.run_id.to_string()[..8].to_owned(),
                run.script_name.clone(),
                run.state.as_str().to_owned(),
                timestamp(Some(run.started_at)),
                duration(run.elapsed_ms),
                one_line(note, 60),
            ]
        })
        .collect();
    let cuts = [Cut::Keep, Cut::Middle, Cut::Keep, Cut::Keep, Cut::Keep, Cut::End];
    fit(&headers, &mut rows, &cuts, screen_width());
    let mut t = table(&headers, color);
    t.set_content_arrangement(ContentArrangement::Disabled);
    for (row, run) in rows.into_iter().zip(&page.items) {
        let mut cells: Vec<Cell> = row.into_iter().map(Cell::new).collect();
        cells[2] = state_cell(run.state, color);
        t.add_row(cells);
    }
    let mut out = t.to_string();
    if let Some(cursor) = &page.next_cursor {
        out.push_str("\nmore: add --cursor ");
        out.push_str(cursor);
    }
    out
}
