//! The client's error type: API misuse only. Store problems never reach the
//! caller (they are warned about once and the events are spooled), so every
//! variant here is something the script author can fix in their code.
//!
//! Each variant is one kind of mistake, so the Python and R bindings can map it
//! to an exception class (`ValueError`-like for bad arguments, a state error for
//! calls in the wrong order) without parsing messages.

use tracker_core::CoreError;

/// Why a tracking call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// An argument is invalid: empty or over-long text, control characters,
    /// negative counters, progress beyond its total, a malformed run id.
    #[error("{0}")]
    InvalidArgument(#[source] CoreError),
    /// A call that needs a run came before `track_init` (only for calls that do
    /// not start a run on their own, like `gexit`).
    #[error("{0}")]
    NotStarted(#[source] CoreError),
    /// `track_init` was called while a run is open.
    #[error("{0}")]
    AlreadyStarted(#[source] CoreError),
    /// The run already finished: start a new one with `track_init`.
    #[error("{0}")]
    RunFinished(#[source] CoreError),
    /// `gexit` without an open task.
    #[error("{0}")]
    NoOpenTask(#[source] CoreError),
    /// A status change the run lifecycle does not allow.
    #[error("{0}")]
    IllegalTransition(#[source] CoreError),
}

impl ClientError {
    /// A short, stable name of the kind, for bindings and logs
    /// (`invalid_argument`, `not_started`, `already_started`, `run_finished`,
    /// `no_open_task`, `illegal_transition`).
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::InvalidArgument(_) => "invalid_argument",
            ClientError::NotStarted(_) => "not_started",
            ClientError::AlreadyStarted(_) => "already_started",
            ClientError::RunFinished(_) => "run_finished",
            ClientError::NoOpenTask(_) => "no_open_task",
            ClientError::IllegalTransition(_) => "illegal_transition",
        }
    }

    /// The status-model error underneath.
    pub fn core(&self) -> &CoreError {
        match self {
            ClientError::InvalidArgument(err)
            | ClientError::NotStarted(err)
            | ClientError::AlreadyStarted(err)
            | ClientError::RunFinished(err)
            | ClientError::NoOpenTask(err)
            | ClientError::IllegalTransition(err) => err,
        }
    }
}

impl From<CoreError> for ClientError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::NotStarted { .. } => ClientError::NotStarted(err),
            CoreError::AlreadyStarted { .. } => ClientError::AlreadyStarted(err),
            CoreError::RunFinished { .. } => ClientError::RunFinished(err),
            CoreError::NoOpenTask => ClientError::NoOpenTask(err),
            CoreError::IllegalTransition { .. } => ClientError::IllegalTransition(err),
            _ => ClientError::InvalidArgument(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_one_kind_each_and_keep_their_message() {
        let cases = [
            (CoreError::Empty { field: "task name" }, "invalid_argument"),
            (CoreError::NotStarted { action: "gexit" }, "not_started"),
            (CoreError::AlreadyStarted { run_id: "x".into() }, "already_started"),
            (CoreError::NoOpenTask, "no_open_task"),
            (CoreError::ProgressBeyondTotal { done: 2, total: 1 }, "invalid_argument"),
        ];
        for (core, kind) in cases {
            let message = core.to_string();
            let err = ClientError::from(core.clone());
            assert_eq!(err.kind(), kind);
            assert_eq!(err.to_string(), message);
            assert_eq!(err.core(), &core);
        }
    }
}
