//! Warnings about tracking problems (store unreachable, spool unwritable ...).
//!
//! Tracking never raises because of its own problems; it tells the user once
//! through this hook instead. The default prints one line on stderr; bindings
//! redirect it to Python's `warnings` or R's `warning()`.

use std::sync::RwLock;

type Hook = Box<dyn Fn(&str) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Sends every tracking warning to `hook` instead of stderr.
pub fn set_warning_hook(hook: impl Fn(&str) + Send + Sync + 'static) {
    let mut slot = HOOK.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = Some(Box::new(hook));
}

/// Restores the default: one `pipetrack: warning: ...` line on stderr.
pub fn reset_warning_hook() {
    let mut slot = HOOK.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = None;
}

/// Reports a tracking problem to the user.
#[allow(clippy::print_stderr)] // the default destination of warnings is stderr, by design
pub(crate) fn warn(message: &str) {
    let slot = HOOK.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    match slot.as_ref() {
        Some(hook) => hook(message),
        None => eprintln!("pipetrack: warning: {message}"),
    }
}
