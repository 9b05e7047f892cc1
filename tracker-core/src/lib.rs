//! The status model of pipetrack: what a run is, which states it goes through,
//! what each tracking call records, and how those records fold into the rows
//! readers see. Pure logic: no I/O and no clock (times are passed in), so every
//! rule here is testable in isolation and shared by every binding and store.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use tracker_core::{RunId, RunMeta, RunRow, RunStatus, RunEnd, Session, TaskStatus};
//!
//! let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 6, 0, 0).unwrap();
//! let meta = RunMeta { script_name: "DAILY_01_BDC_Locations.R".into(), total_tasks: Some(2), ..RunMeta::default() };
//! let (mut session, started) = Session::start(RunId::from_parts(0, [7; 10]), meta, t0)?;
//! let mut events = vec![started];
//! events.push(session.enter_task("Load states", t0)?);
//! events.push(session.progress(10, 50, t0)?);
//! events.push(session.exit_task(TaskStatus::Completed, t0)?);
//! events.extend(session.finish(RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None }, t0)?);
//!
//! let mut row = RunRow::default();
//! for event in &events {
//!     row.apply(event)?;
//! }
//! assert_eq!(row.category, "DAILY");
//! assert_eq!(row.status, Some(RunStatus::Completed));
//! assert_eq!((row.tasks_done, row.total_tasks), (1, Some(2)));
//! # Ok::<(), tracker_core::CoreError>(())
//! ```

pub mod category;
mod error;
pub mod event;
mod ids;
pub mod projection;
pub mod redact;
pub mod session;
mod status;
pub mod validate;

pub use category::{CategoryRules, detect_script_category};
pub use error::CoreError;
pub use event::{ErrorInfo, Event, EventKind, ResourceSample, RunEnd, RunMeta, StatusUpdate};
pub use ids::{RunId, StreamId, TaskId};
pub use projection::{RunRow, TaskChange, TaskKey, TaskRow};
pub use session::Session;
pub use status::{RunStatus, TaskStatus};
