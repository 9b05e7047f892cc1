-- pipetrack schema V8, SQLite dialect. Keep in step with
-- migrations/postgres/V8__run_days_rollup.sql and docs/schema.md.
--
-- Per-day counts for trends: one row per UTC day of a run's start, category
-- and script, kept by the store in the transaction that writes the run (a
-- run adds to its day when it starts and moves between the status columns
-- when it ends). A year of a category's trend reads a few thousand of these
-- rows instead of every run of the year.

CREATE TABLE run_days (
    category      TEXT NOT NULL,
    day           TEXT NOT NULL,
    script_name   TEXT NOT NULL,
    runs          INTEGER NOT NULL DEFAULT 0,
    completed     INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    cancelled     INTEGER NOT NULL DEFAULT 0,
    lost          INTEGER NOT NULL DEFAULT 0,
    completed_ms  INTEGER NOT NULL DEFAULT 0,
    completed_n   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (category, day, script_name)
);

CREATE INDEX run_days_script ON run_days (script_name, day);
CREATE INDEX run_days_day ON run_days (day);

INSERT INTO run_days (category, day, script_name, runs, completed, failed, cancelled, lost, completed_ms, completed_n)
SELECT category, substr(started_at, 1, 10), script_name,
       count(*),
       sum(status = 'completed'),
       sum(status = 'failed'),
       sum(status = 'cancelled'),
       sum(status = 'lost'),
       coalesce(sum(CASE WHEN status = 'completed' THEN duration_ms END), 0),
       count(CASE WHEN status = 'completed' THEN duration_ms END)
FROM runs
WHERE started_at IS NOT NULL
GROUP BY 1, 2, 3;
