//! Test stores: a fresh SQLite file or a fresh Postgres schema per test, and a
//! dashboard router over it with a clock standing still.
//!
//! The store comes from the `test-support` crate: Postgres from
//! `PIPETRACK_TEST_PG_URL` (scripts/ensure-postgres sets it), else
//! 127.0.0.1:5432; a missing server fails the test, never skipped.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, TimeZone, Utc};
use monitor_queries::{ManualClock, Monitor, MonitorConfig};
use monitor_web::{AppState, Auth};
use test_support::TestStore;
use tower::ServiceExt;
use tracker_db::Store;

/// The CSRF cookie the tests' browser holds.
pub(crate) const CSRF: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// "Now" for every test: 2026-03-31 12:00 UTC.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
}

/// A store, a monitor over it with a manual clock, and a scratch directory
/// (log files); all thrown away when dropped.
pub(crate) struct Harness {
    pub(crate) store: Store,
    pub(crate) clock: ManualClock,
    pub(crate) monitor: Monitor,
    pub(crate) dir: std::path::PathBuf,
    _test: TestStore,
}

fn monitor_over(store: &Store, clock: &ManualClock) -> Monitor {
    let config = MonitorConfig { cache_ttl: chrono::Duration::zero(), ..MonitorConfig::default() };
    Monitor::new(store.clone(), config).with_clock(Arc::new(clock.clone()))
}

impl Harness {
    fn over(test: TestStore) -> Self {
        let dir = std::env::temp_dir().join(test_support::unique("pipetrack_web"));
        std::fs::create_dir_all(&dir).unwrap();
        let clock = ManualClock::new(now());
        Harness {
            monitor: monitor_over(&test.store, &clock),
            store: test.store.clone(),
            clock,
            dir,
            _test: test,
        }
    }

    pub(crate) async fn sqlite() -> Self {
        Self::over(TestStore::sqlite("pipetrack_web").await)
    }

    pub(crate) async fn postgres() -> Self {
        Self::over(TestStore::postgres("pt_web").await)
    }

    /// The same store, read by a monitor that expects these scripts.
    pub(crate) fn expecting(mut self, scripts: Vec<String>) -> Self {
        let mut config = MonitorConfig { cache_ttl: chrono::Duration::zero(), ..MonitorConfig::default() };
        config.add_expected(scripts);
        self.monitor = Monitor::new(self.store.clone(), config).with_clock(Arc::new(self.clock.clone()));
        self
    }

    pub(crate) async fn migrated(self) -> Self {
        self.store.migrate().await.expect("migrate");
        self
    }

    /// The dashboard without authentication.
    pub(crate) fn app(&self) -> Router {
        self.app_with(Auth::none())
    }

    pub(crate) fn app_with(&self, auth: Auth) -> Router {
        monitor_web::router(
            AppState::new(self.monitor.clone(), auth)
                .with_live_interval(std::time::Duration::from_millis(50))
                .with_export_page_size(2),
        )
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A response, read whole.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    pub(crate) fn header(&self, name: header::HeaderName) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }
}

/// Sends a request with the tests' CSRF cookie and reads the whole response.
pub(crate) async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Reply {
    let mut request =
        Request::builder().method(method).uri(uri).header(header::COOKIE, format!("pipetrack_csrf={CSRF}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024).await.unwrap().to_vec();
    Reply { status, headers, body }
}

pub(crate) async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Method::GET, uri, &[], Body::empty()).await
}
