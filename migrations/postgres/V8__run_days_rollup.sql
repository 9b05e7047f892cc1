-- pipetrack schema V8, PostgreSQL dialect. Keep in step with
-- migrations/sqlite/V8__run_days_rollup.sql and docs/schema.md.
--
-- Per-day counts for trends: one row per UTC day of a run's start, category
-- and script, kept by the store in the transaction that writes the run (a
-- run adds to its day when it starts and moves between the status columns
-- when it ends). A year of a category's trend reads a few thousand of these
-- rows instead of every run of the year.

CREATE TABLE run_days (
    category      text NOT NULL,
    day           text NOT NULL,
    script_name   text NOT NULL,
    runs          bigint NOT NULL DEFAULT 0,
    completed     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    cancelled     bigint NOT NULL DEFAULT 0,
    lost          bigint NOT NULL DEFAULT 0,
    completed_ms  bigint NOT NULL DEFAULT 0,
    completed_n   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (category, day, script_name)
) WITH (fillfactor = 70);

COMMENT ON TABLE run_days IS 'Rollup of runs per UTC start day, category and script (trends). Maintained with the runs table.';
COMMENT ON COLUMN run_days.day IS 'UTC day the runs started, YYYY-MM-DD.';
COMMENT ON COLUMN run_days.runs IS 'Runs started that day, in any status (running ones included).';
COMMENT ON COLUMN run_days.completed IS 'Of those, runs now completed (likewise failed, cancelled, lost).';
COMMENT ON COLUMN run_days.completed_ms IS 'Sum of duration_ms of the completed runs that have one.';
COMMENT ON COLUMN run_days.completed_n IS 'Number of completed runs counted in completed_ms (mean = completed_ms / completed_n).';

CREATE INDEX run_days_script ON run_days (script_name, day);
CREATE INDEX run_days_day ON run_days (day);

INSERT INTO run_days (category, day, script_name, runs, completed, failed, cancelled, lost, completed_ms, completed_n)
SELECT category, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), script_name,
       count(*),
       count(*) FILTER (WHERE status = 'completed'),
       count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'cancelled'),
       count(*) FILTER (WHERE status = 'lost'),
       coalesce(sum(duration_ms) FILTER (WHERE status = 'completed'), 0),
       count(duration_ms) FILTER (WHERE status = 'completed')
FROM runs
WHERE started_at IS NOT NULL
GROUP BY 1, 2, 3;
