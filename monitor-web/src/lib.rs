//! The pipetrack dashboard: one axum server rendering HTML on the server (askama
//! templates), with a little hand-written JavaScript for live updates over
//! server-sent events, charts drawn as SVG on the server (plotters) and
//! rasterised to PNG (resvg), a CSV export streamed page by page, a JSON API
//! under `/api/v1`, and authentication for anything beyond localhost.
//!
//! Every page reads through [`monitor_queries::Monitor`], so the dashboard gives
//! the same answers as the CLI and the R/Python query functions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use monitor_queries::{Monitor, MonitorConfig};
//! use monitor_web::{Auth, ServeOptions};
//! use tracker_db::Store;
//!
//! let monitor = Monitor::new(Store::open_from_env().await?, MonitorConfig::default());
//! let options = ServeOptions::new("127.0.0.1:8765".parse()?, Auth::from_env()?)?;
//! let server = monitor_web::bind(monitor, options).await?;
//! println!("dashboard on {}", server.url());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod api;
mod assets;
mod auth;
mod charts;
mod error;
mod export;
mod format;
mod live;
mod pages;
mod params;
mod server;
mod views;

pub use auth::Auth;
pub use charts::{ChartError, ChartKind};
pub use error::WebError;
pub use server::{AppState, ServeOptions, Server, bind, router};
