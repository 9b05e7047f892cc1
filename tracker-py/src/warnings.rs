//! tracker-client's warnings -> Python's `warnings` module (TrackingWarning).
//!
//! The hook only queues the text: it runs on tracker-client's writer thread,
//! possibly while that thread holds a lock a Python thread waits for, so it must
//! never take the interpreter. The queue is emptied into `warnings.warn` on the
//! script's thread, at the end of the next call into this module, with an
//! atomic load as the only cost when it is empty.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;

use crate::errors::Class;

static PENDING: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HAS_PENDING: AtomicBool = AtomicBool::new(false);

fn pending() -> MutexGuard<'static, Vec<String>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Routes tracker-client's warnings to the queue.
pub(crate) fn install() {
    tracker_client::set_warning_hook(|message| {
        pending().push(message.to_owned());
        HAS_PENDING.store(true, Ordering::Release);
    });
}

/// Back to tracker-client's default (stderr), for warnings after the
/// interpreter stops running Python code.
pub(crate) fn uninstall() {
    tracker_client::reset_warning_hook();
}

/// Issues the queued warnings as `TrackingWarning`s (an error when the user's
/// warning filters turn them into exceptions).
#[inline]
pub(crate) fn deliver(py: Python<'_>) -> PyResult<()> {
    if HAS_PENDING.load(Ordering::Acquire) { deliver_pending(py) } else { Ok(()) }
}

#[cold]
fn deliver_pending(py: Python<'_>) -> PyResult<()> {
    let messages = {
        let mut queue = pending();
        HAS_PENDING.store(false, Ordering::Release);
        std::mem::take(&mut *queue)
    };
    let category = Class::TrackingWarning.get(py)?;
    for message in messages {
        let text = CString::new(format!("pipetrack: {message}").replace('\0', " "))
            .unwrap_or_else(|_| c"pipetrack: tracking warning".to_owned());
        PyErr::warn(py, category.as_any(), &text, 1)?;
    }
    Ok(())
}
