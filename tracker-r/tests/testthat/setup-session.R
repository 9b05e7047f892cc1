# In-process tracking (argument and misuse tests) goes to a throw-away SQLite
# file: the process-wide tracker reads its store once, when it starts.
session_db <- tempfile("pipetrack-session", fileext = ".db")
Sys.setenv(
  PIPETRACK_DATABASE_URL = paste0("sqlite://", session_db),
  PIPETRACK_SPOOL_DIR = tempfile("pipetrack-spool"),
  PIPETRACK_SAMPLE_S = "0"
)
invisible(track_db_migrate())
withr::defer(Sys.unsetenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR", "PIPETRACK_SAMPLE_S")), teardown_env())
