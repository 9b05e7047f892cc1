# tools/bench.R: per-call cost of the tracking API from R (docs/performance.md, "R").
#
# Usage: Rscript tools/bench.R [LIBRARY]
# Tracks into a throw-away SQLite file; the background writer stores the
# events while the benchmark runs, as in a real script.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) > 0L) .libPaths(c(args[[1L]], .libPaths()))
dir <- tempfile("pipetrack-bench")
dir.create(dir)
Sys.setenv(
  PIPETRACK_DATABASE_URL = paste0("sqlite://", file.path(dir, "bench.db")),
  PIPETRACK_SPOOL_DIR = file.path(dir, "spool"),
  PIPETRACK_SAMPLE_S = "0"
)
library(pipetrack)
invisible(track_db_migrate())
track_init("PERIODIC_99_Bench.R", handle_errors = FALSE)

state <- "AL"
pair <- function() {
  genter("Load states")
  gexit()
}
pair_glue <- function() {
  genter("Processing {state}")
  gexit()
}
empty <- function() NULL

results <- bench::mark(
  "genter()+gexit()" = pair(),
  "gmessage()" = gmessage("Loading AL"),
  "track_progress()" = track_progress(10L, 50L),
  "genter(\"{state}\")+gexit() (glue)" = pair_glue(),
  "empty R function (baseline)" = empty(),
  min_iterations = 20000, max_iterations = 20000, check = FALSE, filter_gc = TRUE, time_unit = "us"
)
print(results[, c("expression", "min", "median", "itr/sec", "n_itr")])

# Without bench: system.time over n pairs, after the writer caught up. 2e4
# pairs (4e4 events) fit the queue (PIPETRACK_QUEUE_SIZE, default 65536); 1e5
# pairs outrun the writer, and the overflow goes to the disk spool.
for (n in c(2e4, 1e5)) {
  invisible(track_flush(30))
  elapsed <- system.time(for (i in seq_len(n)) {
    genter("Load states")
    gexit()
  })[["elapsed"]]
  cat(sprintf("system.time: %.2f us per genter()+gexit() pair (mean of %g pairs)\n", elapsed / n * 1e6, n))
}
track_finish()
invisible(track_flush(10))
cat(R.version.string, "\n")
