-- pipetrack schema, PostgreSQL dialect. Keep in step with migrations/sqlite/V1__initial.sql
-- and docs/schema.md.

CREATE TABLE runs (
    run_id              uuid PRIMARY KEY,
    script_name         text NOT NULL,
    script_path         text,
    category            text NOT NULL,
    status              text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'lost')),
    started_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    heartbeat_at        timestamptz NOT NULL,
    last_progress_at    timestamptz NOT NULL,
    finished_at         timestamptz,
    duration_ms         bigint,
    total_tasks         bigint CHECK (total_tasks >= 0),
    tasks_done          bigint NOT NULL DEFAULT 0 CHECK (tasks_done >= 0),
    current_task_number bigint NOT NULL DEFAULT 0,
    current_task        text,
    message             text,
    progress_done       bigint,
    progress_total      bigint,
    progress_percent    double precision,
    error_message       text,
    error_class         text,
    error_traceback     text,
    exit_code           bigint,
    signal              bigint,
    host                text,
    pid                 bigint,
    os_user             text,
    language            text,
    language_version    text,
    git_commit          text,
    git_branch          text,
    git_dirty           boolean,
    working_dir         text,
    log_path            text,
    command             text,
    env                 jsonb NOT NULL DEFAULT '{}'::jsonb,
    peak_rss_bytes      bigint,
    cpu_seconds         double precision,
    read_bytes          bigint,
    write_bytes         bigint,
    pipeline_run_id     uuid,
    parent_run_id       uuid
);

COMMENT ON TABLE runs IS 'One row per execution of a script (the pipeline_status table of the task list), kept up to date from events.';
COMMENT ON COLUMN runs.run_id IS 'Identifier of the run (UUID v7, time-ordered).';
COMMENT ON COLUMN runs.script_name IS 'File name of the script, e.g. DAILY_01_BDC_Locations.R.';
COMMENT ON COLUMN runs.script_path IS 'Full path of the script when known.';
COMMENT ON COLUMN runs.category IS 'Category from the name prefix: DAILY, ANNUAL_DEC, ANNUAL_SEPT, ANNUAL_JUNE, STATIC, PERIODIC, PREREQ or OTHER (configurable).';
COMMENT ON COLUMN runs.status IS 'running, completed, failed, cancelled (interrupted/killed) or lost (heartbeat stopped, process gone).';
COMMENT ON COLUMN runs.started_at IS 'When the run started (script clock).';
COMMENT ON COLUMN runs.updated_at IS 'Time of the latest event of any kind.';
COMMENT ON COLUMN runs.heartbeat_at IS 'Time of the latest sign of life; lost detection compares it with now.';
COMMENT ON COLUMN runs.last_progress_at IS 'Time of the latest task, message or progress change; stalled detection compares it with the usual duration.';
COMMENT ON COLUMN runs.finished_at IS 'When the run ended; NULL while running.';
COMMENT ON COLUMN runs.duration_ms IS 'finished_at - started_at (or updated_at - started_at while running), in milliseconds.';
COMMENT ON COLUMN runs.total_tasks IS 'Expected number of top-level tasks (track_init total_tasks); raised when more are entered.';
COMMENT ON COLUMN runs.tasks_done IS 'Top-level tasks completed.';
COMMENT ON COLUMN runs.current_task_number IS 'Top-level tasks entered so far (the number of the current one).';
COMMENT ON COLUMN runs.current_task IS 'Name of the most recently entered task (any depth).';
COMMENT ON COLUMN runs.message IS 'Latest progress message (gmessage / track_status).';
COMMENT ON COLUMN runs.progress_done IS 'Sub-progress of the current task: items done (progress(done, total)).';
COMMENT ON COLUMN runs.progress_total IS 'Sub-progress of the current task: items in total.';
COMMENT ON COLUMN runs.progress_percent IS 'Overall progress in percent from tasks and sub-progress; NULL without a declared total.';
COMMENT ON COLUMN runs.error_message IS 'Error message of a failed run.';
COMMENT ON COLUMN runs.error_class IS 'Error class (simpleError, ValueError ...).';
COMMENT ON COLUMN runs.error_traceback IS 'Traceback / call stack, innermost frame last (cut to 64k characters, keeping the end).';
COMMENT ON COLUMN runs.exit_code IS 'Exit code of the process when known.';
COMMENT ON COLUMN runs.signal IS 'Signal that ended the process when known.';
COMMENT ON COLUMN runs.host IS 'Host name the script ran on.';
COMMENT ON COLUMN runs.pid IS 'Process id of the script.';
COMMENT ON COLUMN runs.os_user IS 'OS user that ran the script.';
COMMENT ON COLUMN runs.language IS 'R, python, rust, shell ...';
COMMENT ON COLUMN runs.language_version IS 'Version of the language runtime.';
COMMENT ON COLUMN runs.git_commit IS 'Git commit of the repository holding the script.';
COMMENT ON COLUMN runs.git_branch IS 'Git branch of that repository.';
COMMENT ON COLUMN runs.git_dirty IS 'Whether that work tree had uncommitted changes.';
COMMENT ON COLUMN runs.working_dir IS 'Working directory of the process.';
COMMENT ON COLUMN runs.log_path IS 'Path of the log file (pipetrack run captures one).';
COMMENT ON COLUMN runs.command IS 'Command line, for runs started by pipetrack run.';
COMMENT ON COLUMN runs.env IS 'Environment at start, with secrets redacted (names like *PASSWORD*, *TOKEN*, *KEY* ...; credentials in URLs masked).';
COMMENT ON COLUMN runs.peak_rss_bytes IS 'Largest resident memory reported by any process of the run, in bytes.';
COMMENT ON COLUMN runs.cpu_seconds IS 'Largest cumulative CPU time (user + system) reported, in seconds.';
COMMENT ON COLUMN runs.read_bytes IS 'Largest cumulative bytes read from storage reported.';
COMMENT ON COLUMN runs.write_bytes IS 'Largest cumulative bytes written to storage reported.';
COMMENT ON COLUMN runs.pipeline_run_id IS 'Groups the runs of one pipeline invocation (one make).';
COMMENT ON COLUMN runs.parent_run_id IS 'The run that launched this one, if any.';

CREATE INDEX runs_script_started ON runs (script_name, started_at DESC);
CREATE INDEX runs_started ON runs (started_at DESC, run_id DESC);
CREATE INDEX runs_category_started ON runs (category, started_at DESC);
CREATE INDEX runs_status_started ON runs (status, started_at DESC);
CREATE INDEX runs_running ON runs (heartbeat_at) WHERE status = 'running';
CREATE INDEX runs_pipeline ON runs (pipeline_run_id) WHERE pipeline_run_id IS NOT NULL;

CREATE TABLE tasks (
    run_id          uuid NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    stream          bigint NOT NULL,
    task_number     bigint NOT NULL,
    depth           bigint NOT NULL DEFAULT 0,
    name            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    message         text,
    progress_done   bigint,
    progress_total  bigint,
    PRIMARY KEY (run_id, stream, task_number)
);

COMMENT ON TABLE tasks IS 'One row per genter/gexit span of a run.';
COMMENT ON COLUMN tasks.stream IS 'Writer that ran the task: 0 for the main process, another id for each forked or joining process.';
COMMENT ON COLUMN tasks.task_number IS 'Number of the task within its stream, from 1.';
COMMENT ON COLUMN tasks.depth IS 'Nesting depth: 0 for top-level tasks (counted in runs.tasks_done), deeper for nested ones.';
COMMENT ON COLUMN tasks.status IS 'running, completed or failed.';
COMMENT ON COLUMN tasks.message IS 'Latest progress message sent while this task was the innermost open one.';

CREATE INDEX tasks_run_started ON tasks (run_id, started_at);

CREATE TABLE events (
    run_id   uuid NOT NULL,
    stream   bigint NOT NULL,
    seq      bigint NOT NULL CHECK (seq >= 1),
    at       timestamptz NOT NULL,
    kind     text NOT NULL,
    payload  jsonb NOT NULL,
    PRIMARY KEY (run_id, stream, seq)
);

COMMENT ON TABLE events IS 'Append-only history: every tracking call of every run. Appends are idempotent on (run_id, stream, seq).';
COMMENT ON COLUMN events.kind IS 'run_started, task_entered, task_exited, status_update, heartbeat, resource_sample or run_finished.';
COMMENT ON COLUMN events.payload IS 'The event as JSON (tracker-core EventKind).';

CREATE INDEX events_run_at ON events (run_id, at);

CREATE TABLE scripts (
    script_name        text PRIMARY KEY,
    category           text NOT NULL,
    latest_run_id      uuid NOT NULL,
    latest_started_at  timestamptz NOT NULL,
    first_seen_at      timestamptz NOT NULL,
    run_count          bigint NOT NULL DEFAULT 0
);

COMMENT ON TABLE scripts IS 'One row per known script, pointing at its latest run: makes "current status of everything" one cheap query.';
COMMENT ON COLUMN scripts.latest_run_id IS 'The run with the latest started_at.';
COMMENT ON COLUMN scripts.run_count IS 'Number of runs recorded for the script.';

CREATE TABLE resource_samples (
    run_id          uuid NOT NULL,
    stream          bigint NOT NULL,
    seq             bigint NOT NULL,
    at              timestamptz NOT NULL,
    rss_bytes       bigint NOT NULL,
    peak_rss_bytes  bigint NOT NULL,
    cpu_seconds     double precision NOT NULL,
    read_bytes      bigint NOT NULL,
    write_bytes     bigint NOT NULL,
    PRIMARY KEY (run_id, stream, seq)
);

COMMENT ON TABLE resource_samples IS 'Resource samples of the processes of a run over time (memory, CPU, IO).';

CREATE INDEX resource_samples_run_at ON resource_samples (run_id, at);
