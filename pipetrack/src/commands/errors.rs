//! `pipetrack errors`: failures grouped by fingerprint; `pipetrack errors
//! resolve <fingerprint> --note ...` marks a group resolved.

use std::process::ExitCode;

use comfy_table::Cell;
use monitor_queries::{ErrorGroup, ErrorGroupFilter};
use tracker_db::StoreConfig;

use crate::cli::{ErrorsArgs, ErrorsCommand};
use crate::commands::history::{one_line, parse_time};
use crate::commands::status::monitor;
use crate::output::{print, print_json, table, timestamp};

pub(crate) async fn run(config: &StoreConfig, args: &ErrorsArgs, color: bool) -> anyhow::Result<ExitCode> {
    let monitor = monitor(config).await?;
    if let Some(ErrorsCommand::Resolve { fingerprint, note, by, json }) = &args.command {
        let by = by.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".to_owned());
        let resolution = monitor.resolve_error_group(fingerprint, &by, note.as_deref().unwrap_or("")).await?;
        if *json {
            print_json(&resolution)?;
        } else {
            print(&format!(
                "resolved {} by {} at {}; it reopens if it fails again",
                resolution.fingerprint,
                resolution.resolved_by,
                timestamp(Some(resolution.resolved_at))
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let now = monitor.now();
    let from = match &args.from {
        Some(text) => parse_time(text)?,
        None => now - chrono::Duration::days(i64::from(args.days)),
    };
    let filter = ErrorGroupFilter {
        from,
        to: None,
        script: args.script.clone(),
        search: args.search.clone(),
        include_resolved: args.all,
    };
    let groups = monitor.error_groups(&filter).await?;
    if args.json {
        print_json(&groups)?;
    } else {
        print(&render(&groups, color));
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per group, latest first.
pub(crate) fn render(groups: &[ErrorGroup], color: bool) -> String {
    if groups.is_empty() {
        return "No open error groups in this window (use --days N, or --all to include resolved ones)."
            .to_owned();
    }
    let mut t = table(&["FINGERPRINT", "COUNT", "LAST SEEN", "STATE", "SCRIPTS", "ERROR"], color);
    for group in groups {
        let state = match (&group.resolution, group.open) {
            (None, _) => "open",
            (Some(_), true) => "reopened",
            (Some(_), false) => "resolved",
        };
        let scripts = match group.scripts.as_slice() {
            [one] => one.clone(),
            many => format!("{} scripts", many.len()),
        };
        let class = group.error_class.as_deref().map(|c| format!("{c}: ")).unwrap_or_default();
        t.add_row(vec![
            Cell::new(&group.fingerprint),
            Cell::new(group.count),
            Cell::new(timestamp(Some(group.last_seen))),
            Cell::new(state),
            Cell::new(scripts),
            Cell::new(one_line(&format!("{class}{}", group.latest_message), 70)),
        ]);
    }
    t.to_string()
}
