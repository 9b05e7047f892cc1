-- pipetrack schema V4 (same text for PostgreSQL and SQLite). Keep in step with
-- the other dialect's V4 and docs/schema.md.
--
-- Trends count runs per day and average durations over a date range of one
-- script or category. With status and duration_ms in the index, that aggregate
-- reads the index alone (a year of a script that runs 40 times a day: 15k index
-- entries instead of 15k table rows). The leading (x, started_at, run_id)
-- columns keep serving keyset pages as in V3.
DROP INDEX runs_script_started;
CREATE INDEX runs_script_started ON runs (script_name, started_at, run_id, status, duration_ms);
DROP INDEX runs_category_started;
CREATE INDEX runs_category_started ON runs (category, started_at, run_id, status, duration_ms);
