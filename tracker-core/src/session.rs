//! The per-process state machine behind the tracking API.
//!
//! A [`Session`] turns each call (`genter`, `gexit`, `gmessage`, `progress`,
//! `track_status`, `track_finish`, `track_error`) into a validated [`Event`],
//! keeping the counters that make the next call cheap to check. One session is
//! one stream of a run: the process that started the run has stream 0, a forked
//! child gets its own stream via [`Session::fork`].

use chrono::{DateTime, Utc};

use crate::category::CategoryRules;
use crate::error::CoreError;
use crate::event::{ErrorInfo, Event, EventKind, ResourceSample, RunEnd, RunMeta, StatusUpdate};
use crate::ids::{RunId, StreamId};
use crate::status::{RunStatus, TaskStatus};
use crate::validate::{self, TextKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OpenTask {
    number: u32,
    depth: u16,
}

/// The tracking state of one stream of one run.
#[derive(Clone, Debug)]
pub struct Session {
    run_id: RunId,
    stream: StreamId,
    last_seq: u64,
    status: RunStatus,
    open: Vec<OpenTask>,
    base_depth: u16,
    tasks_entered: u32,
    top_level_started: u32,
    tasks_done: u32,
    total_tasks: Option<u32>,
    start_event: Event,
}

impl Session {
    /// Starts a run: validates `meta` and returns the session with its first event.
    pub fn start(run_id: RunId, meta: RunMeta, at: DateTime<Utc>) -> Result<(Self, Event), CoreError> {
        Self::open(run_id, StreamId::MAIN, meta, at)
    }

    /// Joins an existing run from another process (e.g. a script launched by
    /// `pipetrack run`, which passes the run id down): same run, its own stream.
    pub fn join(
        run_id: RunId,
        stream: StreamId,
        meta: RunMeta,
        at: DateTime<Utc>,
    ) -> Result<(Self, Event), CoreError> {
        Self::open(run_id, stream, meta, at)
    }

    fn open(
        run_id: RunId,
        stream: StreamId,
        meta: RunMeta,
        at: DateTime<Utc>,
    ) -> Result<(Self, Event), CoreError> {
        let meta = validate_meta(meta)?;
        let total_tasks = meta.total_tasks;
        let event = Event { run_id, stream, seq: 1, at, kind: EventKind::RunStarted(Box::new(meta)) };
        let session = Session {
            run_id,
            stream,
            last_seq: 1,
            status: RunStatus::Running,
            open: Vec::new(),
            base_depth: 0,
            tasks_entered: 0,
            top_level_started: 0,
            tasks_done: 0,
            total_tasks,
            start_event: event.clone(),
        };
        Ok((session, event))
    }

    /// The session of a forked child: same run, a new stream, no open tasks of its
    /// own; its tasks nest under whatever the parent had open at the fork.
    #[must_use]
    pub fn fork(&self, stream: StreamId) -> Session {
        Session {
            run_id: self.run_id,
            stream,
            last_seq: 0,
            status: self.status,
            open: Vec::new(),
            base_depth: self.depth(),
            tasks_entered: 0,
            top_level_started: self.top_level_started,
            tasks_done: self.tasks_done,
            total_tasks: self.total_tasks,
            start_event: self.start_event.clone(),
        }
    }

    /// The run.
    pub fn run_id(&self) -> RunId {
        self.run_id
    }

    /// This session's stream.
    pub fn stream(&self) -> StreamId {
        self.stream
    }

    /// The run's status as this session knows it.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// The event that started the run. A forked child writes it again (an
    /// idempotent no-op if the parent already did) so its own events never reach
    /// the store before the run exists.
    pub fn start_event(&self) -> &Event {
        &self.start_event
    }

    /// The sequence number of the last event produced.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Current nesting depth (open tasks, including those open in the parent at fork).
    pub fn depth(&self) -> u16 {
        self.base_depth + self.open.len() as u16
    }

    /// Top-level tasks completed in this stream (and the parent before a fork).
    pub fn tasks_done(&self) -> u32 {
        self.tasks_done
    }

    /// Top-level tasks entered.
    pub fn tasks_started(&self) -> u32 {
        self.top_level_started
    }

    /// Expected total of top-level tasks, if declared.
    pub fn total_tasks(&self) -> Option<u32> {
        self.total_tasks
    }

    fn next(&mut self, at: DateTime<Utc>, kind: EventKind) -> Event {
        self.last_seq += 1;
        Event { run_id: self.run_id, stream: self.stream, seq: self.last_seq, at, kind }
    }

    fn ensure_open(&self, action: &'static str) -> Result<(), CoreError> {
        if self.status.is_open() {
            Ok(())
        } else {
            Err(CoreError::RunFinished { status: self.status, action })
        }
    }

    /// `genter(name)`: a task begins.
    pub fn enter_task(&mut self, name: &str, at: DateTime<Utc>) -> Result<Event, CoreError> {
        self.ensure_open("entering a task")?;
        let name = validate::required_text("task name", name, validate::MAX_TASK_NAME, TextKind::Line)?;
        let depth = self.depth();
        self.tasks_entered += 1;
        let number = self.tasks_entered;
        if depth == 0 {
            self.top_level_started += 1;
            // A declared total is an estimate: entering more tasks raises it.
            if let Some(total) = self.total_tasks.as_mut() {
                *total = (*total).max(self.top_level_started);
            }
        }
        self.open.push(OpenTask { number, depth });
        Ok(self.next(at, EventKind::TaskEntered { task: number, depth, name: name.to_owned() }))
    }

    /// `gexit()`: the innermost open task ends.
    pub fn exit_task(&mut self, status: TaskStatus, at: DateTime<Utc>) -> Result<Event, CoreError> {
        self.ensure_open("exiting a task")?;
        let task = self.open.pop().ok_or(CoreError::NoOpenTask)?;
        if task.depth == 0 {
            self.tasks_done += 1;
        }
        Ok(self.next(at, EventKind::TaskExited { task: task.number, depth: task.depth, status }))
    }

    /// `track_status(...)`: any subset of the live fields. Validated as a whole.
    pub fn update(&mut self, mut update: StatusUpdate, at: DateTime<Utc>) -> Result<Event, CoreError> {
        self.ensure_open("updating the status")?;
        if let Some(message) = &update.message {
            validate::optional_text("message", message, validate::MAX_MESSAGE, TextKind::Multiline)?;
        }
        if let Some(task) = &update.current_task {
            validate::required_text("current task", task, validate::MAX_TASK_NAME, TextKind::Line)?;
        }
        if let Some(total) = update.total_tasks
            && total < self.tasks_done
        {
            return Err(CoreError::TotalBelowDone { total, done: self.tasks_done });
        }
        match (update.progress_done, update.progress_total) {
            (Some(done), Some(total)) if done > total => {
                return Err(CoreError::ProgressBeyondTotal { done, total });
            }
            _ => {}
        }
        if let Some(total) = update.total_tasks {
            self.total_tasks = Some(total.max(self.top_level_started));
        }
        update.task = self.open.last().map(|task| task.number);
        Ok(self.next(at, EventKind::StatusUpdate(update)))
    }

    /// `gmessage(text)`: a progress message, no task change.
    pub fn message(&mut self, text: &str, at: DateTime<Utc>) -> Result<Event, CoreError> {
        self.update(StatusUpdate { message: Some(text.to_owned()), ..StatusUpdate::default() }, at)
    }

    /// `progress(done, total)`: sub-progress of the current task (states, counties ...).
    pub fn progress(&mut self, done: i64, total: i64, at: DateTime<Utc>) -> Result<Event, CoreError> {
        let (done, total) = validate::progress(done, total)?;
        self.update(
            StatusUpdate {
                progress_done: Some(done),
                progress_total: Some(total),
                ..StatusUpdate::default()
            },
            at,
        )
    }

    /// A liveness ping from the writer.
    pub fn heartbeat(&mut self, at: DateTime<Utc>) -> Result<Event, CoreError> {
        self.ensure_open("sending a heartbeat")?;
        Ok(self.next(at, EventKind::Heartbeat))
    }

    /// A resource sample of this process.
    pub fn sample(&mut self, sample: ResourceSample, at: DateTime<Utc>) -> Result<Event, CoreError> {
        self.ensure_open("recording a resource sample")?;
        Ok(self.next(at, EventKind::ResourceSample(sample)))
    }

    /// `track_finish()` / `track_error()` / exit: closes open tasks (innermost
    /// first; completed for a completed run, failed otherwise) and ends the run.
    pub fn finish(&mut self, end: RunEnd, at: DateTime<Utc>) -> Result<Vec<Event>, CoreError> {
        self.ensure_open("finishing the run")?;
        self.status.transition(end.status)?;
        let end = validate_end(end)?;
        let task_status =
            if end.status == RunStatus::Completed { TaskStatus::Completed } else { TaskStatus::Failed };
        let mut events = Vec::with_capacity(self.open.len() + 1);
        while !self.open.is_empty() {
            events.push(self.exit_task(task_status, at)?);
        }
        self.status = end.status;
        events.push(self.next(at, EventKind::RunFinished(Box::new(end))));
        Ok(events)
    }

    /// `track_error(message, class, traceback)`: the run failed.
    pub fn fail(
        &mut self,
        error: ErrorInfo,
        exit_code: Option<i32>,
        at: DateTime<Utc>,
    ) -> Result<Vec<Event>, CoreError> {
        self.finish(RunEnd { status: RunStatus::Failed, exit_code, signal: None, error: Some(error) }, at)
    }
}

/// Validates and normalises the metadata of a starting run. Fills the category
/// from the script name when empty.
pub fn validate_meta(mut meta: RunMeta) -> Result<RunMeta, CoreError> {
    let script_name =
        validate::required_text("script name", &meta.script_name, validate::MAX_SCRIPT_NAME, TextKind::Line)?;
    if script_name.len() != meta.script_name.len() {
        meta.script_name = script_name.to_owned();
    }
    if meta.category.trim().is_empty() {
        meta.category = CategoryRules::default().detect(&meta.script_name).to_owned();
    } else {
        let category =
            validate::required_text("category", &meta.category, validate::MAX_SCRIPT_NAME, TextKind::Line)?;
        if category.len() != meta.category.len() {
            meta.category = category.to_owned();
        }
    }
    for (field, value) in [
        ("script path", &meta.script_path),
        ("host", &meta.host),
        ("user", &meta.os_user),
        ("language", &meta.language),
        ("language version", &meta.language_version),
        ("git commit", &meta.git_commit),
        ("git branch", &meta.git_branch),
        ("working directory", &meta.working_dir),
        ("log path", &meta.log_path),
        ("command", &meta.command),
    ] {
        if let Some(value) = value {
            validate::optional_text(field, value, validate::MAX_METADATA, TextKind::Line)?;
        }
    }
    if let Some(total) = meta.total_tasks {
        validate::total_tasks(i64::from(total))?;
    }
    Ok(meta)
}

fn validate_end(mut end: RunEnd) -> Result<RunEnd, CoreError> {
    if let Some(error) = end.error.as_mut() {
        if error.message.trim().is_empty() {
            "(no error message)".clone_into(&mut error.message);
        }
        validate::optional_text(
            "error message",
            &error.message,
            validate::MAX_ERROR_MESSAGE,
            TextKind::Multiline,
        )?;
        if let Some(class) = &error.class {
            validate::optional_text("error class", class, validate::MAX_SCRIPT_NAME, TextKind::Line)?;
        }
        if let Some(traceback) = error.traceback.as_mut() {
            *traceback = validate::truncate_keep_tail(traceback, validate::MAX_TRACEBACK);
            validate::optional_text("traceback", traceback, validate::MAX_TRACEBACK, TextKind::Multiline)?;
        }
    }
    Ok(end)
}

/// Checks an event received from outside (a spool file, another process) before
/// it is stored: ids, sequence and every text field.
pub fn validate_event(event: &Event) -> Result<(), CoreError> {
    if event.seq == 0 {
        return Err(CoreError::Negative { field: "event seq (must start at 1)", value: 0 });
    }
    match &event.kind {
        EventKind::RunStarted(meta) => {
            validate_meta((**meta).clone())?;
        }
        EventKind::TaskEntered { name, .. } => {
            validate::required_text("task name", name, validate::MAX_TASK_NAME, TextKind::Line)?;
        }
        EventKind::StatusUpdate(update) => {
            if let Some(message) = &update.message {
                validate::optional_text("message", message, validate::MAX_MESSAGE, TextKind::Multiline)?;
            }
            if let Some(task) = &update.current_task {
                validate::required_text("current task", task, validate::MAX_TASK_NAME, TextKind::Line)?;
            }
            if let (Some(done), Some(total)) = (update.progress_done, update.progress_total)
                && done > total
            {
                return Err(CoreError::ProgressBeyondTotal { done, total });
            }
        }
        EventKind::RunFinished(end) => {
            if end.status == RunStatus::Running {
                return Err(CoreError::IllegalTransition {
                    from: RunStatus::Running,
                    to: RunStatus::Running,
                });
            }
            validate_end((**end).clone())?;
        }
        EventKind::TaskExited { .. } | EventKind::Heartbeat | EventKind::ResourceSample(_) => {}
    }
    Ok(())
}
