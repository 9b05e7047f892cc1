-- pipetrack schema V7, PostgreSQL dialect. Keep in step with
-- migrations/sqlite/V7__history_sort_indexes.sql and docs/schema.md.
--
-- Indexes for the two history sorts whose key may be NULL, by end time and by
-- error message (monitor-queries reads a page as two range scans: rows with a
-- key, then rows without one, by run id; both come from one index). At 1M runs
-- these pages took seconds (end time) and a third of a second (error) without.
-- The error key is the message's first 200 characters: a whole message (up to
-- 16,000) can be too long for a Postgres index entry.

CREATE INDEX runs_finished ON runs (finished_at, run_id);
CREATE INDEX runs_error ON runs (substr(error_message, 1, 200), run_id);
