//! `pipetrack status`: the latest run of every script as a table.

use std::process::ExitCode;

use comfy_table::Cell;
use tracker_db::{ScriptLatest, StoreConfig};

use crate::commands::open_for_reading;
use crate::output::{duration, print, print_json, status_cell, table, timestamp};

pub(crate) async fn run(config: &StoreConfig, json: bool, color: bool) -> anyhow::Result<ExitCode> {
    let store = open_for_reading(config).await?;
    let scripts = store.latest_runs().await?;
    if json {
        print_json(&scripts)?;
    } else {
        print(&render(&scripts, color));
    }
    Ok(ExitCode::SUCCESS)
}

/// The status table, one row per script.
pub(crate) fn render(scripts: &[ScriptLatest], color: bool) -> String {
    if scripts.is_empty() {
        return "No runs recorded yet. Track a script with `pipetrack run -- Rscript DAILY_01.R`,\n\
                or call track_init()/genter() from R or Python (see README.md)."
            .to_owned();
    }
    let mut t =
        table(&["SCRIPT", "CATEGORY", "STATUS", "PROGRESS", "CURRENT TASK", "STARTED", "TIME"], color);
    for script in scripts {
        let run = &script.run;
        let progress = match (run.total_tasks, run.progress_percent()) {
            (Some(total), Some(pct)) => format!("{}/{} {pct:.0}%", run.tasks_done, total),
            _ if run.current_task_number > 0 => format!("{} done", run.tasks_done),
            _ => "-".to_owned(),
        };
        t.add_row(vec![
            Cell::new(&run.script_name),
            Cell::new(&run.category),
            status_cell(run.status, color),
            Cell::new(progress),
            Cell::new(run.current_task.as_deref().unwrap_or("-")),
            Cell::new(timestamp(run.started_at)),
            Cell::new(duration(run.duration_ms())),
        ]);
    }
    t.to_string()
}
