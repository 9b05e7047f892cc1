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
