//! Run statuses and the transitions between them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// The lifecycle of a run.
///
/// ```text
/// running ──> completed | failed | cancelled | lost
/// lost    ──> completed | failed | cancelled   (a late finish from a process thought gone)
/// lost    ──> running                          (the process reported again: it was not gone)
/// ```
///
/// `stalled` is not a stored status: it is computed by readers for a running run
/// that is alive but has made no progress for much longer than usual.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The script is executing and reporting.
    Running,
    /// The script finished normally.
    Completed,
    /// The script reported an error or exited with a non-zero status.
    Failed,
    /// The script was interrupted (Ctrl-C) or killed by a signal.
    Cancelled,
    /// The script stopped reporting and its process is gone (no heartbeat).
    Lost,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 5] =
        [RunStatus::Running, RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled, RunStatus::Lost];

    /// The name used in the store, the CLI and the APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Lost => "lost",
        }
    }

    /// Whether the run is open (only `running`). A `lost` run is not open, but it
    /// is not final either: a process that reports again makes it `running`, and a
    /// late finish closes it (see [`RunStatus::can_become`]).
    pub fn is_open(self) -> bool {
        self == RunStatus::Running
    }

    /// Whether `self -> to` is a legal transition.
    pub fn can_become(self, to: RunStatus) -> bool {
        use RunStatus::{Cancelled, Completed, Failed, Lost, Running};
        matches!(
            (self, to),
            (Running, Completed | Failed | Cancelled | Lost)
                | (Lost, Running | Completed | Failed | Cancelled)
        )
    }

    /// Checks `self -> to`, returning the new status or a typed error.
    pub fn transition(self, to: RunStatus) -> Result<RunStatus, CoreError> {
        if self.can_become(to) { Ok(to) } else { Err(CoreError::IllegalTransition { from: self, to }) }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| CoreError::UnknownStatus { value: s.chars().take(40).collect() })
    }
}

/// The state of one task (a `genter` .. `gexit` span).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Entered, not yet exited.
    Running,
    /// Exited normally.
    Completed,
    /// Exited because of an error (or the run failed while it was open).
    Failed,
}

impl TaskStatus {
    /// The name used in the store and the APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "running" => Ok(TaskStatus::Running),
            "completed" => Ok(TaskStatus::Completed),
            "failed" => Ok(TaskStatus::Failed),
            other => Err(CoreError::UnknownStatus { value: other.chars().take(40).collect() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_transitions_are_exactly_the_documented_ones() {
        #[allow(clippy::enum_glob_use)]
        use RunStatus::*;
        let legal: Vec<(RunStatus, RunStatus)> = RunStatus::ALL
            .into_iter()
            .flat_map(|from| RunStatus::ALL.into_iter().map(move |to| (from, to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            legal,
            vec![
                (Running, Completed),
                (Running, Failed),
                (Running, Cancelled),
                (Running, Lost),
                (Lost, Running),
                (Lost, Completed),
                (Lost, Failed),
                (Lost, Cancelled),
            ]
        );
    }

    #[test]
    fn illegal_transition_is_an_error_naming_both_ends() {
        let err = RunStatus::Completed.transition(RunStatus::Running).unwrap_err();
        assert_eq!(err.to_string(), "a run cannot go from completed to running");
    }

    #[test]
    fn statuses_parse_case_insensitively_and_reject_unknown() {
        assert_eq!("Failed".parse::<RunStatus>().unwrap(), RunStatus::Failed);
        let err = "stalled".parse::<RunStatus>().unwrap_err();
        assert!(err.to_string().contains("expected one of running"), "{err}");
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>().unwrap(), status);
        }
    }
}
