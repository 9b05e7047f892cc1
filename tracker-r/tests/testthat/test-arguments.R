# API misuse is an R error that says what to fix, of class pipetrack_error and
# a class per kind. These run in this process (see setup-session.R).

test_that("bad arguments are errors that name the argument and what is expected", {
  expect_error(genter(1), class = "pipetrack_invalid_argument", regexp = "`name` must be a single string, not a double")
  expect_error(genter(NA_character_), "`name` must be a single string, not NA", class = "pipetrack_error")
  expect_error(genter(c("a", "b")), "not a character vector of length 2", class = "pipetrack_error")
  expect_error(genter(""), "task name is empty", class = "pipetrack_invalid_argument")
  expect_error(gmessage(list()), "`message` must be a single string, not a list vector of length 0")
  expect_error(track_progress("a", 3), "`done` must be a single whole number, not a character", class = "pipetrack_invalid_argument")
  expect_error(track_progress(1, NA), "`total` must be a single whole number, not NA")
  expect_error(track_progress(5, 3), "progress done \\(5\\) is greater than its total \\(3\\)", class = "pipetrack_invalid_argument")
  # Never truncated: 2.5 of 10 is refused like track_status(done = 2.5).
  expect_error(track_progress(2.5, 10), "`done` must be a whole number >= 0, not 2.5", class = "pipetrack_invalid_argument")
  expect_error(track_progress(2, 10.5), "`total` must be a whole number >= 0, not 10.5", class = "pipetrack_invalid_argument")
  expect_error(track_status(done = 2.5, total = 10), "`done` must be a whole number >= 0, not 2.5", class = "pipetrack_invalid_argument")
  expect_error(gmessage(NA_character_), "`message` must be a single string, not NA", class = "pipetrack_invalid_argument")
  expect_error(track_status(done = 1), "give both `done` and `total`", class = "pipetrack_invalid_argument")
  expect_error(track_status(total_tasks = -1), "`total_tasks` must be a whole number >= 0, not -1")
  expect_error(track_init(script_name = 3), "`script_name` must be a single string")
  expect_error(track_init(new_run = "yes"), "`new_run` must be TRUE or FALSE")
  expect_error(track_error(42), "`error` must be a single string, not a double")
  expect_error(track_flush(-1), "`timeout` must be a number of seconds >= 0")
  expect_error(get_script_history(status = "done"), "`status` must be among \"running\", \"completed\"")
  expect_error(get_script_history(from = "yesterday"), "`from` must be one time")
  expect_error(get_script_progress(), "give `script_name` or `run_id`")
  expect_error(get_script_progress(run_id = "nope"), "\"nope\" is not a valid run id", class = "pipetrack_invalid_argument")
  expect_error(detect_script_category(1), "`script_name` must be a character vector")
})

finish_open_run <- function() {
  if (pipetrack:::.state$open) track_finish()
}

test_that("calls in the wrong order are errors of their own class", {
  finish_open_run()
  track_init("test-arguments.R", handle_errors = FALSE)
  expect_error(gexit(), "gexit was called but no task is open", class = "pipetrack_no_open_task")
  expect_error(track_init("again.R"), class = "pipetrack_already_started")
  genter("A task")
  expect_null(gexit())
  track_finish()
  expect_error(track_finish(), class = "pipetrack_run_finished")
  expect_error(genter("after the end"), class = "pipetrack_run_finished")
  # A new run can start after the previous one finished.
  id <- track_init("test-arguments-2.R", handle_errors = FALSE)
  expect_match(id, "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
  expect_identical(track_run_id(), id)
  track_finish()
})

test_that("hot calls return invisible NULL", {
  finish_open_run()
  track_init("test-arguments-3.R", handle_errors = FALSE)
  expect_invisible(genter("x"))
  expect_invisible(gmessage("m"))
  expect_invisible(track_progress(1L, 2L))
  expect_invisible(gexit())
  track_finish()
})

test_that("track_progress() with whole doubles records them (no error, no truncation path)", {
  finish_open_run()
  track_init("test-arguments-progress.R", handle_errors = FALSE)
  genter("Count")
  expect_null(track_progress(3, 10))
  expect_null(track_progress(4L, 10L))
  gexit()
  track_finish()
})

test_that("glue giving no string or several is an error with a hint, not an extendr error", {
  finish_open_run()
  track_init("test-arguments-glue.R", handle_errors = FALSE)
  states <- c("AL", "AK", "AZ")
  none <- character()
  err <- expect_error(genter("Load {states}"), class = "pipetrack_invalid_argument")
  expect_match(conditionMessage(err), "`name` must interpolate to a single string, but \"Load {states}\" gives 3 strings", fixed = TRUE)
  expect_match(conditionMessage(err), "paste(x, collapse = \", \")", fixed = TRUE)
  expect_s3_class(err, "pipetrack_error")
  err <- expect_error(genter("Load {none}"), class = "pipetrack_invalid_argument")
  expect_match(conditionMessage(err), "gives no string (a value it interpolates has length 0)", fixed = TRUE)
  err <- expect_error(gmessage("Loading {states}"), class = "pipetrack_invalid_argument")
  expect_match(conditionMessage(err), "`message` must interpolate to a single string", fixed = TRUE)
  # The call named in the error is the user's.
  expect_identical(conditionCall(err), quote(gmessage("Loading {states}")))
  # Nothing was entered: the next gexit() has no task to close.
  expect_error(gexit(), class = "pipetrack_no_open_task")
  # The suggested fix works.
  expect_null(genter("Load {paste(states, collapse = \", \")}"))
  expect_null(gexit())
  track_finish()
})

test_that("PIPETRACK_RUN_ID is set while this process's run is open and restored when it ends", {
  finish_open_run()
  withr::local_envvar(PIPETRACK_RUN_ID = NA)
  id <- track_init("test-arguments-run-id.R", handle_errors = FALSE)
  expect_identical(Sys.getenv("PIPETRACK_RUN_ID"), id)
  track_finish()
  expect_identical(Sys.getenv("PIPETRACK_RUN_ID", unset = NA), NA_character_)
  # track_run_id() still names the finished run.
  expect_identical(track_run_id(), id)

  # track_error() restores it as well, to a previous value when there was one.
  withr::local_envvar(PIPETRACK_RUN_ID = "")
  id2 <- track_init("test-arguments-run-id-2.R", handle_errors = FALSE, new_run = TRUE)
  expect_false(identical(id2, id))
  expect_identical(Sys.getenv("PIPETRACK_RUN_ID"), id2)
  track_error("stopped on purpose")
  expect_identical(Sys.getenv("PIPETRACK_RUN_ID", unset = NA), "")
})

test_that("with_tracking() in an open run applies total_tasks and warns that the other arguments are ignored", {
  finish_open_run()
  track_init("test-arguments-with.R", handle_errors = FALSE)
  expect_warning(
    with_tracking(script_name = "OTHER.R", category = "DAILY", total_tasks = 3, finish = FALSE, {
      genter("A")
      gexit()
    }),
    "a run is already open .* so `script_name`, `category` are ignored; give them to that track_init\\(\\) call",
    class = "pipetrack_warning"
  )
  # total_tasks alone: applied, no warning.
  expect_silent(with_tracking(total_tasks = 4, finish = FALSE, NULL))
  expect_error(with_tracking(NULL, "OTHER.R"), "must be named", class = "pipetrack_invalid_argument")
  expect_true(pipetrack:::.state$open)
  id <- track_run_id()
  track_finish()
  detail <- with_store(list(url = Sys.getenv("PIPETRACK_DATABASE_URL")), {
    track_flush(10)
    get_script_progress(run_id = id)
  })
  run <- attr(detail, "run")
  expect_identical(run$script_name, "test-arguments-with.R")
  expect_identical(run$total_tasks, 4L)
  expect_identical(detail$name, "A")
})
