# The query functions: the answers of monitor-queries as data frames.

make_runs <- function(store) {
  dir <- withr::local_tempdir(.local_envir = parent.frame())
  ok <- run_script(c('track_init(total_tasks = 1)', 'genter("Load")', 'gexit()'), store, name = "DAILY_01_BDC_Locations.R", dir = dir)
  expect_script_ok(ok)
  ok2 <- run_script(c('genter("Load")', 'gexit()'), store, name = "DAILY_01_BDC_Locations.R", dir = dir)
  expect_script_ok(ok2)
  failed <- run_script(c('genter("Merge")', 'stop("merge key missing")'), store, name = "ANNUAL_DEC_02_Merge.R", dir = dir)
  expect_identical(failed$status, 1L)
  dir
}

test_each_store("status, history and failures come back as typed data frames", function(store) {
  make_runs(store)
  status <- with_store(store, get_current_status())
  expect_s3_class(status, "data.frame")
  expect_setequal(status$script_name, c("DAILY_01_BDC_Locations.R", "ANNUAL_DEC_02_Merge.R"))
  daily <- status[status$script_name == "DAILY_01_BDC_Locations.R", ]
  merge <- status[status$script_name == "ANNUAL_DEC_02_Merge.R", ]
  expect_identical(daily$run_count, 2L)
  expect_identical(daily$category, "DAILY")
  expect_identical(as.character(daily$status), "completed")
  expect_identical(as.character(merge$status), "failed")
  expect_identical(merge$error_message, "merge key missing")
  expect_identical(levels(status$status), c("running", "completed", "failed", "cancelled", "lost"))
  expect_identical(levels(status$state), c("running", "stalled", "lost", "completed", "failed", "cancelled"))
  for (col in c("started_at", "finished_at", "heartbeat_at", "last_progress_at", "eta")) {
    expect_s3_class(status[[col]], "POSIXct")
  }
  expect_true(all(status$duration_ms >= 0))

  history <- with_store(store, get_script_history("DAILY_01_BDC_Locations.R"))
  expect_identical(nrow(history), 2L)
  expect_true(history$started_at[[1]] >= history$started_at[[2]])
  expect_null(attr(history, "next_cursor"))
  expect_identical(history$run_id[[1]], daily$run_id)

  page1 <- with_store(store, get_script_history(limit = 2))
  expect_identical(nrow(page1), 2L)
  cursor <- attr(page1, "next_cursor")
  expect_type(cursor, "character")
  page2 <- with_store(store, get_script_history(limit = 2, cursor = cursor))
  expect_identical(nrow(page2), 1L)
  expect_length(intersect(page1$run_id, page2$run_id), 0L)

  failed_only <- with_store(store, get_script_history(status = "failed"))
  expect_identical(failed_only$script_name, "ANNUAL_DEC_02_Merge.R")
  expect_identical(nrow(with_store(store, get_script_history(category = "DAILY", from = Sys.Date() - 1))), 2L)
  expect_identical(nrow(with_store(store, get_script_history(to = as.POSIXct("2000-01-01", tz = "UTC")))), 0L)
  expect_identical(with_store(store, get_script_history(search = "KEY MISSING"))$script_name, "ANNUAL_DEC_02_Merge.R")

  failures <- with_store(store, get_failed_scripts(hours = 1))
  expect_identical(failures$script_name, "ANNUAL_DEC_02_Merge.R")
  expect_identical(failures$error_class, "simpleError")
  expect_identical(names(failures), names(history))

  empty <- with_store(store, get_failed_scripts(hours = 0))
  expect_identical(nrow(empty), 0L)
  expect_identical(names(empty), names(history))
  expect_s3_class(empty$started_at, "POSIXct")
})

test_each_store("a running script shows in get_running_scripts() with its tasks and messages", function(store) {
  dir <- withr::local_tempdir()
  file <- file.path(dir, "PERIODIC_09_Long.R")
  writeLines(c(
    "library(pipetrack)",
    "track_init(total_tasks = 3)",
    'genter("Step one")', "gexit()",
    'genter("Step two")', 'gmessage("halfway")', "track_progress(5, 10)",
    sprintf('while (!file.exists("%s")) Sys.sleep(0.1)', file.path(dir, "stop")),
    "gexit()"
  ), file)
  vars <- c(
    PIPETRACK_DATABASE_URL = store$url, PIPETRACK_SPOOL_DIR = file.path(dir, "spool"),
    PIPETRACK_HEARTBEAT_S = "1", PIPETRACK_FLUSH_MS = "20", PIPETRACK_RUN_ID = "",
    R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep)
  )
  withr::with_envvar(vars, system2(file.path(R.home("bin"), "Rscript"), shQuote(file), wait = FALSE, stdout = FALSE, stderr = FALSE))
  withr::defer(file.create(file.path(dir, "stop")))
  running <- NULL
  for (i in 1:100) {
    running <- with_store(store, get_running_scripts())
    if (nrow(running) == 1L && identical(running$tasks[[1]]$name, c("Step one", "Step two")) &&
      identical(running$tasks[[1]]$message[[2]], "halfway")) {
      break
    }
    Sys.sleep(0.1)
  }
  expect_identical(nrow(running), 1L)
  expect_identical(running$script_name, "PERIODIC_09_Long.R")
  expect_identical(as.character(running$status), "running")
  expect_identical(as.character(running$state), "running")
  expect_identical(running$current_task, "Step two")
  expect_identical(running$tasks_done, 1L)
  # One task of three done, the current one half way: (1 + 5/10) / 3.
  expect_equal(running$progress_percent, 50, tolerance = 1e-6)
  tasks <- running$tasks[[1]]
  expect_identical(as.character(tasks$status), c("completed", "running"))
  expect_identical(tasks$progress_done, c(NA, 5))
  expect_s3_class(running$recent_messages[[1]], "data.frame")
  expect_true("halfway" %in% running$recent_messages[[1]]$message)
  progress <- with_store(store, get_script_progress("PERIODIC_09_Long.R"))
  expect_identical(as.character(attr(progress, "state")), "running")
  expect_identical(progress$name, c("Step one", "Step two"))

  file.create(file.path(dir, "stop"))
  for (i in 1:100) {
    if (nrow(with_store(store, get_running_scripts())) == 0L) break
    Sys.sleep(0.1)
  }
  expect_identical(nrow(with_store(store, get_running_scripts())), 0L)
  expect_identical(as.character(with_store(store, get_current_status())$status), "completed")
})

test_each_store("get_script_progress() of a script without runs has no rows and the columns of a run's tasks", function(store) {
  make_runs(store)
  never <- with_store(store, get_script_progress("NEVER_RAN.R"))
  ran <- with_store(store, get_script_progress("DAILY_01_BDC_Locations.R"))
  expect_s3_class(never, "data.frame")
  expect_identical(nrow(never), 0L)
  expect_identical(nrow(ran), 1L)
  # The same columns of the same types: code written for a run works unchanged.
  expect_identical(lapply(never, class), lapply(ran, class))
  expect_identical(levels(never$status), levels(ran$status))
  expect_null(attr(never, "run"))
  expect_null(attr(never, "state"))
  expect_identical(names(attr(never, "messages")), names(attr(ran, "messages")))
  expect_identical(nrow(attr(never, "messages")), 0L)
})

# The pipetrack CLI (target/debug/pipetrack, built by test.sh; PIPETRACK_BIN).
pipetrack_bin <- function() {
  bin <- Sys.getenv("PIPETRACK_BIN")
  if (!nzchar(bin)) {
    skip("PIPETRACK_BIN is not set (tracker-r/test.sh builds the pipetrack CLI and sets it)")
  }
  if (!file.exists(bin)) stop("PIPETRACK_BIN=", bin, " does not exist: run `cargo build -p pipetrack`")
  bin
}

cli_json <- function(store, args) {
  out <- withr::with_envvar(
    c(PIPETRACK_DATABASE_URL = store$url, NO_COLOR = "1"),
    system2(pipetrack_bin(), args, stdout = TRUE, stderr = TRUE)
  )
  status <- attr(out, "status")
  if (!is.null(status) && status != 0L) stop("pipetrack ", paste(args, collapse = " "), " failed:\n", paste(out, collapse = "\n"))
  jsonlite::fromJSON(paste(out, collapse = "\n"), simplifyVector = FALSE)
}

test_each_store("get_current_status() and get_script_history() give what `pipetrack status/history --json` give", function(store) {
  bin <- pipetrack_bin()
  make_runs(store)
  status <- with_store(store, get_current_status())
  cli_status <- cli_json(store, c("status", "--json"))
  # The raw answer: same scripts, runs, statuses and counts, in the same order.
  expect_identical(status$script_name, vapply(cli_status, function(r) r$script_name, ""))
  expect_identical(status$run_id, vapply(cli_status, function(r) r$latest$run_id, ""))
  expect_identical(as.character(status$status), vapply(cli_status, function(r) r$latest$status, ""))
  expect_identical(status$run_count, vapply(cli_status, function(r) as.integer(r$run_count), 1L))
  or_na <- function(x) if (is.null(x)) NA_character_ else x
  expect_identical(status$error_message, vapply(cli_status, function(r) or_na(r$latest$error_message), ""))
  # And every column, converted the same way.
  expect_identical(status, pipetrack:::.status_frame(cli_status))

  history <- with_store(store, get_script_history(limit = 2))
  cli_history <- cli_json(store, c("history", "--json", "--limit", "2"))
  expect_identical(history$run_id, vapply(cli_history$items, function(r) r$run_id, ""))
  expect_identical(attr(history, "next_cursor"), cli_history$next_cursor)
  expect_identical(history, pipetrack:::.history_frame(cli_history))
  page2 <- with_store(store, get_script_history(limit = 2, cursor = attr(history, "next_cursor")))
  cli_page2 <- cli_json(store, c("history", "--json", "--limit", "2", "--cursor", cli_history$next_cursor))
  expect_identical(page2, pipetrack:::.history_frame(cli_page2))

  failed <- with_store(store, get_script_history(script_name = "ANNUAL_DEC_02_Merge.R"))
  cli_failed <- cli_json(store, c("history", "--json", "--script", "ANNUAL_DEC_02_Merge.R"))
  expect_identical(failed, pipetrack:::.history_frame(cli_failed))
  expect_identical(failed$error_message, "merge key missing")
})
