//! `GET /history.csv`: exactly the runs the history filter shows, every page,
//! streamed page by page (1,000 runs a query) so memory stays flat at any size.
//! A store failure after the first page aborts the download rather than
//! leaving a silently short file.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use monitor_queries::{HistoryFilter, Monitor, RunSummary};

use crate::format;
use crate::pages::PageError;
use crate::params::HistoryParams;
use crate::server::AppState;

/// The CSV header row.
pub(crate) const COLUMNS: [&str; 14] = [
    "run_id",
    "script",
    "category",
    "status",
    "state",
    "started_at",
    "finished_at",
    "duration_seconds",
    "tasks_done",
    "total_tasks",
    "exit_code",
    "error_class",
    "error_message",
    "host",
];

fn rows(runs: &[RunSummary], header: bool) -> Result<Bytes, std::io::Error> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(runs.len() * 160));
    if header {
        writer.write_record(COLUMNS)?;
    }
    for run in runs {
        writer.write_record([
            run.run_id.to_string(),
            run.script_name.clone(),
            run.category.clone(),
            run.status.as_str().to_owned(),
            run.state.as_str().to_owned(),
            format::iso(run.started_at),
            run.finished_at.map(format::iso).unwrap_or_default(),
            run.duration_ms.map(|ms| format!("{:.3}", ms as f64 / 1000.0)).unwrap_or_default(),
            run.tasks_done.to_string(),
            run.total_tasks.map(|t| t.to_string()).unwrap_or_default(),
            run.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            run.error_class.clone().unwrap_or_default(),
            run.error_message.clone().unwrap_or_default(),
            run.host.clone().unwrap_or_default(),
        ])?;
    }
    writer.into_inner().map(Bytes::from).map_err(csv::IntoInnerError::into_error)
}

struct Pages {
    monitor: Monitor,
    filter: HistoryFilter,
    cursor: Option<String>,
}

pub(crate) async fn history_csv(
    State(state): State<AppState>,
    Query(params): Query<HistoryParams>,
) -> Result<Response, PageError> {
    let mut filter = params.filter(state.monitor.now())?;
    filter.limit = state.export_page;
    // The first page is read before answering, so a bad filter or a store failure is a proper error page.
    let first = state.monitor.history(&filter, None).await?;
    let head = rows(&first.items, true).map_err(|err| crate::error::bad_request(err.to_string()))?;
    let rest = Pages { monitor: state.monitor.clone(), filter, cursor: first.next_cursor };
    let tail = futures_util::stream::unfold(rest, |mut pages| async move {
        let cursor = pages.cursor.take()?;
        match pages.monitor.history(&pages.filter, Some(&cursor)).await {
            Ok(page) => {
                pages.cursor = page.next_cursor;
                Some((rows(&page.items, false), pages))
            }
            Err(err) => Some((Err(std::io::Error::other(err.to_string())), pages)),
        }
    });
    let body = futures_util::StreamExt::chain(futures_util::stream::iter([Ok(head)]), tail);
    let name = format!("pipetrack-history-{}.csv", state.monitor.now().format("%Y%m%d-%H%M"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).expect("ASCII file name"),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
