-- pipetrack schema V9, PostgreSQL dialect. Keep in step with
-- migrations/sqlite/V9__exact_duration_stats_and_column_comments.sql and
-- docs/schema.md.
--
-- 1. Exact duration statistics from the rollup: with the sum of squares and
--    the extremes of each day's completed runs next to their sum and count,
--    trends give the mean, standard deviation, minimum and maximum of every
--    completed run of any range without reading the runs (a year of a
--    category is a few thousand rollup rows). Backfilled from the runs.
-- 2. A comment on every column that had none, so `\d+` in psql documents the
--    schema as docs/schema.md does.

ALTER TABLE run_days
    ADD COLUMN completed_ms_sq  double precision NOT NULL DEFAULT 0,
    ADD COLUMN completed_min_ms bigint,
    ADD COLUMN completed_max_ms bigint;

UPDATE run_days d
SET completed_ms_sq = s.sq, completed_min_ms = s.lo, completed_max_ms = s.hi
FROM (
    SELECT category, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, script_name,
           sum(CAST(duration_ms AS double precision) * duration_ms) AS sq,
           min(duration_ms) AS lo, max(duration_ms) AS hi
    FROM runs
    WHERE status = 'completed' AND duration_ms IS NOT NULL
    GROUP BY 1, 2, 3
) s
WHERE d.category = s.category AND d.day = s.day AND d.script_name = s.script_name;

COMMENT ON COLUMN run_days.completed_ms_sq IS 'Sum of the squares of duration_ms of the completed runs counted in completed_n (variance = (completed_ms_sq - completed_ms^2 / completed_n) / (completed_n - 1)).';
COMMENT ON COLUMN run_days.completed_min_ms IS 'Shortest duration_ms among the completed runs of the day (NULL when none).';
COMMENT ON COLUMN run_days.completed_max_ms IS 'Longest duration_ms among the completed runs of the day (NULL when none).';
COMMENT ON COLUMN run_days.category IS 'Script category of the runs (DAILY, ANNUAL_DEC, ..., OTHER).';
COMMENT ON COLUMN run_days.script_name IS 'Script of the runs.';
COMMENT ON COLUMN run_days.failed IS 'Of the runs started that day, those now failed.';
COMMENT ON COLUMN run_days.cancelled IS 'Of the runs started that day, those now cancelled.';
COMMENT ON COLUMN run_days.lost IS 'Of the runs started that day, those now lost.';

COMMENT ON COLUMN tasks.run_id IS 'The run the task belongs to (runs.run_id).';
COMMENT ON COLUMN tasks.name IS 'Task name as given to genter() (interpolated).';
COMMENT ON COLUMN tasks.started_at IS 'When the task was entered (UTC).';
COMMENT ON COLUMN tasks.finished_at IS 'When the task was exited (UTC); NULL while it runs.';
COMMENT ON COLUMN tasks.progress_done IS 'Sub-progress within the task: items done (track_progress / progress).';
COMMENT ON COLUMN tasks.progress_total IS 'Sub-progress within the task: items in total.';

COMMENT ON COLUMN events.run_id IS 'The run the event belongs to.';
COMMENT ON COLUMN events.stream IS 'Reporting process within the run: 0 = the main process, -1 = a monitor (lost detection), positive random values = forked or joined processes. Events are keyed (run_id, stream, seq) so processes never coordinate sequence numbers.';
COMMENT ON COLUMN events.seq IS 'Sequence number within (run_id, stream), from 1, strictly increasing: replays are idempotent on it.';
COMMENT ON COLUMN events.at IS 'When the call was made in the script (UTC), not when it was stored.';

COMMENT ON COLUMN scripts.script_name IS 'Script name (file name), the key every view groups by.';
COMMENT ON COLUMN scripts.category IS 'Category of the latest run of the script.';
COMMENT ON COLUMN scripts.latest_started_at IS 'Start time of latest_run_id.';
COMMENT ON COLUMN scripts.first_seen_at IS 'Start time of the earliest run of the script ever stored.';

COMMENT ON COLUMN resource_samples.run_id IS 'The run sampled.';
COMMENT ON COLUMN resource_samples.stream IS 'The reporting process within the run (as events.stream).';
COMMENT ON COLUMN resource_samples.seq IS 'The resource_sample event this row comes from (events.seq of the stream).';
COMMENT ON COLUMN resource_samples.at IS 'When the sample was taken (UTC).';
COMMENT ON COLUMN resource_samples.rss_bytes IS 'Resident memory of the process (tree) at the sample, bytes.';
COMMENT ON COLUMN resource_samples.peak_rss_bytes IS 'Peak resident memory so far, bytes.';
COMMENT ON COLUMN resource_samples.cpu_seconds IS 'CPU time (user + system) used so far, seconds.';
COMMENT ON COLUMN resource_samples.read_bytes IS 'Bytes read from storage so far.';
COMMENT ON COLUMN resource_samples.write_bytes IS 'Bytes written to storage so far.';
