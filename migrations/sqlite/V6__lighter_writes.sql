-- pipetrack schema V6, SQLite dialect. Keep in step with
-- migrations/postgres/V6__lighter_writes.sql and docs/schema.md.
--
-- Cheaper writes: every stored event and task paid for a second index that
-- only a few reads use. Those reads now go through the primary keys,
-- (run_id, stream, seq) and (run_id, stream, task_number), and sort one run's
-- rows in memory, so:
--   * the time index on events keeps only status updates, which the running
--     scripts' "latest messages" read newest first (kind = 'status_update');
--   * the task time index goes: one run's tasks are few enough to sort.

DROP INDEX events_run_at;
CREATE INDEX events_messages ON events (run_id, at) WHERE kind = 'status_update';
DROP INDEX tasks_run_started;
