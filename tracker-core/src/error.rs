//! The one error type of the status model: every message says what is wrong and what to do.

use crate::status::RunStatus;

/// Why a call or an event was refused by the status model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A required text field was empty or only whitespace.
    #[error("{field} is empty: give a non-empty {field}")]
    Empty {
        /// Which field.
        field: &'static str,
    },
    /// A text field was longer than its limit.
    #[error("{field} is {len} characters long, over the limit of {max}: shorten it")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text field held a control character (other than tab/newline where allowed).
    #[error("{field} contains the control character U+{code:04X} at position {position}: remove it")]
    ControlCharacter {
        /// Which field.
        field: &'static str,
        /// The code point.
        code: u32,
        /// Its character position.
        position: usize,
    },
    /// Bytes that are not UTF-8 were given as text.
    #[error("{field} is not valid UTF-8 (bad byte at offset {offset}): convert it to UTF-8 first")]
    NotUtf8 {
        /// Which field.
        field: &'static str,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A counter was negative.
    #[error("{field} is {value}, but it cannot be negative")]
    Negative {
        /// Which counter.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// A counter was larger than the store can hold.
    #[error("{field} is {value}, over the limit of {max}")]
    CounterTooLarge {
        /// Which counter.
        field: &'static str,
        /// The value given.
        value: i64,
        /// The limit.
        max: i64,
    },
    /// Progress said more was done than the total.
    #[error("progress done ({done}) is greater than its total ({total}): pass done <= total")]
    ProgressBeyondTotal {
        /// Done.
        done: u64,
        /// Total.
        total: u64,
    },
    /// The total number of tasks was set below the number already done.
    #[error(
        "total tasks ({total}) is less than the {done} tasks already done: pass a total of at least {done}"
    )]
    TotalBelowDone {
        /// The total requested.
        total: u32,
        /// Tasks already done.
        done: u32,
    },
    /// A status change that the lifecycle does not allow.
    #[error("a run cannot go from {from} to {to}")]
    IllegalTransition {
        /// Current status.
        from: RunStatus,
        /// Requested status.
        to: RunStatus,
    },
    /// A call that needs an open run came after the run finished.
    #[error(
        "the run already finished as {status}: {action} is not possible any more (start a new run with track_init)"
    )]
    RunFinished {
        /// Final status.
        status: RunStatus,
        /// What was attempted.
        action: &'static str,
    },
    /// A call that needs a started run came before the run started.
    #[error("no run has been started: call track_init first ({action})")]
    NotStarted {
        /// What was attempted.
        action: &'static str,
    },
    /// track_init was called twice.
    #[error(
        "a run is already open in this process (run {run_id}): finish it with track_finish before starting another"
    )]
    AlreadyStarted {
        /// The open run.
        run_id: String,
    },
    /// gexit without a matching genter.
    #[error("gexit was called but no task is open: every gexit needs a genter before it")]
    NoOpenTask,
    /// The status string is not one of the known statuses.
    #[error("unknown run status {value:?}: expected one of running, completed, failed, cancelled, lost")]
    UnknownStatus {
        /// What was given.
        value: String,
    },
    /// The text is not a UUID.
    #[error("{value:?} is not a valid run id: expected a UUID such as 0192f0c4-8f1e-7c3a-9d55-2b6f3c1e4a10")]
    InvalidRunId {
        /// What was given.
        value: String,
    },
    /// Sequence numbers must increase within a stream.
    #[error("event sequence {got} is not after {last} in stream {stream}: events must be appended in order")]
    OutOfOrder {
        /// Stream.
        stream: i64,
        /// Last seq seen.
        last: u64,
        /// Seq received.
        got: u64,
    },
    /// An event was applied to a projection of a different run.
    #[error("event of run {event_run} applied to run {run}")]
    WrongRun {
        /// The projection's run.
        run: String,
        /// The event's run.
        event_run: String,
    },
    /// A category rule was malformed.
    #[error("category prefix {prefix:?} is invalid: prefixes are non-empty and labels are non-empty")]
    InvalidCategoryRule {
        /// The offending prefix.
        prefix: String,
    },
}
