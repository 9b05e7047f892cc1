-- pipetrack schema V5, PostgreSQL dialect. Keep in step with
-- migrations/sqlite/V5__scripts_hot_updates.sql and docs/schema.md.
--
-- The scripts table has one row per script but is updated on every new run.
-- Leaving half of each page free lets those updates stay on the page (HOT
-- updates, no index change), and vacuuming after a fixed number of dead rows,
-- not a fraction of a tiny table, keeps it from swelling during bulk imports.

ALTER TABLE scripts SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000);
