//! The background writer: one thread per tracker that drains the queue, writes
//! batches through tracker-db, heartbeats and samples the open run, and keeps
//! the disk spool (writing to it while the store is unreachable, replaying it
//! in order once the store is back, replaying segments left by dead processes).
//!
//! Ordering rule: once any of this process's events are in the spool, later
//! events go to the spool too until it has been replayed, so every stream
//! reaches the store in sequence order.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use serde::Serialize;
use tracker_core::Event;
use tracker_db::config::Source;
use tracker_db::{DbError, Store, StoreConfig};

use crate::coalesce::coalesce;
use crate::config::{ClientConfig, StoreSetting};
use crate::tracker::{Inner, Shared, Tracker};

/// What the control channel carries (events travel in the tracker state's
/// queue, see `QueueSink`).
pub(crate) enum Msg {
    /// Write everything queued before this message, then answer.
    Flush {
        ack: Sender<FlushReport>,
        deadline: Instant,
        /// The writer stops after answering (process exit).
        last: bool,
    },
}

/// What a flush achieved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    /// Everything recorded before the flush is in the store.
    pub complete: bool,
    /// Events of this process left in the spool (replayed later, by this or
    /// another process, or by `pipetrack spool replay`).
    pub spooled: usize,
    /// The writer did not answer in time (its events are still queued or spooled).
    pub timed_out: bool,
}

const FIRST_RETRY: Duration = Duration::from_millis(250);

pub(crate) fn spawn(
    rx: Receiver<Msg>,
    tracker: Weak<Inner>,
    shared: Arc<Shared>,
    config: ClientConfig,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("pipetrack-writer".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(err) => {
                crate::warn::warn(&format!("cannot start the tracking writer ({err}): events are spooled"));
                writer_gone(&tracker, &shared);
                return;
            }
        };
        let now = Instant::now();
        let writer = Writer {
            next_heartbeat: now + config.heartbeat_interval,
            next_sample: config.sample_interval.map(|_| now),
            next_scan: now,
            rx,
            tracker,
            shared,
            config,
            runtime,
            store: None,
            next_attempt: now,
            delay: FIRST_RETRY,
            outage_warned: false,
            deadline: None,
            stash: Vec::new(),
            spare: Vec::new(),
        };
        let (tracker, shared) = (writer.tracker.clone(), writer.shared.clone());
        writer.run();
        writer_gone(&tracker, &shared);
    })
}

/// The writer stopped: later calls go to the spool, and so does anything still queued.
fn writer_gone(tracker: &Weak<Inner>, shared: &Shared) {
    shared.spilling.store(true, Ordering::Release);
    if let Some(inner) = tracker.upgrade() {
        let mut queued = Vec::new();
        crate::tracker::take_queued(inner.state(), &mut queued);
        let mut spool = crate::tracker::lock(&shared.spool);
        shared.write_spool(&mut spool, &queued, true);
    }
}

struct Writer {
    rx: Receiver<Msg>,
    tracker: Weak<Inner>,
    shared: Arc<Shared>,
    config: ClientConfig,
    runtime: tokio::runtime::Runtime,
    store: Option<Store>,
    /// No store operation before this instant (backoff after a failure).
    next_attempt: Instant,
    delay: Duration,
    outage_warned: bool,
    next_heartbeat: Instant,
    next_sample: Option<Instant>,
    next_scan: Instant,
    /// The deadline of the flush being served: store operations must end by then.
    deadline: Option<Instant>,
    /// Flush requests met while draining the queue, served next.
    stash: Vec<Msg>,
    /// An empty vector swapped in for the queue's when it is drained.
    spare: Vec<Event>,
}

enum Next {
    Continue,
    Stop,
}

impl Writer {
    fn run(mut self) {
        loop {
            if self.stash.is_empty() && self.rx.is_empty() {
                // Callers never wake the writer (a wake-up is a syscall on their
                // thread): it polls the queue every flush interval, and is woken
                // only by a flush request or a queue more than half full.
                let wait = self.next_tick().saturating_duration_since(Instant::now());
                std::thread::park_timeout(wait.min(self.config.flush_interval));
            }
            let mut queued = Vec::new();
            let disconnected = self.drain_now(&mut queued);
            let batch_size = self.config.batch_size;
            let mut events = queued.drain(..).peekable();
            while events.peek().is_some() {
                self.write(events.by_ref().take(batch_size).collect());
            }
            drop(events);
            // Its allocation goes back to the queue at the next drain.
            self.spare = queued;
            for msg in std::mem::take(&mut self.stash) {
                if let Msg::Flush { ack, deadline, last } = msg
                    && let Next::Stop = self.serve_flush(&ack, deadline, last)
                {
                    return;
                }
            }
            if disconnected {
                // Every tracker handle is gone: a last bounded flush.
                let deadline = Instant::now() + self.config.exit_flush_timeout;
                self.finish_up(deadline, true);
                return;
            }
            self.ticks();
        }
    }

    fn next_tick(&self) -> Instant {
        let mut next = self.next_heartbeat.min(self.next_scan);
        if let Some(sample) = self.next_sample {
            next = next.min(sample);
        }
        if self.spool_pending() {
            next = next.min(self.next_attempt.max(Instant::now() + Duration::from_millis(50)));
        }
        next
    }

    /// Takes what is queued right now, flush requests first so that every
    /// event recorded before a request is among those taken. Returns whether
    /// every tracker handle is gone.
    fn drain_now(&mut self, into: &mut Vec<Event>) -> bool {
        let disconnected = loop {
            match self.rx.try_recv() {
                Ok(flush) => self.stash.push(flush),
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        if let Some(inner) = self.tracker.upgrade() {
            crate::tracker::take_queued(inner.state(), &mut self.spare);
            if into.is_empty() {
                std::mem::swap(into, &mut self.spare);
            } else {
                into.append(&mut self.spare);
            }
        }
        disconnected
    }

    fn spool_pending(&self) -> bool {
        if self.shared.spilling.load(Ordering::Acquire) {
            return true;
        }
        let spool = crate::tracker::lock(&self.shared.spool);
        spool.current.is_some() || !spool.sealed.is_empty()
    }

    fn spooled_records(&self) -> usize {
        let spool = crate::tracker::lock(&self.shared.spool);
        spool.current.as_ref().map_or(0, crate::spool::Segment::records)
            + spool.sealed.iter().map(crate::spool::Segment::records).sum::<usize>()
    }

    fn write(&mut self, batch: Vec<Event>) {
        let batch = coalesce(batch);
        if batch.is_empty() {
            return;
        }
        if !self.spool_pending() && self.store_ready() {
            match self.store_op(|store, events| async move { store.append(events).await.map(|_| ()) }, &batch)
            {
                Ok(()) => {
                    self.on_success();
                    return;
                }
                Err(err) => self.on_failure(&err),
            }
        }
        let mut spool = crate::tracker::lock(&self.shared.spool);
        self.shared.write_spool(&mut spool, &batch, true);
    }

    /// Runs one store operation under the operation timeout (shortened to the
    /// flush deadline, if one is being served).
    fn store_op<F, Fut>(&mut self, op: F, events: &[Event]) -> Result<(), DbError>
    where
        F: FnOnce(Store, Vec<Event>) -> Fut,
        Fut: std::future::Future<Output = Result<(), DbError>>,
    {
        let Some(store) = self.store.clone() else {
            return Err(DbError::Pool("the store is not open".into()));
        };
        let timeout = self.op_timeout();
        let future = op(store, events.to_vec());
        match self.runtime.block_on(async { tokio::time::timeout(timeout, future).await }) {
            Ok(result) => result,
            Err(_) => Err(DbError::Pool(format!("no answer within {} ms", timeout.as_millis()))),
        }
    }

    fn op_timeout(&self) -> Duration {
        let timeout = self.config.store_timeout;
        match self.deadline {
            Some(deadline) => timeout.min(deadline.saturating_duration_since(Instant::now())),
            None => timeout,
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Whether a store is open and may be used now (opening it if due).
    fn store_ready(&mut self) -> bool {
        if self.past_deadline() || Instant::now() < self.next_attempt {
            return false;
        }
        if self.store.is_some() {
            return true;
        }
        let config = match &self.config.store {
            StoreSetting::Given(config) => config.clone(),
            StoreSetting::FromEnv => match StoreConfig::from_env() {
                Ok(config) => config,
                Err(err) => {
                    self.on_failure(&DbError::Config(err));
                    return false;
                }
            },
        };
        let timeout = self.op_timeout();
        let opened = self.runtime.block_on(async {
            tokio::time::timeout(timeout, async {
                let store = Store::open(&config).await?;
                // Zero set-up for the embedded default; a configured store is migrated by its admin.
                if config.source() == Source::Default {
                    store.migrate().await?;
                }
                store.ensure_current().await?;
                if store.backend() == tracker_db::Backend::Sqlite {
                    // The writer only appends: a small page cache is enough, and
                    // it is memory in the user's script (SQLite's default is 2 MiB).
                    store.execute("PRAGMA cache_size = -512", Vec::new()).await?;
                }
                Ok::<Store, DbError>(store)
            })
            .await
        });
        match opened {
            Ok(Ok(store)) => {
                self.store = Some(store);
                true
            }
            Ok(Err(err)) => {
                self.on_failure(&err);
                false
            }
            Err(_) => {
                self.on_failure(&DbError::Pool(format!(
                    "opening {} took longer than {} ms",
                    config.describe(),
                    timeout.as_millis()
                )));
                false
            }
        }
    }

    fn on_success(&mut self) {
        self.delay = FIRST_RETRY;
        self.outage_warned = false;
    }

    fn on_failure(&mut self, err: &DbError) {
        if !self.outage_warned {
            self.outage_warned = true;
            crate::warn::warn(&format!(
                "cannot write tracking events to the store: {err}. They are kept in the spool ({}) and written when the store is back",
                self.shared.spool_dir.display()
            ));
        }
        if !err.is_transient() {
            // Configuration, schema or access problems: reopen from scratch next time.
            self.store = None;
        }
        self.next_attempt = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(self.config.retry_max);
    }

    /// Replays this process's spool, oldest segment first. Returns whether it is empty.
    fn replay_own(&mut self) -> bool {
        loop {
            if !self.spool_pending() {
                return true;
            }
            if !self.store_ready() {
                return false;
            }
            let shared = self.shared.clone();
            // Nothing older than the spool may stay queued once its segment is
            // sealed. (Taken before the spool lock: callers lock the tracker
            // state, then the spool.)
            let mut queued = Vec::new();
            let _ = self.drain_now(&mut queued);
            let path = {
                let mut spool = crate::tracker::lock(&shared.spool);
                shared.write_spool(&mut spool, &queued, true);
                if let Some(segment) = spool.current.take() {
                    spool.sealed.push_back(segment);
                }
                let Some(segment) = spool.sealed.front() else {
                    self.shared.spilling.store(false, Ordering::Release);
                    return true;
                };
                segment.path().to_path_buf()
            };
            let batch_size = self.config.batch_size;
            let timeout = self.op_timeout();
            let Some(store) = self.store.clone() else { return false };
            let result = self.runtime.block_on(async {
                tokio::time::timeout(timeout, crate::spool::replay_file(&store, &path, batch_size)).await
            });
            match result {
                Ok(Ok(_)) => {
                    self.on_success();
                    crate::tracker::lock(&self.shared.spool).sealed.pop_front();
                }
                Ok(Err(err)) => {
                    self.on_failure(&err);
                    return false;
                }
                Err(_) => {
                    self.on_failure(&DbError::Pool(format!(
                        "spool replay took longer than {} ms",
                        timeout.as_millis()
                    )));
                    return false;
                }
            }
        }
    }

    /// Replays segments of processes that are gone (forked children, killed scripts).
    fn replay_others(&mut self) {
        if !self.store_ready() {
            return;
        }
        let own: Vec<std::path::PathBuf> = {
            let spool = crate::tracker::lock(&self.shared.spool);
            spool.current.iter().chain(spool.sealed.iter()).map(|s| s.path().to_path_buf()).collect()
        };
        let mut report = crate::spool::ReplayReport::default();
        let Ok(ready) = crate::spool::ready_segments(&self.shared.spool_dir, &own, &mut report) else {
            return;
        };
        for group in crate::spool::group_segments(ready, self.config.batch_size) {
            if !self.store_ready() {
                return;
            }
            let paths: Vec<std::path::PathBuf> = group.iter().map(|(path, _)| path.clone()).collect();
            let Some(store) = self.store.clone() else { return };
            let batch_size = self.config.batch_size;
            let timeout = self.op_timeout();
            let result = self.runtime.block_on(async {
                tokio::time::timeout(timeout, crate::spool::replay_group(&store, &paths, batch_size)).await
            });
            drop(group);
            match result {
                Ok(Ok(_)) => self.on_success(),
                Ok(Err(err)) => return self.on_failure(&err),
                Err(_) => {
                    return self.on_failure(&DbError::Pool(format!(
                        "replaying {} spool segments took longer than {} ms",
                        paths.len(),
                        timeout.as_millis()
                    )));
                }
            }
        }
    }

    fn ticks(&mut self) {
        let now = Instant::now();
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat_interval;
            if let Some(inner) = self.tracker.upgrade() {
                Tracker::emit_from_writer(&inner, tracker_core::Session::heartbeat);
            }
        }
        if let (Some(next), Some(interval)) = (self.next_sample, self.config.sample_interval)
            && now >= next
        {
            self.next_sample = Some(now + interval);
            if let (Some(inner), Some(sample)) = (self.tracker.upgrade(), crate::resources::sample_self()) {
                Tracker::emit_from_writer(&inner, |session, at| session.sample(sample, at));
            }
        }
        if self.spool_pending() && now >= self.next_attempt {
            self.replay_own();
        }
        if now >= self.next_scan {
            self.next_scan = now + self.config.heartbeat_interval;
            self.replay_others();
        }
    }

    fn serve_flush(&mut self, ack: &Sender<FlushReport>, deadline: Instant, last: bool) -> Next {
        let report = self.finish_up(deadline, last);
        let _ = ack.send(report);
        if last { Next::Stop } else { Next::Continue }
    }

    /// Writes everything queued, replays the spool if the store takes it, all by
    /// `deadline`; what is left goes to (and stays in) the spool.
    fn finish_up(&mut self, deadline: Instant, last: bool) -> FlushReport {
        self.deadline = Some(deadline);
        // A flush is an explicit request: try the store now, even during a backoff.
        self.next_attempt = Instant::now();
        loop {
            let mut batch = Vec::new();
            let _ = self.drain_now(&mut batch);
            if batch.is_empty() {
                break;
            }
            for chunk in batch.chunks(self.config.batch_size) {
                self.write(chunk.to_vec());
            }
        }
        if self.spool_pending() {
            self.next_attempt = Instant::now();
            self.replay_own();
        }
        if last {
            // Forked children have exited by now: their segments are ready.
            self.replay_others();
        }
        let complete = !self.spool_pending();
        self.deadline = None;
        FlushReport { complete, spooled: self.spooled_records(), timed_out: false }
    }
}
