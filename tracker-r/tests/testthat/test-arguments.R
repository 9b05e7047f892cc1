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
