//! The server: shared state, routes, security headers, binding and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::routing::{get, post};
use monitor_queries::Monitor;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{self, Auth};
use crate::error::WebError;
use crate::{api, assets, export, live, pages};

/// What every handler shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) monitor: Monitor,
    pub(crate) auth: Arc<Auth>,
    pub(crate) live_every: Duration,
    pub(crate) export_page: usize,
}

impl AppState {
    /// State over `monitor`, authenticating with `auth`; live pages refresh every 2 s.
    pub fn new(monitor: Monitor, auth: Auth) -> Self {
        Self { monitor, auth: Arc::new(auth), live_every: Duration::from_secs(2), export_page: 1000 }
    }

    /// The same state with live pages refreshing every `every`.
    #[must_use]
    pub fn with_live_interval(mut self, every: Duration) -> Self {
        self.live_every = every;
        self
    }

    /// The same state reading `size` runs per query when exporting CSV (default 1,000).
    #[must_use]
    pub fn with_export_page_size(mut self, size: usize) -> Self {
        self.export_page = size.clamp(1, 1000);
        self
    }
}

/// The dashboard's routes (pages, assets, live events, CSV, charts, JSON API, `/healthz`).
pub fn router(state: AppState) -> Router {
    let csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
               connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
    Router::new()
        .route("/", get(pages::status))
        .route("/runs/{run_id}", get(pages::run))
        .route("/runs/{run_id}/log", get(pages::run_log))
        .route("/history", get(pages::history))
        .route("/history.csv", get(export::history_csv))
        .route("/trends", get(pages::trends))
        .route("/trends/charts/{file}", get(pages::chart))
        .route("/errors", get(pages::errors))
        .route("/errors/{fingerprint}", get(pages::error_runs))
        .route("/errors/{fingerprint}/resolve", post(pages::resolve))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/events/status", get(live::status_events))
        .route("/events/runs/{run_id}", get(live::run_events))
        .route("/assets/{file}", get(assets::serve))
        .route("/favicon.ico", get(|| async { axum::response::Redirect::permanent("/assets/icon.svg") }))
        .route("/healthz", get(api::healthz))
        .nest("/api/v1", api::routes())
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    bind: SocketAddr,
    auth: Auth,
    live_every: Duration,
}

impl ServeOptions {
    /// Checks the combination: a non-loopback address needs authentication.
    pub fn new(bind: SocketAddr, auth: Auth) -> Result<Self, WebError> {
        if !bind.ip().is_loopback() && !auth.is_enabled() {
            return Err(WebError::UnprotectedBind { addr: bind });
        }
        Ok(Self { bind, auth, live_every: Duration::from_secs(2) })
    }

    /// Live pages refresh every `every` (default 2 s).
    #[must_use]
    pub fn live_interval(mut self, every: Duration) -> Self {
        self.live_every = every;
        self
    }
}

/// A bound, not yet running, dashboard.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    addr: SocketAddr,
}

/// Binds the dashboard's socket (port 0 picks a free port).
pub async fn bind(monitor: Monitor, options: ServeOptions) -> Result<Server, WebError> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| WebError::Bind { addr: options.bind, source })?;
    let addr = listener.local_addr().map_err(|source| WebError::Bind { addr: options.bind, source })?;
    let state = AppState::new(monitor, options.auth).with_live_interval(options.live_every);
    Ok(Server { listener, router: router(state), addr })
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:8765/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    /// Live-update streams end with the server.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), WebError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let router = self.router.layer(axum::Extension(live::Shutdown(stop_rx)));
        axum::serve(self.listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await
            .map_err(WebError::Serve)
    }
}
