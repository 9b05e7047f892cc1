//! Identifiers: a run is a UUID, a stream is one writer (process) inside a run,
//! a task is a UUID derived from its run, stream and number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::CoreError;

/// Identifies one execution of one script. Time-ordered (UUID v7) when created by
/// [`RunId::from_parts`] so that ids sort roughly by start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub Uuid);

impl RunId {
    /// Builds a run id from a Unix time in milliseconds and 10 random bytes
    /// (the caller supplies randomness: this crate does no I/O).
    pub fn from_parts(unix_millis: u64, random: [u8; 10]) -> Self {
        Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, &random).into_uuid())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RunId {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim())
            .map(RunId)
            .map_err(|_| CoreError::InvalidRunId { value: s.chars().take(80).collect() })
    }
}

/// Identifies one task of one run: the name-based UUID (version 5) of the
/// task's key, with the run id as namespace and `"<stream>/<task number>"` as
/// name. Derived, not stored: every process computes the same id for the same
/// task without coordination, the store keys tasks by `(run_id, stream,
/// task_number)`, and a task id can be recomputed anywhere (in Postgres:
/// `uuid_generate_v5(run_id, stream || '/' || task_number)` with `uuid-ossp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub Uuid);

impl TaskId {
    /// The id of task `task_number` of `stream` in `run_id`.
    pub fn new(run_id: RunId, stream: StreamId, task_number: u32) -> Self {
        let name = format!("{}/{}", stream.get(), task_number);
        Self(Uuid::new_v5(&run_id.0, name.as_bytes()))
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One writer within a run. The process that started the run writes stream 0;
/// every forked child or joining process writes its own stream, so sequence
/// numbers never collide and need no coordination between processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(i64);

impl StreamId {
    /// The stream of the process that started the run.
    pub const MAIN: StreamId = StreamId(0);
    /// The stream used by monitors that close runs from outside (lost detection).
    pub const MONITOR: StreamId = StreamId(-1);

    /// A stream for a forked or joining process, from 8 random bytes. Never 0 or
    /// negative (those are reserved), 63 bits of randomness minus one value.
    pub fn from_random(random: [u8; 8]) -> Self {
        let value = i64::from_le_bytes(random) & i64::MAX;
        Self(if value == 0 { 1 } else { value })
    }

    /// Rebuilds a stream id read back from the store.
    pub fn from_stored(value: i64) -> Self {
        Self(value)
    }

    /// The value as stored.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time() {
        let early = RunId::from_parts(1_000, [9; 10]);
        let late = RunId::from_parts(2_000, [0; 10]);
        assert!(early < late);
        assert_eq!(early.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn run_id_parse_error_names_the_value() {
        let err = "not-a-uuid".parse::<RunId>().unwrap_err();
        assert!(err.to_string().contains("not-a-uuid"), "{err}");
    }

    #[test]
    fn task_ids_are_stable_uuids_distinct_per_run_stream_and_number() {
        let run = RunId::from_parts(1_700_000_000_000, [7; 10]);
        let other_run = RunId::from_parts(1_700_000_000_000, [8; 10]);
        let id = TaskId::new(run, StreamId::MAIN, 1);
        assert_eq!(id, TaskId::new(run, StreamId::MAIN, 1), "derived, so every process agrees");
        assert_eq!(id.as_uuid().get_version_num(), 5);
        assert_eq!(id.to_string(), Uuid::new_v5(&run.0, b"0/1").to_string());
        let others = [
            TaskId::new(run, StreamId::MAIN, 2),
            TaskId::new(run, StreamId::from_random([3; 8]), 1),
            TaskId::new(other_run, StreamId::MAIN, 1),
        ];
        assert!(others.iter().all(|other| *other != id));
        // The value Postgres computes: uuid_generate_v5(run_id, stream || '/' || task_number).
        let run = RunId("0190f5d2-0000-7000-8000-000000000000".parse().unwrap());
        assert_eq!(TaskId::new(run, StreamId::MAIN, 1).to_string(), "75a0c1c9-07e3-505a-a1ef-260823e71cb1");
    }

    #[test]
    fn random_streams_are_positive() {
        assert_eq!(StreamId::from_random([0; 8]).get(), 1);
        assert!(StreamId::from_random([0xff; 8]).get() > 0);
    }
}
