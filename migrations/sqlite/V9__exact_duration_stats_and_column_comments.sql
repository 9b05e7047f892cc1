-- pipetrack schema V9, SQLite dialect. Keep in step with
-- migrations/postgres/V9__exact_duration_stats_and_column_comments.sql and
-- docs/schema.md (SQLite has no column comments: the Postgres migrations and
-- docs/schema.md document every column).
--
-- Exact duration statistics from the rollup: the sum of squares and the
-- extremes of each day's completed runs, next to their sum and count.
-- Backfilled from the runs.

-- Sum of the squares of duration_ms of the completed runs counted in completed_n.
ALTER TABLE run_days ADD COLUMN completed_ms_sq REAL NOT NULL DEFAULT 0;
-- Shortest and longest duration_ms among the completed runs of the day (NULL when none).
ALTER TABLE run_days ADD COLUMN completed_min_ms INTEGER;
ALTER TABLE run_days ADD COLUMN completed_max_ms INTEGER;

UPDATE run_days
SET completed_ms_sq = s.sq, completed_min_ms = s.lo, completed_max_ms = s.hi
FROM (
    SELECT category, substr(started_at, 1, 10) AS day, script_name,
           sum(CAST(duration_ms AS REAL) * duration_ms) AS sq,
           min(duration_ms) AS lo, max(duration_ms) AS hi
    FROM runs
    WHERE status = 'completed' AND duration_ms IS NOT NULL
    GROUP BY 1, 2, 3
) AS s
WHERE run_days.category = s.category AND run_days.day = s.day AND run_days.script_name = s.script_name;
