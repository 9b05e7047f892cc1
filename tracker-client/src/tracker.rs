//! [`Tracker`]: one tracking session of one process, the state machine behind
//! the API, and the hand-off of its events.
//!
//! Cost on the caller's thread: check the fork generation (an atomic load),
//! lock the state (uncontended), ask the [`Session`] for a validated event, and
//! `try_send` it on a bounded queue. No I/O, no waiting. When the queue is full
//! the event (and every later one, until the writer has caught up) is appended
//! to the disk spool instead: slower, but never blocked and never lost.
//!
//! After a `fork()`, the child's tracker notices the new fork generation on its
//! next call and switches to a stream of its own that writes each event
//! synchronously to its own spool segment; it never touches the parent's queue,
//! writer thread or spool (not even to drop them). The parent's writer, or any
//! later process, replays those segments once the child is gone.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossbeam_channel::Sender;
use tracker_core::validate;
use tracker_core::{
    CoreError, ErrorInfo, Event, ResourceSample, RunEnd, RunId, RunMeta, RunStatus, Session, StatusUpdate,
    StreamId, TaskStatus,
};
use uuid::Uuid;

use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::spool::Segment;
use crate::writer::{self, FlushReport, Msg};
use crate::{meta, sys};

/// What `track_init` records about a run; everything is optional and detected
/// when left empty.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// Script name (default: the file name of the script path).
    pub script_name: Option<String>,
    /// Script path (default: detected from the command line).
    pub script_path: Option<String>,
    /// Category (default: from the script name's prefix, e.g. `DAILY`).
    pub category: Option<String>,
    /// Expected number of top-level tasks.
    pub total_tasks: Option<i64>,
    /// Language of the script (default `rust`; bindings pass `R` / `python`).
    pub language: Option<String>,
    /// Version of the language runtime.
    pub language_version: Option<String>,
    /// Where the script's log goes (default: `PIPETRACK_LOG_PATH`).
    pub log_path: Option<String>,
    /// The command line, when it is worth recording.
    pub command: Option<String>,
    /// Join this existing run (default: `PIPETRACK_RUN_ID`, set by `pipetrack run`).
    pub join_run: Option<RunId>,
    /// Pipeline run to group with (default: `PIPETRACK_PIPELINE_RUN_ID`).
    pub pipeline_run_id: Option<Uuid>,
    /// The run that launched this one.
    pub parent_run_id: Option<RunId>,
    /// Do not record the (redacted) environment.
    pub skip_env: bool,
    /// Do not run `git` to record the repository state.
    pub skip_git: bool,
    /// Start a new run even when `PIPETRACK_RUN_ID` is set.
    pub no_join: bool,
}

/// A partial update of the run's live fields (`track_status`); `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusFields {
    /// Progress message.
    pub message: Option<String>,
    /// Current-task label, without entering a task.
    pub current_task: Option<String>,
    /// Sub-progress `(done, total)` of the current task.
    pub progress: Option<(i64, i64)>,
    /// New expected number of top-level tasks.
    pub total_tasks: Option<i64>,
}

/// How the process ends, for the run still open at exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// Exit status: 0 finishes the run as completed, anything else as failed.
    Code(i32),
    /// Killed or interrupted by this signal: cancelled.
    Signal(i32),
    /// Not known (an `atexit` hook, a dropped tracker): completed, unless a panic was seen.
    Unknown,
}

pub(crate) struct SpoolState {
    /// The segment being written.
    pub(crate) current: Option<Segment>,
    /// Segments closed for replay, oldest first (kept open: their lock says "in use").
    pub(crate) sealed: VecDeque<Segment>,
}

/// State shared by callers and the writer for the disk spool.
pub(crate) struct Shared {
    /// Calls write to the spool instead of the queue (the queue overflowed).
    pub(crate) spilling: AtomicBool,
    pub(crate) spool: Mutex<SpoolState>,
    pub(crate) spool_dir: PathBuf,
    spool_failed: AtomicBool,
    /// The writer thread, to wake it for a flush or a filling queue.
    pub(crate) writer_thread: std::sync::OnceLock<std::thread::Thread>,
}

impl Shared {
    /// Appends events to the current segment (creating it), optionally fsynced.
    pub(crate) fn write_spool(&self, spool: &mut SpoolState, events: &[Event], sync: bool) {
        if events.is_empty() {
            return;
        }
        let result = (|| {
            let segment = match &mut spool.current {
                Some(segment) => segment,
                None => spool.current.insert(Segment::create(&self.spool_dir)?),
            };
            segment.append(events)?;
            if sync { segment.sync() } else { Ok(()) }
        })();
        match result {
            Ok(()) => {
                self.spool_failed.store(false, Ordering::Relaxed);
            }
            Err(err) => {
                if !self.spool_failed.swap(true, Ordering::Relaxed) {
                    crate::warn::warn(&format!(
                        "cannot write the spool in {} ({err}): tracking events are being lost; \
                         set PIPETRACK_SPOOL_DIR to a writable directory",
                        self.spool_dir.display()
                    ));
                }
            }
        }
    }

    /// Wakes the writer (it otherwise polls the queue every flush interval).
    pub(crate) fn wake_writer(&self) {
        if let Some(thread) = self.writer_thread.get() {
            thread.unpark();
        }
    }

    fn spill(&self, event: Event) {
        let mut spool = lock(&self.spool);
        self.spilling.store(true, Ordering::Release);
        self.write_spool(&mut spool, &[event], false);
    }
}

/// Where a tracker's events go.
enum Sink {
    /// The background writer's queue.
    Queue(QueueSink),
    /// A forked child: straight to its own spool segment.
    Child(Box<ChildSink>),
}

/// The queue between the script's calls and the writer: a plain vector in the
/// tracker state, filled under the state lock the call holds anyway, and
/// swapped out whole by the writer each time it drains. A call touches no
/// memory the writer is using (a channel slot would: its cache line moves
/// between the cores on every push). The channel carries only flush requests.
pub(crate) struct QueueSink {
    control: Sender<Msg>,
    pending: Vec<Event>,
    capacity: usize,
}

struct ChildSink {
    dir: PathBuf,
    segment: Option<Segment>,
    /// Written before the child's first event so its events never precede the run.
    start: Option<Event>,
    failed: bool,
}

impl ChildSink {
    fn write(&mut self, event: Event) {
        let result = (|| {
            let segment = match &mut self.segment {
                Some(segment) => segment,
                None => self.segment.insert(Segment::create(&self.dir)?),
            };
            if let Some(start) = self.start.take() {
                segment.append(&[start, event])
            } else {
                segment.append(&[event])
            }
        })();
        if let Err(err) = result
            && !std::mem::replace(&mut self.failed, true)
        {
            crate::warn::warn(&format!(
                "forked process {} cannot write its spool segment in {} ({err}): its events are lost",
                std::process::id(),
                self.dir.display()
            ));
        }
    }
}

impl Sink {
    fn push(&mut self, event: Event, shared: &Shared) {
        match self {
            Sink::Queue(queue) => {
                // Spilling (the queue overflowed, or the writer is gone): the
                // spool, so that nothing overtakes what is already there.
                if shared.spilling.load(Ordering::Acquire) || queue.pending.len() >= queue.capacity {
                    shared.spill(event);
                    return;
                }
                queue.pending.push(event);
                // Half full: wake the writer early rather than let the queue overflow.
                if queue.pending.len() == queue.capacity.div_ceil(2) {
                    shared.wake_writer();
                }
            }
            Sink::Child(child) => child.write(event),
        }
    }
}

/// Takes the queued events (in call order), leaving `spare`'s allocation in
/// their place.
pub(crate) fn take_queued(state: &Mutex<State>, spare: &mut Vec<Event>) {
    spare.clear();
    if let Sink::Queue(queue) = &mut lock(state).sink {
        std::mem::swap(&mut queue.pending, spare);
    }
}

struct RunState {
    session: Session,
    /// Another process owns the run (joined via `PIPETRACK_RUN_ID`, or a forked
    /// child): this stream never finishes it.
    joined: bool,
    /// Tasks this stream has open (a forked child's count starts at 0).
    own_open: u32,
    /// A joined stream that finished locally, and how.
    closed: Option<RunStatus>,
}

pub(crate) struct State {
    run: Option<RunState>,
    sink: Sink,
    /// The inherited run id was used (only the first run of a process joins).
    inherited_used: bool,
}

pub(crate) struct Inner {
    config: ClientConfig,
    state: Arc<Mutex<State>>,
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    generation: AtomicU64,
    is_child: AtomicBool,
    shut_down: AtomicBool,
    /// Set when the first `shutdown` has flushed: a later caller on another
    /// thread (the SIGTERM flush, while a worker's normal exit is flushing)
    /// waits for it rather than let the process die mid-flush.
    shutdown_finished: (Mutex<bool>, Condvar),
}

/// Locks a mutex, ignoring poisoning: tracking state stays usable after a
/// panic elsewhere. (std mutexes on purpose: unlocking one in a forked child is
/// one atomic store and at most a `futex` wake, with no global state that a
/// thread missing from the child could hold.)
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every live tracker's state, so the fork handler can hold them all across `fork()`.
static LIVE: Mutex<Vec<Weak<Mutex<State>>>> = Mutex::new(Vec::new());

/// The state of every live tracker (for the `prepare` fork handler).
pub(crate) fn live_states() -> Vec<Arc<Mutex<State>>> {
    let mut live = lock(&LIVE);
    live.retain(|weak| weak.strong_count() > 0);
    live.iter().filter_map(Weak::upgrade).collect()
}

/// A tracker: the tracking API as methods. The free functions of this crate use
/// one process-wide tracker; create your own for tests or to embed pipetrack.
///
/// Dropping a tracker finishes its open run (completed, or failed while
/// panicking) and flushes for at most the exit flush timeout.
pub struct Tracker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").field("run_id", &self.run_id()).finish_non_exhaustive()
    }
}

fn random_stream() -> StreamId {
    let bytes = Uuid::new_v4().into_bytes();
    StreamId::from_random([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]])
}

fn new_run_id() -> RunId {
    let millis = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    let bytes = Uuid::new_v4().into_bytes();
    let mut random = [0; 10];
    random.copy_from_slice(&bytes[..10]);
    RunId::from_parts(millis, random)
}

impl Inner {
    pub(crate) fn state(&self) -> &Mutex<State> {
        &self.state
    }
}

impl Tracker {
    /// A tracker with its background writer started. Nothing is written until a
    /// run starts.
    pub fn new(config: ClientConfig) -> Self {
        sys::register_fork_handlers();
        let (tx, rx) = crossbeam_channel::bounded(16);
        let shared = Arc::new(Shared {
            spilling: AtomicBool::new(false),
            spool: Mutex::new(SpoolState { current: None, sealed: VecDeque::new() }),
            spool_dir: config.spool_dir.clone(),
            spool_failed: AtomicBool::new(false),
            writer_thread: std::sync::OnceLock::new(),
        });
        let queue = QueueSink {
            control: tx,
            pending: Vec::with_capacity(config.queue_capacity.clamp(1, 1024)),
            capacity: config.queue_capacity.max(1),
        };
        let state =
            Arc::new(Mutex::new(State { run: None, sink: Sink::Queue(queue), inherited_used: false }));
        lock(&LIVE).push(Arc::downgrade(&state));
        let inner = Arc::new(Inner {
            config,
            state,
            shared,
            writer: Mutex::new(None),
            generation: AtomicU64::new(sys::fork_generation()),
            is_child: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            shutdown_finished: (Mutex::new(false), Condvar::new()),
        });
        match writer::spawn(rx, Arc::downgrade(&inner), inner.shared.clone(), inner.config.clone()) {
            Ok(handle) => {
                let _ = inner.shared.writer_thread.set(handle.thread().clone());
                *lock(&inner.writer) = Some(handle);
            }
            Err(err) => {
                inner.shared.spilling.store(true, Ordering::Release);
                crate::warn::warn(&format!(
                    "cannot start the tracking writer thread ({err}): events go to the spool in {}",
                    inner.config.spool_dir.display()
                ));
            }
        }
        Self { inner }
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    #[inline]
    fn check_fork(&self) {
        let generation = sys::fork_generation();
        if generation != self.inner.generation.load(Ordering::Relaxed) {
            self.become_child(generation);
        }
    }

    #[cold]
    fn become_child(&self, generation: u64) {
        let mut state = lock(&self.inner.state);
        if self.inner.generation.load(Ordering::Relaxed) == generation {
            return;
        }
        self.inner.generation.store(generation, Ordering::Relaxed);
        self.inner.is_child.store(true, Ordering::Relaxed);
        let mut child =
            ChildSink { dir: self.inner.config.spool_dir.clone(), segment: None, start: None, failed: false };
        if let Some(run) = state.run.as_mut()
            && run.session.status().is_open()
            && run.closed.is_none()
        {
            let forked = run.session.fork(random_stream());
            child.start = Some(forked.start_event().clone());
            run.session = forked;
            run.joined = true;
            run.own_open = 0;
        }
        let parent_sink = std::mem::replace(&mut state.sink, Sink::Child(Box::new(child)));
        // The parent's queue belongs to the parent: dropping it here could take a
        // lock held by a thread that does not exist in this process.
        std::mem::forget(parent_sink);
    }

    /// Whether this tracker runs in a forked child of the process that created it.
    pub fn is_forked_child(&self) -> bool {
        self.check_fork();
        self.inner.is_child.load(Ordering::Relaxed)
    }

    /// The run, once started.
    pub fn run_id(&self) -> Option<RunId> {
        lock(&self.inner.state).run.as_ref().map(|run| run.session.run_id())
    }

    /// The stream this process writes (0 for the process that started the run).
    pub fn stream(&self) -> Option<StreamId> {
        self.check_fork();
        lock(&self.inner.state).run.as_ref().map(|run| run.session.stream())
    }

    fn meta(&self, options: &InitOptions) -> Result<RunMeta, ClientError> {
        let total_tasks = options.total_tasks.map(validate::total_tasks).transpose()?;
        let script_path = options
            .script_path
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| if options.script_name.is_none() { meta::detect_script() } else { None });
        let script_path = script_path.map(|p| std::path::absolute(&p).unwrap_or(p));
        let script_name = options
            .script_name
            .clone()
            .or_else(|| script_path.as_ref()?.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".to_owned());
        let working_dir = std::env::current_dir().ok();
        let git = if options.skip_git {
            meta::GitState::default()
        } else {
            let dir =
                script_path.as_ref().and_then(|p| p.parent()).map(PathBuf::from).or(working_dir.clone());
            dir.map(|d| meta::git_state(&d)).unwrap_or_default()
        };
        let inherited = &self.inner.config.inherited;
        Ok(RunMeta {
            script_name,
            script_path: script_path.map(|p| p.display().to_string()),
            category: options.category.clone().unwrap_or_default(),
            total_tasks,
            host: meta::host_name(),
            pid: Some(std::process::id()),
            os_user: meta::os_user(),
            language: Some(options.language.clone().unwrap_or_else(|| "rust".to_owned())),
            language_version: options.language_version.clone(),
            git_commit: git.commit,
            git_branch: git.branch,
            git_dirty: git.dirty,
            working_dir: working_dir.map(|d| d.display().to_string()),
            log_path: options.log_path.clone().or_else(|| inherited.log_path.clone()),
            command: options.command.clone(),
            env: if options.skip_env { std::collections::BTreeMap::new() } else { meta::redacted_env() },
            pipeline_run_id: options.pipeline_run_id.or(inherited.pipeline_run_id),
            parent_run_id: options.parent_run_id,
        })
    }

    /// `track_init`: starts a run (or joins the one `PIPETRACK_RUN_ID` names)
    /// and returns its id. Refused while a run is open.
    #[allow(clippy::needless_pass_by_value)] // by value: the natural call is init(InitOptions { .. })
    pub fn init(&self, options: InitOptions) -> Result<RunId, ClientError> {
        self.check_fork();
        let meta = self.meta(&options)?;
        let now = Utc::now();
        let mut guard = lock(&self.inner.state);
        let state = &mut *guard;
        if let Some(run) = &state.run
            && run.session.status().is_open()
            && run.closed.is_none()
        {
            return Err(CoreError::AlreadyStarted { run_id: run.session.run_id().to_string() }.into());
        }
        let inherited = (!options.no_join && !state.inherited_used)
            .then_some(self.inner.config.inherited.run_id)
            .flatten();
        let join = options.join_run.or(inherited);
        let (session, event) = match join {
            Some(run_id) => Session::join(run_id, random_stream(), meta, now)?,
            None => Session::start(new_run_id(), meta, now)?,
        };
        state.inherited_used |= inherited.is_some();
        let run_id = session.run_id();
        state.run = Some(RunState { session, joined: join.is_some(), own_open: 0, closed: None });
        state.sink.push(event, &self.inner.shared);
        Ok(run_id)
    }

    /// Runs `op` on the open session and hands its event on.
    #[inline]
    fn emit(
        &self,
        action: &'static str,
        auto_start: bool,
        op: impl FnOnce(&mut RunState, DateTime<Utc>) -> Result<Event, CoreError>,
    ) -> Result<(), ClientError> {
        self.check_fork();
        let mut guard = lock(&self.inner.state);
        if guard.run.is_none() {
            if !auto_start {
                return Err(CoreError::NotStarted { action }.into());
            }
            drop(guard);
            self.auto_start()?;
            guard = lock(&self.inner.state);
        }
        let state = &mut *guard;
        let Some(run) = state.run.as_mut() else { return Err(CoreError::NotStarted { action }.into()) };
        if let Some(status) = run.closed {
            return Err(CoreError::RunFinished { status, action }.into());
        }
        let event = op(run, sys::wall_clock())?;
        state.sink.push(event, &self.inner.shared);
        Ok(())
    }

    #[cold]
    fn auto_start(&self) -> Result<(), ClientError> {
        match self.init(InitOptions::default()) {
            Ok(_) | Err(ClientError::AlreadyStarted(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// `genter(name)`: a task begins (starting a run first if none was started).
    pub fn enter(&self, name: &str) -> Result<(), ClientError> {
        self.emit("entering a task", true, |run, now| {
            let event = run.session.enter_task(name, now)?;
            run.own_open += 1;
            Ok(event)
        })
    }

    /// `gexit()`: the innermost open task ends as completed.
    pub fn exit(&self) -> Result<(), ClientError> {
        self.exit_with(TaskStatus::Completed)
    }

    /// The innermost open task ends with `status`.
    pub fn exit_with(&self, status: TaskStatus) -> Result<(), ClientError> {
        self.emit("exiting a task", false, |run, now| {
            if run.own_open == 0 {
                return Err(CoreError::NoOpenTask);
            }
            let event = run.session.exit_task(status, now)?;
            run.own_open -= 1;
            Ok(event)
        })
    }

    /// `gmessage(text)`: a progress message.
    pub fn message(&self, text: &str) -> Result<(), ClientError> {
        self.emit("recording a message", true, |run, now| run.session.message(text, now))
    }

    /// `progress(done, total)`: sub-progress of the current task.
    pub fn progress(&self, done: i64, total: i64) -> Result<(), ClientError> {
        self.emit("recording progress", true, |run, now| run.session.progress(done, total, now))
    }

    /// `track_status(...)`: any subset of the live fields, validated as a whole.
    pub fn status(&self, fields: StatusFields) -> Result<(), ClientError> {
        let mut update = StatusUpdate {
            message: fields.message,
            current_task: fields.current_task,
            total_tasks: fields.total_tasks.map(validate::total_tasks).transpose()?,
            ..StatusUpdate::default()
        };
        if let Some((done, total)) = fields.progress {
            let (done, total) = validate::progress(done, total)?;
            update.progress_done = Some(done);
            update.progress_total = Some(total);
        }
        self.emit("updating the status", true, |run, now| run.session.update(update, now))
    }

    /// Records a resource sample (used by `pipetrack run` for the whole process tree).
    pub fn sample(&self, sample: ResourceSample) -> Result<(), ClientError> {
        self.emit("recording a resource sample", false, |run, now| run.session.sample(sample, now))
    }

    /// `track_finish()`: the run completed.
    pub fn finish(&self) -> Result<(), ClientError> {
        self.finish_with(RunEnd { status: RunStatus::Completed, exit_code: None, signal: None, error: None })
    }

    /// `track_error(message, class, traceback)`: the run failed with this error.
    pub fn error(
        &self,
        message: &str,
        class: Option<&str>,
        traceback: Option<&str>,
    ) -> Result<(), ClientError> {
        let error = ErrorInfo {
            message: message.to_owned(),
            class: class.map(str::to_owned),
            traceback: traceback.map(str::to_owned),
        };
        self.finish_with(RunEnd {
            status: RunStatus::Failed,
            exit_code: None,
            signal: None,
            error: Some(error),
        })
    }

    /// Ends the run as `end` says (open tasks close first). In a stream that does
    /// not own the run (joined or forked), only this stream's tasks close; an
    /// error is left in `PIPETRACK_ERROR_FILE` for the launcher to record.
    pub fn finish_with(&self, end: RunEnd) -> Result<(), ClientError> {
        self.end_run(end, true)
    }

    /// Ends the run; `hand_off` says whether a joined stream's error is an
    /// explicit report for the launcher (not just the exit status, which the
    /// launcher sees itself).
    fn end_run(&self, end: RunEnd, hand_off: bool) -> Result<(), ClientError> {
        self.check_fork();
        let now = Utc::now();
        let mut guard = lock(&self.inner.state);
        let state = &mut *guard;
        let Some(run) = state.run.as_mut() else {
            return Err(CoreError::NotStarted { action: "finishing the run" }.into());
        };
        if let Some(status) = run.closed {
            return Err(CoreError::RunFinished { status, action: "finishing the run" }.into());
        }
        if !run.joined {
            for event in run.session.finish(end, now)? {
                state.sink.push(event, &self.inner.shared);
            }
            return Ok(());
        }
        // Validate exactly as a finish would, on a copy: this stream does not own the run.
        run.session.clone().finish(end.clone(), now)?;
        let task_status =
            if end.status == RunStatus::Completed { TaskStatus::Completed } else { TaskStatus::Failed };
        let mut events = Vec::with_capacity(run.own_open as usize);
        while run.own_open > 0 {
            events.push(run.session.exit_task(task_status, now)?);
            run.own_open -= 1;
        }
        run.closed = Some(end.status);
        let error_file = self.inner.config.inherited.error_file.clone();
        let is_child = self.inner.is_child.load(Ordering::Relaxed);
        for event in events {
            state.sink.push(event, &self.inner.shared);
        }
        drop(guard);
        if let (Some(error), Some(path), false, true) = (end.error, error_file, is_child, hand_off) {
            let written = serde_json::to_vec(&error)
                .map_err(std::io::Error::other)
                .and_then(|bytes| std::fs::write(&path, bytes));
            if let Err(err) = written {
                crate::warn::warn(&format!(
                    "cannot hand the error to pipetrack run through {} ({err}); the run will show only the exit status",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// Emits an event from the writer (heartbeats, samples) if a run is open here.
    pub(crate) fn emit_from_writer(
        inner: &Inner,
        op: impl FnOnce(&mut Session, DateTime<Utc>) -> Result<Event, CoreError>,
    ) {
        let mut guard = lock(&inner.state);
        let state = &mut *guard;
        let Some(run) = state.run.as_mut() else { return };
        if run.closed.is_some() || !run.session.status().is_open() {
            return;
        }
        if let Ok(event) = op(&mut run.session, Utc::now()) {
            state.sink.push(event, &inner.shared);
        }
    }

    /// Waits until everything recorded so far is in the store (or, past
    /// `timeout`, in the spool).
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        self.request_flush(timeout, false)
    }

    fn request_flush(&self, timeout: Duration, last: bool) -> FlushReport {
        self.check_fork();
        if self.inner.is_child.load(Ordering::Relaxed) {
            // A child's events are already on disk, synchronously.
            return FlushReport { complete: false, spooled: 0, timed_out: false };
        }
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        let sender = match &lock(&self.inner.state).sink {
            Sink::Queue(queue) => queue.control.clone(),
            Sink::Child(_) => return FlushReport::default(),
        };
        let msg = Msg::Flush { ack: ack_tx, deadline, last };
        if sender.send_deadline(msg, deadline).is_err() {
            return FlushReport { complete: false, spooled: 0, timed_out: true };
        }
        self.inner.shared.wake_writer();
        // The writer spools what it could not store by the deadline; allow it that last step.
        match ack_rx.recv_deadline(deadline + Duration::from_millis(500)) {
            Ok(report) => report,
            Err(_) => FlushReport { complete: false, spooled: 0, timed_out: true },
        }
    }

    /// Process exit: finishes a run still open here as `reason` says, flushes for
    /// at most the exit flush timeout (`PIPETRACK_EXIT_FLUSH_MS`), spools the
    /// rest and stops the writer. Later calls go straight to the spool.
    /// A call while another thread's shutdown is flushing waits for it to
    /// end (at most the exit flush timeout and a second).
    pub fn shutdown(&self, reason: ExitReason) -> FlushReport {
        self.check_fork();
        let (finished, done) = &self.inner.shutdown_finished;
        if self.inner.shut_down.swap(true, Ordering::SeqCst) {
            if !self.inner.is_child.load(Ordering::Relaxed) {
                let limit = self.inner.config.exit_flush_timeout + Duration::from_secs(1);
                let _ = done.wait_timeout_while(lock(finished), limit, |finished| !*finished);
            }
            return FlushReport::default();
        }
        let report = self.shut_down_now(reason);
        *lock(finished) = true;
        done.notify_all();
        report
    }

    fn shut_down_now(&self, reason: ExitReason) -> FlushReport {
        if self.inner.is_child.load(Ordering::Relaxed) {
            // A forked child never finishes the parent's run; its events are on disk already.
            let _ = self.end_run(end_for(reason), false);
            return FlushReport::default();
        }
        let end = end_for(reason);
        let open = {
            let state = lock(&self.inner.state);
            state.run.as_ref().is_some_and(|run| run.closed.is_none() && run.session.status().is_open())
        };
        if open {
            let _ = self.end_run(end, false);
        }
        if self.inner.is_child.load(Ordering::Relaxed) {
            return FlushReport::default();
        }
        let report = self.request_flush(self.inner.config.exit_flush_timeout, true);
        if !report.timed_out
            && let Some(handle) = lock(&self.inner.writer).take()
        {
            let _ = handle.join();
        }
        report
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let reason = if std::thread::panicking() { ExitReason::Code(101) } else { ExitReason::Unknown };
        self.shutdown(reason);
    }
}

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// Remembers the message of a panic, so a run ended by an unknown exit is
/// recorded as failed with it (installed by the process-wide tracker).
pub(crate) fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        *lock(&PANIC_MESSAGE) = Some(format!("{message}{location}"));
        previous(info);
    }));
}

fn end_for(reason: ExitReason) -> RunEnd {
    match reason {
        ExitReason::Code(0) => {
            RunEnd { status: RunStatus::Completed, exit_code: Some(0), signal: None, error: None }
        }
        ExitReason::Code(code) => RunEnd {
            status: RunStatus::Failed,
            exit_code: Some(code),
            signal: None,
            error: Some(ErrorInfo {
                message: lock(&PANIC_MESSAGE)
                    .clone()
                    .unwrap_or_else(|| format!("the process exited with status {code}")),
                class: None,
                traceback: None,
            }),
        },
        ExitReason::Signal(signal) => {
            RunEnd { status: RunStatus::Cancelled, exit_code: None, signal: Some(signal), error: None }
        }
        ExitReason::Unknown => match lock(&PANIC_MESSAGE).clone() {
            Some(message) => RunEnd {
                status: RunStatus::Failed,
                exit_code: None,
                signal: None,
                error: Some(ErrorInfo { message, class: Some("panic".into()), traceback: None }),
            },
            None => RunEnd { status: RunStatus::Completed, exit_code: None, signal: None, error: None },
        },
    }
}
