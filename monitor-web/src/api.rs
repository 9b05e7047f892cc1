//! The JSON API under `/api/v1`: the data of every page, in the read model's
//! own serde shapes (the same as `--json` in the CLI), and `/healthz`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{CSRF_HEADER, CsrfToken, Principal};
use crate::error::{WebError, bad_request};
use crate::pages::{load_board, note};
use crate::params::{ErrorParams, HistoryParams, TrendParams, parse_time};
use crate::server::AppState;

/// An API failure: `{"error": message, "status": code}`.
#[derive(Debug)]
pub(crate) struct ApiError(WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(err: E) -> Self {
        ApiError(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        (status, Json(json!({ "error": self.0.to_string(), "status": status.as_u16() }))).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/status", get(status))
        .route("/running", get(running))
        .route("/runs/{run_id}", get(run))
        .route("/history", get(history))
        .route("/failures", get(failures))
        .route("/trends", get(trends))
        .route("/errors", get(errors))
        .route("/errors/{fingerprint}/resolve", post(resolve))
        .fallback(|| async { ApiError(WebError::NotFound("no such API endpoint: see /api/v1".into())) })
}

async fn index() -> Json<serde_json::Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": {
            "GET /api/v1/status": "every script's latest run, with today's summary",
            "GET /api/v1/running": "running runs with their tasks and recent messages",
            "GET /api/v1/runs/{run_id}": "one run in full",
            "GET /api/v1/history": "run history: from, to, category, script, q, status, sort, dir, limit, cursor",
            "GET /api/v1/failures": "recent failed runs: since, limit",
            "GET /api/v1/trends": "trends and statistics: script or category, from, to",
            "GET /api/v1/errors": "error groups: from, to, script, q, resolved",
            "POST /api/v1/errors/{fingerprint}/resolve": "mark an error group resolved: {\"note\": ...}",
            "GET /healthz": "liveness and store reachability",
        },
        "docs": "docs/api.md",
    }))
}

/// `/api/v1/status`.
#[derive(Serialize)]
struct StatusReply {
    generated_at: DateTime<Utc>,
    summary: crate::views::Summary,
    scripts: Vec<monitor_queries::ScriptStatus>,
}

async fn status(State(state): State<AppState>) -> ApiResult<StatusReply> {
    let board = load_board(&state.monitor).await?;
    let scripts = state.monitor.current_status().await?;
    Ok(Json(StatusReply { generated_at: state.monitor.now(), summary: board.summary, scripts }))
}

async fn running(State(state): State<AppState>) -> ApiResult<Vec<monitor_queries::RunningRun>> {
    Ok(Json(state.monitor.running().await?))
}

async fn run(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<monitor_queries::RunDetail> {
    let run_id = run_id.parse().map_err(|_| bad_request(format!("{run_id:?} is not a run id (a UUID)")))?;
    Ok(Json(state.monitor.run_detail(run_id).await?))
}

async fn history(
    State(state): State<AppState>,
    Query(params): Query<HistoryParams>,
) -> ApiResult<monitor_queries::Page<monitor_queries::RunSummary>> {
    let filter = params.filter(state.monitor.now())?;
    Ok(Json(state.monitor.history(&filter, params.cursor()).await?))
}

#[derive(Debug, Default, Deserialize)]
struct FailureParams {
    since: Option<String>,
    limit: Option<String>,
}

async fn failures(
    State(state): State<AppState>,
    Query(params): Query<FailureParams>,
) -> ApiResult<Vec<monitor_queries::RunSummary>> {
    let since = match params.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => parse_time("since", text, false)?,
        None => state.monitor.now() - Duration::days(1),
    };
    let limit = match params.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 100,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad_request(format!("limit={text:?}: use a whole number from 1 to 1000")))?,
    };
    Ok(Json(state.monitor.recent_failures(since, limit).await?))
}

async fn trends(
    State(state): State<AppState>,
    Query(params): Query<TrendParams>,
) -> ApiResult<monitor_queries::Trends> {
    let (scope, from, to) = params.scope(state.monitor.now())?;
    Ok(Json(state.monitor.trends(&scope, from, to).await?))
}

async fn errors(
    State(state): State<AppState>,
    Query(params): Query<ErrorParams>,
) -> ApiResult<Vec<monitor_queries::ErrorGroup>> {
    let filter = params.filter(state.monitor.now())?;
    Ok(Json(state.monitor.error_groups(&filter).await?))
}

#[derive(Debug, Deserialize)]
struct ResolveBody {
    note: Option<String>,
}

async fn resolve(
    State(state): State<AppState>,
    Extension(csrf): Extension<CsrfToken>,
    Extension(principal): Extension<Principal>,
    Path(fingerprint): Path<String>,
    headers: HeaderMap,
    body: Option<Json<ResolveBody>>,
) -> ApiResult<monitor_queries::Resolution> {
    csrf.verify(&principal, headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
    let Some(Json(body)) = body else {
        return Err(
            bad_request("send a JSON body {\"note\": \"...\"} with Content-Type: application/json").into()
        );
    };
    let note = note(body.note.as_deref())?;
    Ok(Json(state.monitor.resolve_error_group(&fingerprint, &principal.name, &note).await?))
}

/// `/healthz`: 200 when the store answers with the expected schema, 503 otherwise.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.monitor.store();
    match store.schema_version().await {
        Ok(version) if version == tracker_db::SCHEMA_VERSION => {
            Json(json!({ "status": "ok", "backend": store.backend().as_str(), "schema_version": version })).into_response()
        }
        Ok(version) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "backend": store.backend().as_str(),
                "error": format!("schema version {version}, this pipetrack needs {}: run `pipetrack migrate`", tracker_db::SCHEMA_VERSION),
            })),
        )
            .into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "backend": store.backend().as_str(), "error": err.to_string() })),
        )
            .into_response(),
    }
}
