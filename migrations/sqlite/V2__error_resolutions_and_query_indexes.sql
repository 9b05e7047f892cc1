-- pipetrack schema V2, SQLite dialect. Keep in step with
-- migrations/postgres/V2__error_resolutions_and_query_indexes.sql (which carries
-- the column comments) and docs/schema.md.

CREATE TABLE error_resolutions (
    fingerprint  TEXT PRIMARY KEY,
    resolved_at  TEXT NOT NULL,
    resolved_by  TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT ''
);

DROP INDEX runs_script_started;
CREATE INDEX runs_script_started ON runs (script_name, started_at DESC, run_id DESC);
DROP INDEX runs_category_started;
CREATE INDEX runs_category_started ON runs (category, started_at DESC, run_id DESC);
DROP INDEX runs_status_started;
CREATE INDEX runs_status_started ON runs (status, started_at DESC, run_id DESC);

CREATE INDEX runs_duration ON runs (duration_ms DESC, run_id DESC);
CREATE INDEX runs_script_status_started ON runs (script_name, status, started_at DESC);
