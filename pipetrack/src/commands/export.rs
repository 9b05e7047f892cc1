//! `pipetrack export --csv | --json`: every run the history filters select, all
//! pages, as RFC 4180 CSV (header, CRLF, quoted when needed) or JSON Lines.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use monitor_queries::{Monitor, RunSummary};
use tracker_db::StoreConfig;

use crate::cli::ExportArgs;
use crate::commands::history::filter;
use crate::commands::status::monitor;

/// Columns of the CSV export, in order.
pub(crate) const CSV_HEADER: &[&str] = &[
    "run_id",
    "script_name",
    "category",
    "status",
    "state",
    "started_at",
    "finished_at",
    "duration_ms",
    "tasks_done",
    "total_tasks",
    "progress_percent",
    "current_task",
    "message",
    "error_class",
    "error_message",
    "error_fingerprint",
    "exit_code",
    "host",
];

fn opt<T: ToString>(value: Option<&T>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

/// One CSV record of a run.
pub(crate) fn csv_record(run: &RunSummary) -> Vec<String> {
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    vec![
        run.run_id.to_string(),
        run.script_name.clone(),
        run.category.clone(),
        run.status.as_str().to_owned(),
        run.state.as_str().to_owned(),
        time(run.started_at),
        run.finished_at.map(time).unwrap_or_default(),
        opt(run.duration_ms.as_ref()),
        run.tasks_done.to_string(),
        opt(run.total_tasks.as_ref()),
        run.progress_percent.map(|p| format!("{p:.1}")).unwrap_or_default(),
        opt(run.current_task.as_ref()),
        opt(run.message.as_ref()),
        opt(run.error_class.as_ref()),
        opt(run.error_message.as_ref()),
        opt(run.error_fingerprint.as_ref()),
        opt(run.exit_code.as_ref()),
        opt(run.host.as_ref()),
    ]
}

/// A CSV writer that follows RFC 4180: CRLF line ends, quotes only where needed.
pub(crate) fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out)
}

pub(crate) async fn run(config: &StoreConfig, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let monitor = monitor(config).await?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    export(&monitor, args, out).await?;
    Ok(ExitCode::SUCCESS)
}

/// Where rows go: CSV records or JSON Lines.
enum Sink {
    Csv(Box<csv::Writer<Box<dyn Write>>>),
    JsonLines(Box<dyn Write>),
}

async fn export(monitor: &Monitor, args: &ExportArgs, out: Box<dyn Write>) -> anyhow::Result<()> {
    let mut filter = filter(&args.history, monitor.now())?;
    filter.limit = 1000;
    let mut sink = if args.csv {
        let mut writer = csv_writer(out);
        writer.write_record(CSV_HEADER)?;
        Sink::Csv(Box::new(writer))
    } else {
        Sink::JsonLines(out)
    };
    // Page by page: memory stays flat whatever the export's size.
    let mut cursor: Option<String> = None;
    loop {
        let page = monitor.history(&filter, cursor.as_deref()).await?;
        for run in &page.items {
            match &mut sink {
                Sink::Csv(writer) => writer.write_record(csv_record(run))?,
                Sink::JsonLines(writer) => {
                    serde_json::to_writer(&mut *writer, run)?;
                    writer.write_all(b"\n")?;
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    match sink {
        Sink::Csv(mut writer) => writer.flush()?,
        Sink::JsonLines(mut writer) => writer.flush()?,
    }
    Ok(())
}
