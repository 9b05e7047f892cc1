# The tracking API end to end: a real Rscript process reports into a real store,
# and the query functions read what landed.

test_each_store("a script's run, tasks, messages and progress land in the store", function(store) {
  result <- run_script(c(
    'run_id <- track_init(total_tasks = 2)',
    'stopifnot(identical(run_id, track_run_id()), identical(Sys.getenv("PIPETRACK_RUN_ID"), run_id))',
    'states <- c("AL", "AK", "AZ")',
    'genter("Load states")',
    'for (i in seq_along(states)) {',
    '  state <- states[[i]]',
    '  gmessage("Loading {state}")',
    '  track_progress(i, length(states))',
    '}',
    'gexit()',
    'genter("Write output")',
    'track_status(message = "writing", total_tasks = 2)',
    'gexit()',
    'track_finish()',
    'cat("RUN", run_id, "\\n")'
  ), store)
  expect_script_ok(result)
  run_id <- sub("^RUN (\\S+).*$", "\\1", grep("^RUN ", result$output, value = TRUE))

  tasks <- latest_progress(store)
  run <- attr(tasks, "run")
  expect_identical(run$run_id, run_id)
  expect_identical(run$script_name, "ANNUAL_DEC_01_Test.R")
  expect_identical(run$category, "ANNUAL_DEC")
  expect_identical(run$status, "completed")
  expect_identical(run$language, "R")
  expect_identical(run$language_version, paste(R.version$major, R.version$minor, sep = "."))
  expect_identical(run$total_tasks, 2L)
  expect_identical(run$tasks_done, 2L)
  expect_identical(run$script_path, normalizePath(result$file))
  expect_identical(attr(tasks, "state"), factor("completed", levels = pipetrack:::.run_states))

  expect_identical(tasks$name, c("Load states", "Write output"))
  expect_identical(as.character(tasks$status), c("completed", "completed"))
  expect_identical(tasks$message[[1]], "Loading AZ")
  expect_identical(tasks$progress_done[[1]], 3)
  expect_identical(tasks$progress_total[[1]], 3)
  expect_s3_class(tasks$started_at, "POSIXct")
  expect_true(all(tasks$finished_at >= tasks$started_at))
  expect_true(all(abs(as.numeric(Sys.time()) - as.numeric(tasks$started_at)) < 300))
})

test_each_store("the first genter() starts the run without track_init(); R's exit completes it", function(store) {
  result <- run_script(c(
    'genter("Only task")',
    'gexit()'
  ), store, name = "DAILY_07_No_Init.R")
  expect_script_ok(result)
  tasks <- latest_progress(store, "DAILY_07_No_Init.R")
  run <- attr(tasks, "run")
  expect_identical(run$script_name, "DAILY_07_No_Init.R")
  expect_identical(run$category, "DAILY")
  expect_identical(run$status, "completed")
  expect_identical(tasks$name, "Only task")
  status <- with_store(store, get_current_status())
  expect_identical(status$script_name, "DAILY_07_No_Init.R")
  expect_identical(as.character(status$status), "completed")
})

test_each_store("names and messages are interpolated with glue in the caller's environment, only when braced", function(store) {
  result <- run_script(c(
    'state <- "global"',
    'load_state <- function(state) {',
    '  genter("Processing {state}")',
    '  gmessage("{nchar(state)} letters")',
    '  gexit()',
    '}',
    'load_state("WY")',
    'genter("Literal {{braces}} stay")',
    'gexit()',
    'genter("Plain name (no braces)")',
    'gexit()',
    'r <- tryCatch(genter("Missing {nowhere}"), pipetrack_invalid_argument = function(e) conditionMessage(e))',
    'cat("ERR", r, "\\n")'
  ), store)
  expect_script_ok(result)
  expect_match(paste(result$output, collapse = "\n"), "ERR cannot interpolate \"Missing \\{nowhere\\}\": .*nowhere.*not found")
  tasks <- latest_progress(store)
  expect_identical(tasks$name, c("Processing WY", "Literal {braces} stay", "Plain name (no braces)"))
  expect_identical(tasks$message[[1]], "2 letters")
})

test_each_store("an uncaught error under Rscript fails the run with message, class and traceback, and exits 1", function(store) {
  result <- run_script(c(
    'track_init()',
    'read_state <- function(state) stop("no file for state ", state)',
    'load_all <- function() { genter("Load"); read_state("AK") }',
    'load_all()',
    'cat("NOT REACHED\\n")'
  ), store)
  expect_identical(result$status, 1L)
  expect_false(any(grepl("NOT REACHED", result$output)))
  expect_true(any(grepl("no file for state AK", result$output)))
  tasks <- latest_progress(store)
  run <- attr(tasks, "run")
  expect_identical(run$status, "failed")
  expect_identical(run$error_message, "no file for state AK")
  expect_identical(run$error_class, "simpleError")
  expect_match(run$error_traceback, "Error in read_state(\"AK\")", fixed = TRUE)
  expect_match(run$error_traceback, "2: read_state(\"AK\")", fixed = TRUE)
  expect_match(run$error_traceback, "1: load_all()", fixed = TRUE)
  expect_identical(as.character(tasks$status), "failed")
})

test_each_store("with_tracking() records an error with its call and traceback, then re-raises it", function(store) {
  result <- run_script(c(
    'inner <- function(x) if (x > 1) stop(structure(class = c("fcc_api_error", "error", "condition"), list(message = "FCC API answered 503", call = sys.call())))',
    'caught <- tryCatch(',
    '  with_tracking(total_tasks = 3, {',
    '    genter("Download")',
    '    inner(2)',
    '  }),',
    '  fcc_api_error = function(e) paste("re-raised:", conditionMessage(e))',
    ')',
    'cat(caught, "\\n")'
  ), store)
  expect_script_ok(result)
  expect_true(any(grepl("re-raised: FCC API answered 503", result$output)))
  run <- attr(latest_progress(store), "run")
  expect_identical(run$status, "failed")
  expect_identical(run$error_message, "FCC API answered 503")
  expect_identical(run$error_class, "fcc_api_error")
  expect_match(run$error_traceback, "Error in inner(2)", fixed = TRUE)
  expect_match(run$error_traceback, "1: inner(2)", fixed = TRUE)
})

test_each_store("with_tracking() returns the value and completes the run; track_error() fails it explicitly", function(store) {
  ok <- run_script(c(
    'v <- with_tracking(script_name = "PERIODIC_02_Sum.R", { genter("Sum"); s <- sum(1:10); gexit(); s })',
    'stopifnot(v == 55)'
  ), store)
  expect_script_ok(ok)
  run <- attr(latest_progress(store, "PERIODIC_02_Sum.R"), "run")
  expect_identical(run$status, "completed")
  expect_identical(run$category, "PERIODIC")

  failed <- run_script(c(
    'track_init("STATIC_02_Technology_Codes.R")',
    'genter("Download codes")',
    'tryCatch(stop("server answered 503"), error = function(e) track_error(e))'
  ), store)
  expect_script_ok(failed)
  tasks <- latest_progress(store, "STATIC_02_Technology_Codes.R")
  run <- attr(tasks, "run")
  expect_identical(run$status, "failed")
  expect_identical(run$error_message, "server answered 503")
  expect_identical(as.character(tasks$status), "failed")
  failures <- with_store(store, get_failed_scripts())
  expect_identical(failures$script_name, "STATIC_02_Technology_Codes.R")
  expect_identical(failures$error_message, "server answered 503")
})

test_each_store("track_error() from a handler records the frames that led to the error", function(store) {
  # withCallingHandlers(): the handler runs where the error happened, every frame is known.
  calling <- run_script(c(
    'track_init("STATIC_03_Calling.R")',
    'read_state <- function(state) stop("no file for state ", state)',
    'load_all <- function() { genter("Load"); read_state("AK") }',
    'r <- tryCatch(',
    '  withCallingHandlers(load_all(), error = function(e) track_error(e)),',
    '  error = function(e) "recovered"',
    ')',
    'cat("R", r, "\\n")'
  ), store)
  expect_script_ok(calling)
  expect_true(any(grepl("^R recovered", calling$output)))
  tasks <- latest_progress(store, "STATIC_03_Calling.R")
  run <- attr(tasks, "run")
  expect_identical(run$status, "failed")
  expect_identical(run$error_message, "no file for state AK")
  tb <- strsplit(run$error_traceback, "\n", fixed = TRUE)[[1]]
  expect_identical(tb[[1]], "Error in read_state(\"AK\")")
  # Most recent first: the failing function, then its caller; nothing of the handler.
  expect_match(tb[[2]], "^[0-9]+: read_state\\(\"AK\"\\)$")
  expect_match(tb[[3]], "^[0-9]+: load_all\\(\\)$")
  expect_false(any(grepl("^[0-9]+: (track_error|\\.handleSimpleError|h|stop)\\(", tb)))
  expect_identical(as.character(tasks$status), "failed")

  # tryCatch(): the handler runs after R left the failing frames. What is
  # recorded is true: the error's call, a line saying what is missing, and
  # the frames outside tryCatch().
  exiting <- run_script(c(
    'track_init("STATIC_04_Exiting.R")',
    'read_state <- function(state) stop("no file for state ", state)',
    'load_all <- function() { genter("Load"); read_state("AK") }',
    'main <- function() tryCatch(load_all(), error = function(e) track_error(e))',
    'main()'
  ), store)
  expect_script_ok(exiting)
  run <- attr(latest_progress(store, "STATIC_04_Exiting.R"), "run")
  tb <- strsplit(run$error_traceback, "\n", fixed = TRUE)[[1]]
  expect_identical(tb[[1]], "Error in read_state(\"AK\")")
  expect_match(tb[[2]], "call it from a withCallingHandlers() handler", fixed = TRUE)
  expect_identical(tb[-(1:2)], "1: main()")

  # The docs' example (docs/r.md): track_error() then stop(e) in a
  # withCallingHandlers() handler: the run fails once, with the full traceback.
  docs <- run_script(c(
    'track_init("STATIC_05_Docs.R", total_tasks = 1)',
    'write_tables <- function(x) stop("disk full")',
    'genter("Write tables")',
    'withCallingHandlers(write_tables(1), error = function(e) track_error(e))'
  ), store)
  expect_identical(docs$status, 1L)
  run <- attr(latest_progress(store, "STATIC_05_Docs.R"), "run")
  expect_identical(run$status, "failed")
  expect_identical(run$error_message, "disk full")
  expect_match(run$error_traceback, "^Error in write_tables\\(1\\)\n[0-9]+: write_tables\\(1\\)")
})

test_that("track_error() reuses the traceback the global handler captured for the same condition", {
  e <- simpleError("boom", quote(f()))
  old <- pipetrack:::.state$last_error
  withr::defer(assign("last_error", old, envir = pipetrack:::.state))
  assign("last_error", list(condition = e, traceback = "Error in f()\n2: f()\n1: g()"), envir = pipetrack:::.state)
  expect_identical(pipetrack:::.condition_traceback(e, list(quote(track_error(e)))), "Error in f()\n2: f()\n1: g()")
  # Another condition: not reused.
  other <- simpleError("other", quote(h()))
  expect_false(identical(pipetrack:::.condition_traceback(other, list(quote(track_error(e)))), "Error in f()\n2: f()\n1: g()"))
})

test_each_store("track_status() current_task, done/total, message and total_tasks land in the store", function(store) {
  result <- run_script(c(
    'track_init(total_tasks = 2)',
    'genter("Download")',
    'track_status(message = "Waiting for the FCC API", current_task = "Polling the API", done = 10, total = 50, total_tasks = 3)',
    'f <- track_flush(10)',
    'stopifnot(isTRUE(f$complete), !isTRUE(f$timed_out))',
    'Sys.setenv(PIPETRACK_CACHE_TTL_SECS = "0")',
    'p <- get_script_progress(run_id = track_run_id())',
    'run <- attr(p, "run")',
    'cat("LIVE", run$current_task, "|", run$message, "|", run$progress_done, run$progress_total, "|", run$total_tasks, "|",',
    '    p$progress_done, p$progress_total, "|", p$message, "\\n")',
    'gexit()'
  ), store)
  expect_script_ok(result)
  live <- grep("^LIVE ", result$output, value = TRUE)
  expect_identical(live, "LIVE Polling the API | Waiting for the FCC API | 10 50 | 3 | 10 50 | Waiting for the FCC API ")
  run <- attr(latest_progress(store), "run")
  expect_identical(run$total_tasks, 3L)
  expect_identical(run$status, "completed")
})

test_each_store("track_flush() waits until the events are in the store", function(store) {
  result <- run_script(c(
    'track_init()',
    'genter("Flushed task")',
    'gmessage("before the flush")',
    'f <- track_flush(10)',
    'cat("FLUSH", f$complete, f$spooled, f$timed_out, "\\n")',
    'Sys.setenv(PIPETRACK_CACHE_TTL_SECS = "0")',
    'p <- get_script_progress(run_id = track_run_id())',
    'cat("SEEN", p$name, "|", p$message, "\\n")',
    'gexit()'
  ), store, env = c(PIPETRACK_FLUSH_MS = "60000"))
  expect_script_ok(result)
  expect_true("FLUSH TRUE 0 FALSE " %in% result$output)
  # With batches held for a minute, only the flush can have written them.
  expect_true("SEEN Flushed task | before the flush " %in% result$output)
})

test_each_store("the run records the script's git commit and a redacted environment", function(store) {
  skip_if(!nzchar(Sys.which("git")), "git is not installed")
  git <- local_git_repo()
  repo <- git$dir
  head <- git$head
  result <- run_script(c('genter("Load")', "gexit()"), store,
    name = "DAILY_08_Git.R", dir = repo,
    env = c(PIPETRACK_TEST_API_TOKEN = "tok-9f8e7d", PIPETRACK_TEST_VISIBLE = "plain-value")
  )
  expect_script_ok(result)
  run <- attr(latest_progress(store, "DAILY_08_Git.R"), "run")
  expect_identical(run$git_commit, head)
  env <- run$env
  if (is.character(env)) env <- jsonlite::fromJSON(env)
  expect_true("PIPETRACK_TEST_API_TOKEN" %in% names(env))
  expect_false(identical(env$PIPETRACK_TEST_API_TOKEN, "tok-9f8e7d"))
  expect_false(grepl("tok-9f8e7d", jsonlite::toJSON(env, auto_unbox = TRUE)))
  expect_identical(env$PIPETRACK_TEST_VISIBLE, "plain-value")
})

test_each_store("a finished run's id is not inherited by R processes started afterwards", function(store) {
  result <- run_script(c(
    'first <- track_init()',
    'track_finish()',
    '# run_script() starts this script with PIPETRACK_RUN_ID="" (not joining): that is restored.',
    'stopifnot(identical(Sys.getenv("PIPETRACK_RUN_ID", unset = NA), ""))',
    'child <- system2(file.path(R.home("bin"), "Rscript"),',
    '  c("-e", shQuote("library(pipetrack); cat(track_init(\\"DAILY_09_Child.R\\")); track_finish()")), stdout = TRUE)',
    'cat("IDS", first, child, "\\n")'
  ), store)
  expect_script_ok(result)
  ids <- strsplit(sub("^IDS ", "", grep("^IDS ", result$output, value = TRUE)), " ")[[1]]
  expect_length(ids, 2L)
  expect_false(identical(ids[[1]], ids[[2]]))
  expect_identical(nrow(with_store(store, get_script_history())), 2L)
  child <- attr(latest_progress(store, "DAILY_09_Child.R"), "run")
  expect_identical(child$run_id, ids[[2]])
  expect_identical(child$status, "completed")
})
