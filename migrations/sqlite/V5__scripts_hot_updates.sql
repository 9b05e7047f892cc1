-- pipetrack schema V5, SQLite dialect: nothing to do. The PostgreSQL V5 tunes
-- storage parameters of the scripts table that SQLite does not have; this file
-- keeps both dialects at the same schema version.
SELECT 1;
