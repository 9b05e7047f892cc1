# A tracking store that cannot be reached never stops the script: one warning,
# events kept in the spool, written once a process reaches the store again.

test_each_store("an unreachable store: the script completes with one warning, and its events land later", function(store) {
  dir <- withr::local_tempdir()
  down <- list(kind = "postgres", url = "postgres://pipetrack@127.0.0.1:1/nowhere")
  result <- run_script(c(
    'warned <- character()',
    'other <- 0L',
    'withCallingHandlers(',
    '  {',
    '    genter("Load")',
    '    for (i in 1:200) gmessage("step {i}")',
    '    Sys.sleep(1)',
    '    genter("Still running")',
    '    gexit()',
    '    gexit()',
    '    f <- track_flush(2)',
    '    cat("FLUSH", f$complete, f$spooled > 0, "\\n")',
    '  },',
    '  pipetrack_warning = function(w) {',
    '    warned <<- c(warned, conditionMessage(w))',
    '    invokeRestart("muffleWarning")',
    '  },',
    '  warning = function(w) if (!inherits(w, "pipetrack_warning")) other <<- other + 1L',
    ')',
    'cat("PIPETRACK WARNINGS", length(warned), "\\n")',
    'cat("OTHER WARNINGS", other, "\\n")',
    'cat("WARNING", warned, sep = "\\n")',
    'cat("SCRIPT DONE\\n")'
  ), down, dir = dir, env = c(PIPETRACK_EXIT_FLUSH_MS = "500", PIPETRACK_FLUSH_MS = "20"))
  expect_script_ok(result)
  output <- paste(result$output, collapse = "\n")
  expect_match(output, "SCRIPT DONE")
  # Exactly one R warning, of class pipetrack_warning, saying what is wrong.
  expect_true("PIPETRACK WARNINGS 1 " %in% result$output)
  expect_true("OTHER WARNINGS 0 " %in% result$output)
  expect_match(output, "WARNING\ncannot write tracking events to the store")
  # Not said again (at exit on stderr, or as an unmuffled warning): the one warning is enough.
  expect_identical(lengths(regmatches(output, gregexpr("cannot write tracking events to the store", output))), 1L)
  # The flush could not reach the store: the events are in the spool.
  expect_true("FLUSH FALSE TRUE " %in% result$output)
  expect_length(list.files(file.path(dir, "spool"), recursive = TRUE), 1L)
  expect_identical(nrow(with_store(store, get_script_history())), 0L)

  # Any later tracked process with a reachable store replays the spool.
  later <- run_script(c('genter("Another script")', "gexit()"), store, name = "DAILY_02_Later.R", dir = dir)
  expect_script_ok(later)
  tasks <- latest_progress(store)
  expect_identical(attr(tasks, "run")$status, "completed")
  expect_identical(tasks$name, c("Load", "Still running"))
  expect_identical(tasks$message[[1]], "step 200")
  expect_setequal(with_store(store, get_current_status())$script_name, c("ANNUAL_DEC_01_Test.R", "DAILY_02_Later.R"))
})
