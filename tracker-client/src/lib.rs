//! The in-process tracking client every pipetrack binding wraps.
//!
//! A script reports through free functions on one process-wide tracker:
//! [`track_init`], [`track_status`], [`track_finish`], [`track_error`], the
//! task helpers [`genter`], [`gexit`], [`gmessage`] and the loop counter
//! [`progress`]. Each call validates its input, updates the run's counters and
//! puts one event on a bounded queue; a background thread writes the events to
//! the store in batches. Tracking problems (store down, disk full) are warned
//! about once and never raised: only API misuse returns a [`ClientError`].
//!
//! ```no_run
//! use tracker_client::{genter, gexit, gmessage, progress, track_finish, track_init, InitOptions};
//!
//! track_init(InitOptions { total_tasks: Some(2), ..InitOptions::default() })?;
//! genter("Load states")?;
//! for (i, state) in ["AL", "AK", "AZ"].iter().enumerate() {
//!     gmessage(&format!("Loading {state}"))?;
//!     progress(i as i64 + 1, 3)?;
//! }
//! gexit()?;
//! track_finish()?;
//! tracker_client::shutdown(tracker_client::ExitReason::Code(0));
//! # Ok::<(), tracker_client::ClientError>(())
//! ```
//!
//! Without `track_init`, the first `genter` starts the run. `PIPETRACK_DISABLED=1`
//! turns every call into one atomic load. See docs/tracking.md for the full
//! behaviour: spool, fork safety, exit handling, coalescing, settings.

mod coalesce;
pub mod config;
mod error;
pub mod meta;
pub mod resources;
pub mod spool;
mod sys;
mod tracker;
mod warn;
mod writer;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

pub use config::ClientConfig;
pub use error::ClientError;
pub use tracker::{ExitReason, InitOptions, StatusFields, Tracker};
pub use tracker_core::{ResourceSample, RunEnd, RunId, RunStatus, StreamId, TaskStatus};
pub use warn::{reset_warning_hook, set_warning_hook};
pub use writer::FlushReport;

const UNKNOWN: u8 = 0;
const ENABLED: u8 = 1;
const DISABLED: u8 = 2;

static ENABLEMENT: AtomicU8 = AtomicU8::new(UNKNOWN);
static GLOBAL: OnceLock<Tracker> = OnceLock::new();

/// Whether tracking is on (`PIPETRACK_DISABLED` unset). One atomic load once known.
#[inline]
pub fn enabled() -> bool {
    match ENABLEMENT.load(Ordering::Relaxed) {
        ENABLED => true,
        DISABLED => false,
        _ => decide_enabled(),
    }
}

#[cold]
fn decide_enabled() -> bool {
    let on = !config::disabled_by_env();
    ENABLEMENT.store(if on { ENABLED } else { DISABLED }, Ordering::Relaxed);
    on
}

extern "C" fn exit_hook() {
    if let Some(tracker) = GLOBAL.get() {
        tracker.shutdown(ExitReason::Unknown);
    }
}

/// The process-wide tracker, created on first use from the environment.
pub fn global() -> &'static Tracker {
    GLOBAL.get_or_init(|| {
        let tracker = Tracker::new(ClientConfig::from_env());
        tracker::install_panic_hook();
        if !sys::at_exit(exit_hook) {
            warn::warn("cannot register the exit hook: call shutdown() before the process exits");
        }
        tracker
    })
}

/// Starts a run (or joins the one `pipetrack run` passed down) and returns its
/// id; `None` when tracking is disabled.
pub fn track_init(options: InitOptions) -> Result<Option<RunId>, ClientError> {
    if !enabled() {
        return Ok(None);
    }
    global().init(options).map(Some)
}

/// Updates any subset of the run's live fields (message, current task,
/// progress, total tasks).
pub fn track_status(fields: StatusFields) -> Result<(), ClientError> {
    if !enabled() {
        return Ok(());
    }
    global().status(fields)
}

/// The run completed.
pub fn track_finish() -> Result<(), ClientError> {
    if !enabled() {
        return Ok(());
    }
    global().finish()
}

/// The run failed with this error (message, error class, traceback).
pub fn track_error(message: &str, class: Option<&str>, traceback: Option<&str>) -> Result<(), ClientError> {
    if !enabled() {
        return Ok(());
    }
    global().error(message, class, traceback)
}

/// A task begins (and the run, if none was started).
#[inline]
pub fn genter(name: &str) -> Result<(), ClientError> {
    if !enabled() {
        return Ok(());
    }
    global().enter(name)
}

/// The innermost open task ends.
#[inline]
pub fn gexit() -> Result<(), ClientError> {
    if !enabled() {
        return Ok(());
    }
    global().exit()
}

/// A progress message for the current task.
#[inline]
pub fn gmessage(message: &str) -> Result<(), ClientError> {
    if !enabled() {
        return Ok(());
    }
    global().message(message)
}

/// Sub-progress of the current task: `done` of `total` items (states, counties ...).
#[inline]
pub fn progress(done: i64, total: i64) -> Result<(), ClientError> {
    if !enabled() {
        return Ok(());
    }
    global().progress(done, total)
}

/// The current run's id, if one was started in this process.
pub fn current_run_id() -> Option<RunId> {
    if !enabled() {
        return None;
    }
    GLOBAL.get().and_then(Tracker::run_id)
}

/// Waits (at most `timeout`) until everything recorded so far is stored or spooled.
pub fn flush(timeout: std::time::Duration) -> FlushReport {
    match GLOBAL.get() {
        Some(tracker) if enabled() => tracker.flush(timeout),
        _ => FlushReport { complete: true, ..FlushReport::default() },
    }
}

/// For a worker process that its pool ends with SIGTERM (Python's
/// `multiprocessing.Pool.terminate()`, and so `with Pool(...)`): from now on a
/// SIGTERM first stores what this process recorded, as [`shutdown`] with
/// [`ExitReason::Unknown`] does (for at most `PIPETRACK_EXIT_FLUSH_MS`), then
/// ends the process as the signal would have. The work runs on a thread of its
/// own, whatever the process's other threads are doing.
///
/// Leaves SIGTERM alone when the program handles or ignores it already (returns
/// false then); a handler the program installs later replaces this one. A
/// forked child starts with the default action again. Returns whether the
/// flush is armed.
pub fn flush_on_sigterm() -> bool {
    sys::flush_on_sigterm(|| {
        shutdown(ExitReason::Unknown);
    })
}

/// Process exit: finishes a run left open (completed for exit status 0, failed
/// otherwise, cancelled for a signal), flushes for at most
/// `PIPETRACK_EXIT_FLUSH_MS` and spools the rest. Bindings call this from their
/// exit hooks; an `atexit` hook calls it with [`ExitReason::Unknown`] otherwise.
pub fn shutdown(reason: ExitReason) -> FlushReport {
    match GLOBAL.get() {
        Some(tracker) if enabled() => tracker.shutdown(reason),
        _ => FlushReport { complete: true, ..FlushReport::default() },
    }
}
