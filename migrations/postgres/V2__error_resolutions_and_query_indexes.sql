-- pipetrack schema V2, PostgreSQL dialect. Keep in step with
-- migrations/sqlite/V2__error_resolutions_and_query_indexes.sql and docs/schema.md.
--
-- 1. error_resolutions: "mark as resolved" for error groups (monitor-queries).
-- 2. Indexes for the read model: every history sort order has an index ending in
--    run_id (the keyset tie breaker), so a page is one index range scan.

CREATE TABLE error_resolutions (
    fingerprint  text PRIMARY KEY,
    resolved_at  timestamptz NOT NULL,
    resolved_by  text NOT NULL,
    note         text NOT NULL DEFAULT ''
);

COMMENT ON TABLE error_resolutions IS 'One row per error group marked resolved; the group reopens when a failure with the same fingerprint starts after resolved_at.';
COMMENT ON COLUMN error_resolutions.fingerprint IS 'Error group fingerprint (16 hex digits, see docs/queries.md): hash of the error class and the normalised message.';
COMMENT ON COLUMN error_resolutions.resolved_at IS 'When the group was last marked resolved.';
COMMENT ON COLUMN error_resolutions.resolved_by IS 'Who marked it resolved.';
COMMENT ON COLUMN error_resolutions.note IS 'Why or how it was resolved.';

-- Same names as in V1, now ending in run_id so keyset pages need no extra sort.
DROP INDEX runs_script_started;
CREATE INDEX runs_script_started ON runs (script_name, started_at DESC, run_id DESC);
DROP INDEX runs_category_started;
CREATE INDEX runs_category_started ON runs (category, started_at DESC, run_id DESC);
DROP INDEX runs_status_started;
CREATE INDEX runs_status_started ON runs (status, started_at DESC, run_id DESC);

-- History sorted by duration.
CREATE INDEX runs_duration ON runs (duration_ms DESC, run_id DESC);
-- The latest completed runs of one script: typical duration, stalled threshold, ETA.
CREATE INDEX runs_script_status_started ON runs (script_name, status, started_at DESC);
