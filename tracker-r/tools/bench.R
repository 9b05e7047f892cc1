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

if (requireNamespace("bench", quietly = TRUE)) {
  results <- bench::mark(
    "genter()+gexit()" = pair(),
    "gmessage()" = gmessage("Loading AL"),
    "track_progress()" = track_progress(10L, 50L),
    "genter(\"{state}\")+gexit() (glue)" = pair_glue(),
    "empty R function (baseline)" = empty(),
    min_iterations = 20000, max_iterations = 20000, check = FALSE, filter_gc = TRUE, time_unit = "us"
  )
  print(results[, c("expression", "min", "median", "itr/sec", "n_itr")])
} else {
  # Without bench (r-cran-bench): the mean per call of each over 1e5 calls
  # (1e4 for the glue pair, ~100 times slower), with system.time().
  cat("bench is not installed: means per call from system.time()\n")
  per_call <- function(label, n, f) {
    invisible(track_flush(30))
    elapsed <- system.time(for (i in seq_len(n)) f())[["elapsed"]]
    cat(sprintf("%-40s %8.2f us (mean of %g calls)\n", label, elapsed / n * 1e6, n))
  }
  per_call("genter()+gexit()", 1e5, pair)
  per_call("gmessage()", 1e5, function() gmessage("Loading AL"))
  per_call("track_progress()", 1e5, function() track_progress(10L, 50L))
  per_call("genter(\"{state}\")+gexit() (glue)", 1e4, pair_glue)
  per_call("empty R function (baseline)", 1e5, empty)
}

# A plain system.time() loop over n pairs, after the writer caught up. The
# queue holds PIPETRACK_QUEUE_SIZE events (default 16384, see
# tracker-client/src/config.rs); both loops make more (4e4 and 2e5 events), so
# they time the calls while the writer drains the queue. Events that find the
# queue full go to the disk spool (slower per event, never blocking).
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
