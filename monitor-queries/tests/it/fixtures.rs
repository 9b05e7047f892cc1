//! Runs built through tracker-core sessions, at times the test chooses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use monitor_queries::{ManualClock, Monitor, MonitorConfig};
use tracker_core::{
    ErrorInfo, Event, ResourceSample, RunEnd, RunId, RunMeta, RunStatus, Session, TaskStatus,
};
use tracker_db::Store;

/// 2026-03-01 06:00:00 UTC: time zero of every fixture.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap()
}

pub(crate) fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A run id ordered by start time, unique within the test binary.
pub(crate) fn run_id(start: DateTime<Utc>) -> RunId {
    let n = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    RunId::from_parts(start.timestamp_millis() as u64, [0, 0, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]])
}

/// How a fixture run ends.
#[derive(Clone, Debug)]
pub(crate) enum End {
    /// Still running; the last event (a heartbeat) at this many seconds after the start.
    Running {
        heartbeat_after: i64,
    },
    Completed,
    Failed {
        class: &'static str,
        message: String,
    },
    Cancelled,
}

/// One run: `tasks` top-level tasks spread evenly over `duration` seconds, a
/// message in each, then the end.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) script: String,
    pub(crate) start: DateTime<Utc>,
    pub(crate) duration: i64,
    pub(crate) tasks: u32,
    pub(crate) end: End,
    pub(crate) message: Option<String>,
}

impl Spec {
    pub(crate) fn new(script: &str, start: DateTime<Utc>, duration: i64, end: End) -> Self {
        Spec { script: script.to_owned(), start, duration, tasks: 2, end, message: None }
    }

    pub(crate) fn message(mut self, message: &str) -> Self {
        self.message = Some(message.to_owned());
        self
    }

    pub(crate) fn events(&self) -> (RunId, Vec<Event>) {
        let id = run_id(self.start);
        let meta = RunMeta {
            script_name: self.script.clone(),
            total_tasks: Some(self.tasks.max(1)),
            host: Some("etl-01".into()),
            language: Some("R".into()),
            ..RunMeta::default()
        };
        let (mut session, first) = Session::start(id, meta, self.start).unwrap();
        let mut events = vec![first];
        let step = self.duration / i64::from(self.tasks.max(1) + 1);
        let running = matches!(self.end, End::Running { .. });
        for i in 0..self.tasks {
            let entered = self.start + Duration::seconds(step * i64::from(i) + 1);
            events.push(session.enter_task(&format!("Task {i}"), entered).unwrap());
            let text = self.message.clone().unwrap_or_else(|| format!("working on {i}"));
            events.push(session.message(&text, entered).unwrap());
            // A running run keeps its last task open.
            if !(running && i + 1 == self.tasks) {
                events
                    .push(session.exit_task(TaskStatus::Completed, entered + Duration::seconds(1)).unwrap());
            }
        }
        let end_at = self.start + Duration::seconds(self.duration);
        let finish = |status, error| RunEnd {
            status,
            exit_code: Some(i32::from(status != RunStatus::Completed)),
            signal: None,
            error,
        };
        match &self.end {
            End::Running { heartbeat_after } => {
                events.push(session.heartbeat(self.start + Duration::seconds(*heartbeat_after)).unwrap());
            }
            End::Completed => {
                events.extend(session.finish(finish(RunStatus::Completed, None), end_at).unwrap());
            }
            End::Cancelled => {
                events.extend(session.finish(finish(RunStatus::Cancelled, None), end_at).unwrap());
            }
            End::Failed { class, message } => {
                events.push(
                    session
                        .sample(
                            ResourceSample {
                                rss_bytes: 500_000_000,
                                peak_rss_bytes: 800_000_000,
                                cpu_seconds: 12.5,
                                read_bytes: 1_000,
                                write_bytes: 2_000,
                            },
                            end_at,
                        )
                        .unwrap(),
                );
                let error = ErrorInfo {
                    message: message.clone(),
                    class: Some((*class).to_owned()),
                    traceback: Some("1: source(\"x.R\")\n2: stop(e)".into()),
                };
                events.extend(session.fail(error, Some(1), end_at).unwrap());
            }
        }
        (id, events)
    }
}

pub(crate) async fn add(store: &Store, spec: Spec) -> RunId {
    let (id, events) = spec.events();
    let outcome = store.append(events).await.unwrap();
    assert!(outcome.conflicts.is_empty(), "{:?}", outcome.conflicts);
    id
}

/// A monitor without cache (so every call reads the store) on a manual clock.
pub(crate) fn monitor(store: &Store, now: DateTime<Utc>) -> (Monitor, ManualClock) {
    let config = MonitorConfig { cache_ttl: Duration::zero(), ..MonitorConfig::default() };
    monitor_with(store, now, config)
}

pub(crate) fn monitor_with(
    store: &Store,
    now: DateTime<Utc>,
    config: MonitorConfig,
) -> (Monitor, ManualClock) {
    let clock = ManualClock::new(now);
    (Monitor::new(store.clone(), config).with_clock(Arc::new(clock.clone())), clock)
}

pub(crate) fn failed(class: &'static str, message: &str) -> End {
    End::Failed { class, message: message.to_owned() }
}
