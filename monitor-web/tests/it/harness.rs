//! Test stores: a fresh SQLite file or a fresh Postgres schema per test, and a
//! dashboard router over it with a clock standing still.
//!
//! Postgres comes from `PIPETRACK_TEST_PG_URL` (scripts/ensure-postgres sets it),
//! else 127.0.0.1:5432. A missing server fails the test: never skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, TimeZone, Utc};
use monitor_queries::{ManualClock, Monitor, MonitorConfig};
use monitor_web::{AppState, Auth};
use tower::ServiceExt;
use tracker_db::config::Source;
use tracker_db::{Store, StoreConfig};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The CSRF cookie the tests' browser holds.
pub(crate) const CSRF: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// "Now" for every test: 2026-03-31 12:00 UTC.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
}

fn unique(prefix: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), &random[..8])
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { admin_url: String, schema: String },
}

/// A store, a monitor over it with a manual clock, and what it takes to throw them away.
pub(crate) struct Harness {
    pub(crate) store: Store,
    pub(crate) clock: ManualClock,
    pub(crate) monitor: Monitor,
    pub(crate) dir: std::path::PathBuf,
    cleanup: Cleanup,
}

fn monitor_over(store: &Store, clock: &ManualClock) -> Monitor {
    let config = MonitorConfig { cache_ttl: chrono::Duration::zero(), ..MonitorConfig::default() };
    Monitor::new(store.clone(), config).with_clock(Arc::new(clock.clone()))
}

impl Harness {
    pub(crate) async fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(unique("pipetrack_web"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let store = Store::open(&StoreConfig::sqlite(&path, Source::Code)).await.expect("open sqlite");
        let clock = ManualClock::new(now());
        Harness {
            monitor: monitor_over(&store, &clock),
            store,
            clock,
            cleanup: Cleanup::File(dir.clone()),
            dir,
        }
    }

    pub(crate) async fn postgres() -> Self {
        let admin_url = std::env::var("PIPETRACK_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let schema = unique("pt_web");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let config =
            StoreConfig::from_url(&format!("{admin_url}{separator}schema={schema}"), Source::Code).unwrap();
        let store = Store::open(&config).await.unwrap_or_else(|err| {
            panic!(
                "Postgres is required for these tests and could not be reached: {err}\n\
                 Run scripts/test (it starts a throwaway server) or set PIPETRACK_TEST_PG_URL."
            )
        });
        store
            .execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"), Vec::new())
            .await
            .expect("create schema");
        let dir = std::env::temp_dir().join(unique("pipetrack_web"));
        std::fs::create_dir_all(&dir).unwrap();
        let clock = ManualClock::new(now());
        Harness {
            monitor: monitor_over(&store, &clock),
            store,
            clock,
            cleanup: Cleanup::Schema { admin_url, schema },
            dir,
        }
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
        match &self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { admin_url, schema } => {
                let (admin_url, schema) = (admin_url.clone(), schema.clone());
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    runtime.block_on(async {
                        if let Ok(store) =
                            Store::open(&StoreConfig::from_url(&admin_url, Source::Code).unwrap()).await
                        {
                            let _ = store
                                .execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), Vec::new())
                                .await;
                        }
                    });
                })
                .join();
            }
        }
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
