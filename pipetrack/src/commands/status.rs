//! `pipetrack status`: the latest run of every script, from monitor-queries,
//! with its state (stalled and lost included), progress, current task, elapsed
//! and typical time, and ETA.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use comfy_table::{Cell, Color, ContentArrangement};
use monitor_queries::{Monitor, MonitorConfig, RunState, ScriptStatus};
use tracker_db::StoreConfig;

use crate::commands::open_for_reading;
use crate::output::{Cut, duration, fit, print, print_json, screen_width, table};

/// The read model for a one-shot command: no cache (nothing would reuse it).
pub(crate) async fn monitor(config: &StoreConfig) -> anyhow::Result<Monitor> {
    let store = open_for_reading(config).await?;
    let settings = MonitorConfig { cache_ttl: chrono::Duration::zero(), ..MonitorConfig::from_env()? };
    Ok(Monitor::new(store, settings))
}

pub(crate) async fn run(config: &StoreConfig, json: bool, color: bool) -> anyhow::Result<ExitCode> {
    let monitor = monitor(config).await?;
    let scripts = monitor.current_status().await?;
    if json {
        print_json(&scripts)?;
    } else {
        print(&render(&scripts, monitor.now(), color));
    }
    Ok(ExitCode::SUCCESS)
}

/// A state cell, coloured by state.
pub(crate) fn state_cell(state: RunState, color: bool) -> Cell {
    let cell = Cell::new(state.as_str());
    if !color {
        return cell;
    }
    cell.fg(match state {
        RunState::Running => Color::Cyan,
        RunState::Completed => Color::Green,
        RunState::Failed => Color::Red,
        RunState::Stalled | RunState::Cancelled => Color::Yellow,
        RunState::Lost => Color::Magenta,
        RunState::NeverRun => Color::Reset,
    })
}

/// `3/10 45%`, `3 done` without a declared total, `-` before any task.
pub(crate) fn progress(tasks_done: u32, total: Option<u32>, percent: Option<f64>) -> String {
    match (total, percent) {
        (Some(total), Some(percent)) => format!("{tasks_done}/{total} {percent:.0}%"),
        _ if tasks_done > 0 => format!("{tasks_done} done"),
        _ => "-".to_owned(),
    }
}

/// `in 4m05s` for a future time, `-` otherwise.
fn eta(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match at {
        Some(at) if at > now => format!("in {}", duration(Some((at - now).num_milliseconds()))),
        _ => "-".to_owned(),
    }
}

/// The status table, one row per script, by category then name.
pub(crate) fn render(scripts: &[ScriptStatus], now: DateTime<Utc>, color: bool) -> String {
    if scripts.is_empty() {
        return "No runs recorded yet. Track a script with `pipetrack run -- Rscript DAILY_01.R`,\n\
                or call track_init()/genter() from R or Python (see README.md)."
            .to_owned();
    }
    let headers = ["SCRIPT", "STATE", "PROGRESS", "CURRENT TASK", "TIME", "USUAL", "ETA"];
    let mut rows: Vec<Vec<String>> = scripts
        .iter()
        .map(|script| {
            let Some(run) = &script.latest else {
                let never = ["never run", "-", "-", "-", "-", "-"].map(str::to_owned);
                return std::iter::once(script.script_name.clone()).chain(never).collect();
            };
            let task = if matches!(run.state, RunState::Running | RunState::Stalled | RunState::Lost) {
                run.current_task.as_deref().unwrap_or("-")
            } else {
                "-"
            };
            vec![
                script.script_name.clone(),
                run.state.as_str().to_owned(),
                progress(run.tasks_done, run.total_tasks, run.progress_percent),
                task.to_owned(),
                duration(run.elapsed_ms),
                duration(script.typical_duration_ms.map(|ms| ms.round() as i64)),
                eta(script.eta, now),
            ]
        })
        .collect();
    let cuts = [Cut::Middle, Cut::Keep, Cut::Keep, Cut::End, Cut::Keep, Cut::Keep, Cut::Keep];
    fit(&headers, &mut rows, &cuts, screen_width());
    let mut t = table(&headers, color);
    t.set_content_arrangement(ContentArrangement::Disabled);
    for (row, script) in rows.into_iter().zip(scripts) {
        let mut cells: Vec<Cell> = row.into_iter().map(Cell::new).collect();
        if script.latest.is_some() {
            cells[1] = state_cell(script.state, color);
        }
        t.add_row(cells);
    }
    t.to_string()
}
