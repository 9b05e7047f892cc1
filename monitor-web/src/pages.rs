//! The HTML pages: status, run detail (with its log), history, trends (with
//! chart downloads), errors (with drill-down and resolve), login.

use askama::Template;
use axum::Extension;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use monitor_queries::{
    ErrorGroup, ErrorGroupFilter, HistoryFilter, HistorySort, Monitor, RunState, RunSummary, ScriptStatus,
    TrendScope,
};
use serde::Deserialize;
use tracker_core::{RunId, RunStatus};

use crate::auth::{CsrfToken, Principal, TOKEN_COOKIE};
use crate::charts::{self, ChartKind};
use crate::error::{WebError, bad_request};
use crate::format;
use crate::params::{self, ErrorParams, HistoryParams, TrendParams};
use crate::server::AppState;
use crate::views::{Board, GroupContext, GroupRow, HistoryRow, LogView, RunView, Summary};

/// Bytes of a log shown in the run page / served as text.
const LOG_IN_PAGE: u64 = 64 * 1024;
const LOG_AS_TEXT: u64 = 1024 * 1024;

/// What every page's layout needs.
#[derive(Clone, Debug)]
pub(crate) struct PageMeta {
    pub(crate) title: String,
    pub(crate) nav: &'static str,
    pub(crate) banner: Option<String>,
    pub(crate) csrf: String,
    pub(crate) version: &'static str,
}

impl PageMeta {
    pub(crate) fn new(title: impl Into<String>, nav: &'static str, csrf: &CsrfToken) -> Self {
        Self {
            title: title.into(),
            nav,
            banner: None,
            csrf: csrf.0.clone(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// A failed page: the layout with a banner (store failures) or a message, never a stack trace.
#[derive(Debug)]
pub(crate) struct PageError(pub(crate) WebError);

impl<E: Into<WebError>> From<E> for PageError {
    fn from(err: E) -> Self {
        PageError(err.into())
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    page: PageMeta,
    message: String,
    back_href: &'static str,
    back_label: &'static str,
    /// Seconds before the page reloads itself (0: never).
    retry_secs: u32,
}

/// How often a page that failed because the store did not answer reloads itself.
pub(crate) const RETRY_SECS: u32 = 10;

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let title = match status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::SERVICE_UNAVAILABLE => "Store unavailable",
            _ => "Something went wrong",
        };
        let message = self.0.to_string();
        let mut page = PageMeta {
            title: title.into(),
            nav: "",
            banner: None,
            csrf: String::new(),
            version: env!("CARGO_PKG_VERSION"),
        };
        let store_failure = self.0.is_store_failure();
        let body = if store_failure {
            page.banner = Some(format!("The store could not be read: {message}"));
            format!(
                "The dashboard will show data again as soon as the store answers: this page tries again by itself every {RETRY_SECS} seconds."
            )
        } else {
            message
        };
        let html = MessagePage {
            page,
            message: body,
            back_href: "/",
            back_label: "Back to the status page",
            retry_secs: if store_failure { RETRY_SECS } else { 0 },
        }
        .render()
        .unwrap_or_else(|_| "pipetrack: the error page failed to render".to_owned());
        (status, Html(html)).into_response()
    }
}

type PageResult = Result<Response, PageError>;

fn html(template: &impl Template) -> PageResult {
    Ok(Html(template.render().map_err(WebError::from)?).into_response())
}

/// Start of the current UTC day.
fn today(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// The live part of the status page: current status, running runs with their
/// tasks, and today's counts.
pub(crate) async fn load_board(monitor: &Monitor) -> Result<Board, WebError> {
    let now = monitor.now();
    let scripts = monitor.current_status().await?;
    let running = monitor.running().await?;
    let day = monitor.trends(&TrendScope::All, today(now), now + Duration::seconds(1)).await?;
    let count = |state: RunState| running.iter().filter(|r| r.run.state == state).count();
    let summary = Summary {
        running: count(RunState::Running),
        stalled: count(RunState::Stalled),
        lost: count(RunState::Lost),
        failed_today: day.failed,
        completed_today: day.completed,
    };
    Ok(Board::new(&scripts, &running, summary, now))
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    page: PageMeta,
    board: Board,
}

#[derive(Template)]
#[template(path = "board.html")]
pub(crate) struct BoardFragment<'a> {
    pub(crate) board: &'a Board,
}

pub(crate) async fn status(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
) -> PageResult {
    let board = load_board(&state.monitor).await?;
    html(&StatusPage { page: PageMeta::new("Status", "status", &csrf), board })
}

fn parse_run_id(text: &str) -> Result<RunId, WebError> {
    text.parse::<RunId>().map_err(|_| {
        bad_request(format!("{text:?} is not a run id: run ids are UUIDs, as listed on the history page"))
    })
}

/// The last `most` bytes of a run's log file, as text.
async fn read_log_tail(path: &str, most: u64) -> LogView {
    let path = std::path::PathBuf::from(path);
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(err) => {
                return LogView::Unreadable(format!(
                    "The log file {} cannot be read by the dashboard's server ({err}). It may be on another machine.",
                    path.display()
                ));
            }
        };
        let len = file.metadata().map_or(0, |m| m.len());
        let start = len.saturating_sub(most);
        if start > 0 && file.seek(SeekFrom::Start(start)).is_err() {
            return LogView::Unreadable(format!("The log file {} cannot be read.", path.display()));
        }
        let mut bytes = Vec::new();
        if let Err(err) = file.take(most).read_to_end(&mut bytes) {
            return LogView::Unreadable(format!("The log file {} cannot be read ({err}).", path.display()));
        }
        LogView::Text { text: String::from_utf8_lossy(&bytes).into_owned(), truncated: start > 0 }
    })
    .await
    .unwrap_or_else(|_| LogView::Unreadable("Reading the log failed.".into()))
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    page: PageMeta,
    run: RunView,
}

#[derive(Template)]
#[template(path = "run_body.html")]
pub(crate) struct RunFragment<'a> {
    pub(crate) run: &'a RunView,
}

/// The run's view, with the tail of its log when it failed and the file is readable.
pub(crate) async fn load_run(monitor: &Monitor, run_id: RunId) -> Result<RunView, WebError> {
    let detail = monitor.run_detail(run_id).await?;
    let log = match (&detail.run.log_path, detail.run.status) {
        (Some(path), Some(status)) if status != RunStatus::Running && status != RunStatus::Completed => {
            Some(read_log_tail(path, LOG_IN_PAGE).await)
        }
        _ => None,
    };
    Ok(RunView::new(&detail, log, monitor.now()))
}

pub(crate) async fn run(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Path(run_id): Path<String>,
) -> PageResult {
    let run = load_run(&state.monitor, parse_run_id(&run_id)?).await?;
    let title = format!("{} · {}", run.script, run.state);
    html(&RunPage { page: PageMeta::new(title, "status", &csrf), run })
}

pub(crate) async fn run_log(State(state): State<AppState>, Path(run_id): Path<String>) -> PageResult {
    let detail = state.monitor.run_detail(parse_run_id(&run_id)?).await?;
    let Some(path) = detail.run.log_path else {
        return Err(WebError::NotFound("this run recorded no log file".into()).into());
    };
    match read_log_tail(&path, LOG_AS_TEXT).await {
        LogView::Text { text, .. } => {
            Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], text)
                .into_response())
        }
        LogView::Unreadable(reason) => Err(WebError::NotFound(reason).into()),
    }
}

/// Categories and scripts known to the store, for the filter forms.
async fn known(monitor: &Monitor) -> Result<(Vec<String>, Vec<String>), WebError> {
    let scripts: Vec<ScriptStatus> = monitor.current_status().await?;
    let mut categories: Vec<String> = scripts.iter().map(|s| s.category.clone()).collect();
    categories.dedup();
    categories.sort();
    categories.dedup();
    let mut names: Vec<String> = scripts.into_iter().map(|s| s.script_name).collect();
    names.sort();
    Ok((categories, names))
}

/// The filter form's current values.
#[derive(Clone, Debug, Default)]
pub(crate) struct FormValues {
    from: String,
    to: String,
    category: String,
    status: String,
    script: String,
    q: String,
    sort: String,
    dir: String,
    resolved: bool,
    first_page: bool,
    categories: Vec<String>,
    scripts: Vec<String>,
    statuses: Vec<&'static str>,
}

fn value(v: Option<&String>) -> String {
    v.map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// A sortable column header.
#[derive(Clone, Debug)]
struct Column {
    label: &'static str,
    href: String,
    arrow: &'static str,
    aria_sort: &'static str,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    page: PageMeta,
    form: FormValues,
    rows: Vec<HistoryRow>,
    columns: Vec<Column>,
    sort_label: String,
    export_query: String,
    first_query: String,
    next_query: Option<String>,
}

fn columns(params: &HistoryParams, filter: &HistoryFilter) -> Vec<Column> {
    let descending = filter.descending.unwrap_or(filter.sort.descending_by_default());
    [
        ("Script", Some(HistorySort::Name)),
        ("Started", Some(HistorySort::Started)),
        ("Ended", Some(HistorySort::Ended)),
        ("Duration", Some(HistorySort::Duration)),
        ("Status", Some(HistorySort::Status)),
        ("Error", Some(HistorySort::Error)),
    ]
    .into_iter()
    .map(|(label, sort)| match sort {
        None => Column { label, href: String::new(), arrow: "", aria_sort: "" },
        Some(sort) => {
            let active = sort == filter.sort;
            // Clicking the active column flips it; another column starts in its natural direction.
            let dir = if active {
                if descending { "asc" } else { "desc" }
            } else if sort.descending_by_default() {
                "desc"
            } else {
                "asc"
            };
            Column {
                label,
                href: format!(
                    "/history?{}",
                    params.query_with(&[("sort", Some(sort.as_str())), ("dir", Some(dir)), ("cursor", None)])
                ),
                arrow: match (active, descending) {
                    (false, _) => "",
                    (true, true) => "▼",
                    (true, false) => "▲",
                },
                aria_sort: match (active, descending) {
                    (false, _) => "",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                },
            }
        }
    })
    .collect()
}

/// The CSV export's query: the page's filter with its range pinned to what the
/// page showed, `from` resolved (the default is "30 days before now") and `to`
/// at most the moment the page was read, so runs started after the page
/// loaded are not in the export.
fn export_query(params: &HistoryParams, filter: &HistoryFilter, now: DateTime<Utc>) -> String {
    let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // Anything the page listed started at or before `now`; `to` is exclusive.
    let read_at = now + Duration::milliseconds(1);
    let from = filter.from.unwrap_or(now - Duration::days(params::DEFAULT_DAYS));
    let to = match filter.to {
        Some(to) if to < read_at || from >= read_at => to,
        _ => read_at,
    };
    let (from, to) = (stamp(from), stamp(to));
    params.query_with(&[("from", Some(&from)), ("to", Some(&to)), ("cursor", None), ("limit", None)])
}

pub(crate) async fn history(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Query(params): Query<HistoryParams>,
) -> PageResult {
    let now = state.monitor.now();
    let filter = params.filter(now)?;
    let page = state.monitor.history(&filter, params.cursor()).await?;
    let (categories, scripts) = known(&state.monitor).await?;
    let descending = filter.descending.unwrap_or(filter.sort.descending_by_default());
    let form = FormValues {
        from: params::date_input(filter.from.unwrap_or(now), false),
        to: filter.to.map(|to| params::date_input(to, true)).unwrap_or_default(),
        category: value(params.category.as_ref()),
        status: value(params.status.as_ref()),
        script: value(params.script.as_ref()),
        q: value(params.q.as_ref()),
        sort: value(params.sort.as_ref()),
        dir: value(params.dir.as_ref()),
        first_page: params.cursor().is_none(),
        categories,
        scripts,
        statuses: RunStatus::ALL.iter().map(|s| s.as_str()).collect(),
        ..FormValues::default()
    };
    let rows: Vec<HistoryRow> = page.items.iter().map(HistoryRow::new).collect();
    html(&HistoryPage {
        page: PageMeta::new("History", "history", &csrf),
        columns: columns(&params, &filter),
        sort_label: format!(
            "sorted by {} {}",
            match filter.sort {
                HistorySort::Started => "start time",
                HistorySort::Duration => "duration",
                HistorySort::Status => "status",
                HistorySort::Name => "script",
                HistorySort::Ended => "end time",
                HistorySort::Error => "error",
            },
            if descending { "descending" } else { "ascending" }
        ),
        export_query: export_query(&params, &filter, now),
        first_query: params.query_with(&[("cursor", None)]),
        next_query: page.next_cursor.as_deref().map(|cursor| params.query_with(&[("cursor", Some(cursor))])),
        form,
        rows,
    })
}

/// One chart on the trends page.
#[derive(Clone, Debug)]
struct ChartView {
    name: &'static str,
    title: &'static str,
    svg: String,
}

#[derive(Template)]
#[template(path = "trends.html")]
struct TrendsPage {
    page: PageMeta,
    form: FormValues,
    scope_label: String,
    total_runs: i64,
    sampled: bool,
    sample_size: usize,
    stats: Vec<String>,
    charts: Vec<ChartView>,
    query: String,
}

pub(crate) async fn trends(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Query(params): Query<TrendParams>,
) -> PageResult {
    let now = state.monitor.now();
    let (scope, from, to) = params.scope(now)?;
    let trends = state.monitor.trends(&scope, from, to).await?;
    let (categories, scripts) = known(&state.monitor).await?;
    let d = &trends.duration;
    let stats = vec![
        trends.total_runs.to_string(),
        trends.completed.to_string(),
        trends.failed.to_string(),
        format::percent(trends.failure_percent),
        format::duration_f(d.mean_ms),
        format::duration_f(d.median_ms),
        format::duration(d.min_ms),
        format::duration(d.max_ms),
        format::duration_f(d.stddev_ms),
        format::duration_f(d.p90_ms),
    ];
    let charts = ChartKind::ALL
        .into_iter()
        .map(|kind| {
            Ok(ChartView { name: kind.name(), title: kind.title(), svg: charts::draw(kind, &trends)?.svg() })
        })
        .collect::<Result<Vec<_>, WebError>>()?;
    let scope_label = match &scope {
        TrendScope::Script(name) => format!("Script {name}"),
        TrendScope::Category(name) => format!("Category {name}"),
        TrendScope::All => "All scripts".to_owned(),
    };
    html(&TrendsPage {
        page: PageMeta::new("Trends", "trends", &csrf),
        form: FormValues {
            from: params::date_input(from, false),
            to: params::date_input(to, true),
            category: value(params.category.as_ref()),
            script: value(params.script.as_ref()),
            categories,
            scripts,
            ..FormValues::default()
        },
        scope_label: format!(
            "{scope_label}, {} to {}",
            params::date_input(from, false),
            params::date_input(to, true)
        ),
        total_runs: trends.total_runs,
        sampled: trends.sampled,
        sample_size: trends.runs.len(),
        stats,
        charts,
        query: params.query(),
    })
}

pub(crate) async fn chart(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(params): Query<TrendParams>,
) -> PageResult {
    let (name, extension) = file
        .rsplit_once('.')
        .ok_or_else(|| bad_request(format!("{file:?}: ask for NAME.svg or NAME.png")))?;
    let kind = ChartKind::parse(name).map_err(|err| bad_request(err.to_string()))?;
    let (scope, from, to) = params.scope(state.monitor.now())?;
    let trends = state.monitor.trends(&scope, from, to).await?;
    let chart = charts::draw(kind, &trends)?;
    let disposition = |ext: &str| {
        HeaderValue::from_str(&format!(
            "attachment; filename=\"pipetrack-{name}-{}.{ext}\"",
            params::date_input(to, true)
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
    };
    match extension {
        "svg" => Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
                (header::CONTENT_DISPOSITION, disposition("svg")),
            ],
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", chart.svg()),
        )
            .into_response()),
        "png" => {
            let png = tokio::task::spawn_blocking(move || chart.png())
                .await
                .map_err(|err| WebError::Chart(charts::ChartError::Raster(err.to_string())))??;
            Ok((
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                    (header::CONTENT_DISPOSITION, disposition("png")),
                ],
                png,
            )
                .into_response())
        }
        other => Err(bad_request(format!("{other:?} is not a chart format: use .svg or .png")).into()),
    }
}

#[derive(Template)]
#[template(path = "errors.html")]
struct ErrorsPage {
    page: PageMeta,
    form: FormValues,
    groups: Vec<GroupRow>,
    notice: Option<String>,
    /// `Some(limit)` when the query read only the latest `limit` failures.
    capped: Option<usize>,
}

/// Most error groups whose latest run is read for context (failing task,
/// traceback, log) on one page.
const GROUP_CONTEXTS: usize = 50;

/// The groups' rows, the first [`GROUP_CONTEXTS`] with their latest run's
/// context (read concurrently; a run that cannot be read just has none).
async fn group_rows(monitor: &Monitor, groups: &[ErrorGroup]) -> Vec<GroupRow> {
    // A few at a time, so one page never takes the whole connection pool.
    let mut details = Vec::new();
    for chunk in groups[..groups.len().min(GROUP_CONTEXTS)].chunks(4) {
        details.extend(
            futures_util::future::join_all(chunk.iter().map(|g| monitor.run_detail(g.latest_run_id))).await,
        );
    }
    let mut details = details.into_iter();
    groups
        .iter()
        .map(|group| {
            let mut row = GroupRow::new(group);
            row.context = details.next().and_then(Result::ok).map(|d| GroupContext::new(&d));
            row
        })
        .collect()
}

/// `?done=FINGERPRINT` after a resolve shows a confirmation.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

pub(crate) async fn errors(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Query(params): Query<ErrorParams>,
    Query(done): Query<Done>,
) -> PageResult {
    let filter = params.filter(state.monitor.now())?;
    // Read resolved groups too (the same query), so that the counts of every
    // failure read tell whether the sample limit was reached; then keep the
    // ones asked for.
    let all =
        state.monitor.error_groups(&ErrorGroupFilter { include_resolved: true, ..filter.clone() }).await?;
    let limit = state.monitor.config().error_sample_limit.max(1);
    let capped = (all.iter().map(|g| g.count).sum::<usize>() >= limit).then_some(limit);
    let groups: Vec<ErrorGroup> = all.into_iter().filter(|g| filter.include_resolved || g.open).collect();
    let (_, scripts) = known(&state.monitor).await?;
    html(&ErrorsPage {
        page: PageMeta::new("Errors", "errors", &csrf),
        form: FormValues {
            from: params::date_input(filter.from, false),
            to: filter.to.map(|to| params::date_input(to, true)).unwrap_or_default(),
            script: value(params.script.as_ref()),
            q: value(params.q.as_ref()),
            resolved: filter.include_resolved,
            scripts,
            ..FormValues::default()
        },
        groups: group_rows(&state.monitor, &groups).await,
        capped,
        notice: done
            .done
            .filter(|fp| monitor_queries::fingerprint::is_fingerprint(fp))
            .map(|fp| format!("Error group {fp} is marked resolved. It reopens if it fails again.")),
    })
}

/// Failed runs of one error group, newest first (at most `most`), read with the
/// history's fingerprint filter narrowed by the group's error class and, when
/// it has one, its script.
pub(crate) async fn runs_of_group(
    monitor: &Monitor,
    group: &ErrorGroup,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    most: usize,
) -> Result<(Vec<RunSummary>, bool), WebError> {
    let filter = HistoryFilter {
        from: Some(from),
        to,
        statuses: vec![RunStatus::Failed],
        script: (group.scripts.len() == 1).then(|| group.scripts[0].clone()),
        error_class: group.error_class.clone(),
        fingerprint: Some(group.fingerprint.clone()),
        limit: most,
        ..HistoryFilter::default()
    };
    let page = monitor.history(&filter, None).await?;
    let truncated = page.next_cursor.is_some();
    Ok((page.items, truncated))
}

#[derive(Template)]
#[template(path = "error_runs.html")]
struct ErrorRunsPage {
    page: PageMeta,
    fingerprint: String,
    group: Option<GroupRow>,
    rows: Vec<HistoryRow>,
    truncated: bool,
}

pub(crate) async fn error_runs(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Path(fingerprint): Path<String>,
    Query(params): Query<ErrorParams>,
) -> PageResult {
    if !monitor_queries::fingerprint::is_fingerprint(&fingerprint) {
        return Err(bad_request(format!("{fingerprint:?} is not a fingerprint (16 hex digits)")).into());
    }
    let mut filter = params.filter(state.monitor.now())?;
    filter.include_resolved = true;
    let groups = state.monitor.error_groups(&filter).await?;
    let group = groups.into_iter().find(|g| g.fingerprint == fingerprint);
    let (runs, truncated) = match &group {
        Some(group) => runs_of_group(&state.monitor, group, filter.from, filter.to, 200).await?,
        None => (Vec::new(), false),
    };
    html(&ErrorRunsPage {
        page: PageMeta::new("Runs with this error", "errors", &csrf),
        group: group.as_ref().map(GroupRow::new),
        fingerprint,
        rows: runs.iter().map(HistoryRow::new).collect(),
        truncated,
    })
}

/// The resolve form.
#[derive(Debug, Deserialize)]
pub(crate) struct ResolveForm {
    csrf: Option<String>,
    note: Option<String>,
}

/// Checks a resolution note: required, at most 500 characters.
pub(crate) fn note(note: Option<&str>) -> Result<String, WebError> {
    let note = note.map_or("", str::trim);
    if note.is_empty() {
        return Err(bad_request("a note is required: say what fixed it or why it can be ignored"));
    }
    if note.chars().count() > 500 {
        return Err(bad_request("the note is too long: at most 500 characters"));
    }
    Ok(note.to_owned())
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(principal): Extension<Principal>,
    Path(fingerprint): Path<String>,
    Form(form): Form<ResolveForm>,
) -> PageResult {
    csrf.verify(&principal, form.csrf.as_deref())?;
    let note = note(form.note.as_deref())?;
    state.monitor.resolve_error_group(&fingerprint, &principal.name, &note).await?;
    Ok(Redirect::to(&format!("/errors?done={fingerprint}")).into_response())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: PageMeta,
    failed: bool,
}

pub(crate) async fn login_form(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
) -> PageResult {
    if !state.auth.uses_token() {
        return Ok(Redirect::to("/").into_response());
    }
    html(&LoginPage { page: PageMeta::new("Sign in", "", &csrf), failed: false })
}

/// The login form.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    csrf: Option<String>,
    token: Option<String>,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let anonymous = Principal { name: String::new(), bearer: false };
    csrf.verify(&anonymous, form.csrf.as_deref())?;
    let token = form.token.unwrap_or_default();
    if !state.auth.token_matches(&token) {
        let mut response = html(&LoginPage { page: PageMeta::new("Sign in", "", &csrf), failed: true })?;
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(response);
    }
    let cookie =
        HeaderValue::from_str(&format!("{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", token.trim()))
            .map_err(|_| bad_request("the token has characters a cookie cannot hold"))?;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

pub(crate) async fn not_found() -> PageError {
    PageError(WebError::NotFound("There is no page here.".into()))
}
