-- pipetrack schema, SQLite dialect. Keep in step with migrations/postgres/V1__initial.sql
-- (which carries the column comments)
-- and docs/schema.md.

CREATE TABLE runs (
    run_id              TEXT PRIMARY KEY,
    script_name         TEXT NOT NULL,
    script_path         TEXT,
    category            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'lost')),
    started_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    heartbeat_at        TEXT NOT NULL,
    last_progress_at    TEXT NOT NULL,
    finished_at         TEXT,
    duration_ms         INTEGER,
    total_tasks         INTEGER CHECK (total_tasks >= 0),
    tasks_done          INTEGER NOT NULL DEFAULT 0 CHECK (tasks_done >= 0),
    current_task_number INTEGER NOT NULL DEFAULT 0,
    current_task        TEXT,
    message             TEXT,
    progress_done       INTEGER,
    progress_total      INTEGER,
    progress_percent    REAL,
    error_message       TEXT,
    error_class         TEXT,
    error_traceback     TEXT,
    exit_code           INTEGER,
    signal              INTEGER,
    host                TEXT,
    pid                 INTEGER,
    os_user             TEXT,
    language            TEXT,
    language_version    TEXT,
    git_commit          TEXT,
    git_branch          TEXT,
    git_dirty           INTEGER,
    working_dir         TEXT,
    log_path            TEXT,
    command             TEXT,
    env                 TEXT NOT NULL DEFAULT '{}',
    peak_rss_bytes      INTEGER,
    cpu_seconds         REAL,
    read_bytes          INTEGER,
    write_bytes         INTEGER,
    pipeline_run_id     TEXT,
    parent_run_id       TEXT
);

CREATE INDEX runs_script_started ON runs (script_name, started_at DESC);
CREATE INDEX runs_started ON runs (started_at DESC, run_id DESC);
CREATE INDEX runs_category_started ON runs (category, started_at DESC);
CREATE INDEX runs_status_started ON runs (status, started_at DESC);
CREATE INDEX runs_running ON runs (heartbeat_at) WHERE status = 'running';
CREATE INDEX runs_pipeline ON runs (pipeline_run_id) WHERE pipeline_run_id IS NOT NULL;

CREATE TABLE tasks (
    run_id          TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    stream          INTEGER NOT NULL,
    task_number     INTEGER NOT NULL,
    depth           INTEGER NOT NULL DEFAULT 0,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    message         TEXT,
    progress_done   INTEGER,
    progress_total  INTEGER,
    PRIMARY KEY (run_id, stream, task_number)
);

CREATE INDEX tasks_run_started ON tasks (run_id, started_at);

CREATE TABLE events (
    run_id   TEXT NOT NULL,
    stream   INTEGER NOT NULL,
    seq      INTEGER NOT NULL CHECK (seq >= 1),
    at       TEXT NOT NULL,
    kind     TEXT NOT NULL,
    payload  TEXT NOT NULL,
    PRIMARY KEY (run_id, stream, seq)
);

CREATE INDEX events_run_at ON events (run_id, at);

CREATE TABLE scripts (
    script_name        TEXT PRIMARY KEY,
    category           TEXT NOT NULL,
    latest_run_id      TEXT NOT NULL,
    latest_started_at  TEXT NOT NULL,
    first_seen_at      TEXT NOT NULL,
    run_count          INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE resource_samples (
    run_id          TEXT NOT NULL,
    stream          INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    at              TEXT NOT NULL,
    rss_bytes       INTEGER NOT NULL,
    peak_rss_bytes  INTEGER NOT NULL,
    cpu_seconds     REAL NOT NULL,
    read_bytes      INTEGER NOT NULL,
    write_bytes     INTEGER NOT NULL,
    PRIMARY KEY (run_id, stream, seq)
);

CREATE INDEX resource_samples_run_at ON resource_samples (run_id, at);
