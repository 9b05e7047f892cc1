-- pipetrack schema V3 (same text for PostgreSQL and SQLite). Keep in step with
-- the other dialect's V3 and docs/schema.md.
--
-- History sorts by (name | status | category filter, started_at, run_id) with
-- every column in the same direction (keyset pagination compares row values).
-- An index whose columns all run in one direction serves both directions
-- (forward or backward scan); V2's (x ASC, started_at DESC, run_id DESC) served
-- only "x ascending, newest first", which SQLite cannot use for a uniform order.
DROP INDEX runs_script_started;
CREATE INDEX runs_script_started ON runs (script_name, started_at, run_id);
DROP INDEX runs_category_started;
CREATE INDEX runs_category_started ON runs (category, started_at, run_id);
DROP INDEX runs_status_started;
CREATE INDEX runs_status_started ON runs (status, started_at, run_id);
DROP INDEX runs_script_status_started;
CREATE INDEX runs_script_status_started ON runs (script_name, status, started_at);
