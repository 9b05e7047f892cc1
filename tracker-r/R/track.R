# The run lifecycle: track_init(), track_status(), track_finish(),
# track_error(), with_tracking(), track_flush(), and the hooks that finish the
# run when the R session ends.

# Per-process state of the R side. `started` is read by every hot call.
.state <- new.env(parent = emptyenv())
.state$started <- FALSE # a run was started in this process (or its parent, before a fork)
.state$open <- FALSE # this process's run is open: not finished by track_finish()/track_error()
.state$run_id <- NULL
.state$last_error <- NULL
.state$error_handler <- FALSE
.state$restore_run_id <- NULL # PIPETRACK_RUN_ID before track_init() set it (NA: unset)

#' Start tracking a run
#'
#' Records that the script started: script name and path, category, host,
#' process id, user, R version, git commit of the script's repository, working
#' directory and the environment (secrets redacted: see [get_env_json()]).
#' Calling it is optional: the first [genter()] starts the run with the
#' defaults below. Call it to set the script name, the category or the number
#' of tasks, which makes progress percentages and time estimates possible.
#'
#' When the process was started by `pipetrack run` (or is a `PSOCK` worker
#' of a tracked script), it joins that run instead of starting a new one: the
#' run id is inherited through the `PIPETRACK_RUN_ID` environment variable,
#' which `track_init()` sets for the processes this script starts while its
#' run is open. [track_finish()] and [track_error()] restore the variable (a
#' run that was joined keeps it): R processes started after the run finished
#' begin runs of their own. A child that must not join even while the run is
#' open calls `track_init(new_run = TRUE)`.
#'
#' Under `Rscript`, `track_init()` also makes an uncaught error mark the run
#' failed (with the condition message, class and traceback) before R exits
#' with status 1, unless `options(error =)` is already set. A run still open
#' when the R session ends normally is finished as completed.
#'
#' @param script_name Script name shown everywhere (default:
#'   [get_script_name()], the file name of the running script).
#' @param total_tasks Number of top-level tasks the script will run, if known.
#' @param category Category (default: from the script name's prefix, see
#'   [detect_script_category()]).
#' @param script_path Path of the script (default: detected).
#' @param log_path Where the script's log goes, if anywhere.
#' @param join_run Id of an existing run to join (default: the inherited
#'   `PIPETRACK_RUN_ID`, if any).
#' @param new_run `TRUE` to start a new run even when a run id was inherited.
#' @param capture_env `FALSE` to not record the (redacted) environment.
#' @param capture_git `FALSE` to not run `git` to record the commit.
#' @param handle_errors `FALSE` to leave `options(error =)` alone under `Rscript`.
#' @return The run id (a string), invisibly; `NULL` when tracking is turned
#'   off with `PIPETRACK_DISABLED=1`.
#' @seealso [genter()], [track_finish()], [with_tracking()].
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR"), unset = NA)
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool")
#' )
#' invisible(track_db_migrate())
#' }
#' run_id <- track_init("STATIC_02_Technology_Codes.R", total_tasks = 2)
#' genter("Download codes")
#' gexit()
#' genter("Load codes")
#' gexit()
#' track_finish()
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
track_init <- function(script_name = NULL, total_tasks = NULL, category = NULL,
                       script_path = NULL, log_path = NULL, join_run = NULL,
                       new_run = FALSE, capture_env = TRUE, capture_git = TRUE,
                       handle_errors = TRUE) {
  call <- sys.call()
  .check_string(script_name, "script_name", call, null_ok = TRUE)
  .check_count(total_tasks, "total_tasks", call, null_ok = TRUE)
  .check_string(category, "category", call, null_ok = TRUE)
  .check_string(script_path, "script_path", call, null_ok = TRUE)
  .check_string(log_path, "log_path", call, null_ok = TRUE)
  .check_string(join_run, "join_run", call, null_ok = TRUE)
  .check_flag(new_run, "new_run", call)
  .check_flag(capture_env, "capture_env", call)
  .check_flag(capture_git, "capture_git", call)
  .check_flag(handle_errors, "handle_errors", call)

  if (is.null(script_path)) {
    detected <- .script_path()
    if (!is.na(detected)) script_path <- detected
  }
  if (is.null(script_name) && !is.null(script_path)) {
    script_name <- basename(script_path)
  }
  run_id <- .unwrap(track_init_rs(
    script_name, script_path, category, total_tasks, paste(R.version$major, R.version$minor, sep = "."),
    log_path, .command_line(), join_run, !capture_env, !capture_git, new_run
  ), call)
  .state$started <- TRUE
  .state$open <- !is.null(run_id)
  .state$run_id <- run_id
  .state$restore_run_id <- NULL
  previous <- Sys.getenv("PIPETRACK_RUN_ID", unset = NA)
  if (!is.null(run_id) && !identical(previous, run_id)) {
    # Processes started from here on (PSOCK workers, system("Rscript ...")) join
    # this run, until it is finished (see .run_closed()). A joined run's id
    # was inherited and stays.
    Sys.setenv(PIPETRACK_RUN_ID = run_id)
    .state$restore_run_id <- previous
  }
  if (handle_errors) .install_error_handler()
  invisible(run_id)
}

# The first genter()/gmessage()/track_progress() of a script that did not call track_init().
.auto_init <- function() {
  .state$started <- TRUE # set first: a failing init must not be retried on every call
  track_init()
}

.command_line <- function() {
  paste(commandArgs(), collapse = " ")
}

#' Update the live status of the run
#'
#' Sets any of the run's live fields without entering a task: the progress
#' message, a label for the current step, the sub-progress of the current task,
#' or a new number of top-level tasks. Fields left `NULL` keep their value.
#'
#' @param message Progress message.
#' @param current_task Label of the current step (no task is entered).
#' @param done,total Sub-progress of the current task; give both.
#' @param total_tasks New expected number of top-level tasks.
#' @return `NULL`, invisibly.
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR"), unset = NA)
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool")
#' )
#' invisible(track_db_migrate())
#' }
#' track_init("DAILY_01_BDC_Locations.R")
#' track_status(message = "Waiting for the FCC API", total_tasks = 5)
#' track_status(done = 10, total = 50)
#' track_finish()
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
track_status <- function(message = NULL, current_task = NULL, done = NULL,
                         total = NULL, total_tasks = NULL) {
  call <- sys.call()
  .check_string(message, "message", call, null_ok = TRUE)
  .check_string(current_task, "current_task", call, null_ok = TRUE)
  .check_count(done, "done", call, null_ok = TRUE)
  .check_count(total, "total", call, null_ok = TRUE)
  .check_count(total_tasks, "total_tasks", call, null_ok = TRUE)
  if (is.null(done) != is.null(total)) {
    stop(pipetrack_error(
      "invalid_argument",
      "give both `done` and `total` (sub-progress is `done` of `total` items), or neither",
      call
    ))
  }
  if (!.state$started) .auto_init()
  invisible(.unwrap(track_status_rs(message, current_task, done, total, total_tasks), call))
}

#' Finish the run
#'
#' `track_finish()` marks the run completed; `track_error()` marks it failed
#' with an error message, the error class and a traceback. Tasks still open
#' are closed first (as completed, or as failed). Both are optional at the end
#' of a script: a run still open when R exits normally is completed, and under
#' `Rscript` an uncaught error fails it (see [track_init()]); [with_tracking()]
#' does both for a block of code.
#'
#' In a process that joined another's run (`pipetrack run`, a `PSOCK` worker,
#' an `mclapply()` worker), only the tasks of this process are closed: the run
#' belongs to the process that started it.
#'
#' Call `track_error()` from a [withCallingHandlers()] handler: it runs
#' where the error happened, so the traceback recorded holds every call that
#' led to it. A [tryCatch()] handler runs after R has left those calls: the
#' traceback then holds the error's call and the calls outside `tryCatch()`
#' only, with a line saying so (an error that reached R's top level under
#' `Rscript` keeps its full traceback, captured when it was raised).
#'
#' Finishing the run this process started also restores
#' `PIPETRACK_RUN_ID` to what it was before [track_init()] (usually unset),
#' so R processes started afterwards begin runs of their own.
#'
#' @param error A condition (its message, class and call are recorded) or a
#'   message string.
#' @param traceback Traceback text; by default the calls that led to the
#'   error (for a condition) or to the `track_error()` call (for a string),
#'   most recent first.
#' @return `NULL`, invisibly.
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR"), unset = NA)
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool")
#' )
#' invisible(track_db_migrate())
#' }
#' track_init("STATIC_02_Technology_Codes.R")
#' download_codes <- function() stop("the FCC server answered 503")
#' # The handler of withCallingHandlers() runs where the error happened: the
#' # traceback recorded includes download_codes(). tryCatch() then recovers.
#' result <- tryCatch(
#'   withCallingHandlers(
#'     {
#'       genter("Download codes")
#'       download_codes()
#'     },
#'     error = function(e) track_error(e)
#'   ),
#'   error = function(e) NULL
#' )
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
track_finish <- function() {
  result <- .unwrap(track_finish_rs(), sys.call())
  .run_closed()
  invisible(result)
}

#' @rdname track_finish
#' @export
track_error <- function(error, traceback = NULL) {
  call <- sys.call()
  .check_string(traceback, "traceback", call, null_ok = TRUE)
  if (inherits(error, "condition")) {
    message <- conditionMessage(error)
    class <- class(error)[[1L]]
    if (is.null(traceback)) traceback <- .condition_traceback(error, sys.calls())
  } else {
    .check_string(error, "error", call)
    message <- error
    class <- NULL
    if (is.null(traceback)) traceback <- .format_traceback(sys.calls(), NULL, drop_last = 1L)
  }
  if (!nzchar(message)) message <- "(an error without a message)"
  result <- .unwrap(track_error_rs(message, class, traceback), call)
  .run_closed()
  invisible(result)
}

# The traceback of a condition handed to track_error() (whose frame is the
# last of `calls`).
.condition_traceback <- function(error, calls) {
  # An error that reached the global calling handler: its stack was captured there.
  last <- .state$last_error
  if (!is.null(last) && !is.null(last$traceback) && identical(last$condition, error)) {
    return(last$traceback)
  }
  calls <- calls[-length(calls)]
  # In a calling handler (withCallingHandlers()) the frames that led to the
  # error are still on the stack, below R's signalling functions.
  signalling <- which(vapply(calls, .call_name, character(1L)) %in% .signal_functions)
  if (length(signalling) > 0L) {
    return(.format_traceback(calls[seq_len(max(signalling))], conditionCall(error)))
  }
  # In an exiting handler (tryCatch()) they are gone: what is left is the
  # stack outside the tryCatch() that caught the error.
  names <- vapply(calls, .call_name, character(1L))
  catching <- which(names == "tryCatch")
  outside <- if (length(catching) > 0L) calls[seq_len(max(catching) - 1L)] else list()
  text <- .format_traceback(outside, conditionCall(error))
  note <- paste(
    "(the calls between tryCatch() and the error are not known here: track_error() was called",
    "after R left them; call it from a withCallingHandlers() handler to record them)"
  )
  lines <- strsplit(text, "\n", fixed = TRUE)[[1L]]
  if (!is.null(conditionCall(error))) {
    paste(c(lines[[1L]], note, lines[-1L]), collapse = "\n")
  } else {
    paste(c(note, lines), collapse = "\n")
  }
}

# R's functions between the call that raised a condition and its calling handlers.
.signal_functions <- c(
  "stop", "warning", "signalCondition", ".handleSimpleError", ".signalSimpleWarning",
  "abort", "signal_abort", "cnd_signal"
)

.call_name <- function(cl) {
  fn <- if (is.call(cl)) cl[[1L]] else NULL
  if (is.call(fn) && (identical(fn[[1L]], as.name("::")) || identical(fn[[1L]], as.name(":::")))) {
    fn <- fn[[3L]]
  }
  if (is.name(fn)) as.character(fn) else ""
}

# The run this process opened is closed: later tracking calls need a new run,
# and processes started from here on no longer join it.
.run_closed <- function() {
  .state$open <- FALSE
  restore <- .state$restore_run_id
  if (!is.null(restore) && identical(Sys.getenv("PIPETRACK_RUN_ID"), .state$run_id)) {
    if (is.na(restore)) Sys.unsetenv("PIPETRACK_RUN_ID") else Sys.setenv(PIPETRACK_RUN_ID = restore)
  }
  .state$restore_run_id <- NULL
  invisible(NULL)
}

#' Track a block of code as a run
#'
#' Runs `expr` inside a run: starts one (with `...` passed to [track_init()])
#' unless one is already open, records an error raised by `expr` (message,
#' class, call and traceback) and re-raises it, and finishes the run as
#' completed when `expr` succeeds.
#'
#' When a run is already open (started by [track_init()] or the first
#' [genter()]), `total_tasks` is applied to it with [track_status()]; the
#' other arguments of `...` describe how a run starts, so they are ignored
#' with a warning (class `pipetrack_warning`): give them to `track_init()`.
#'
#' @param expr The script body.
#' @param ... Passed to [track_init()] when a run is started.
#' @param finish `FALSE` to leave the run open after `expr` succeeds.
#' @return The value of `expr`.
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR"), unset = NA)
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool")
#' )
#' invisible(track_db_migrate())
#' }
#' total <- with_tracking(script_name = "PERIODIC_01_Refresh.R", total_tasks = 1, {
#'   genter("Sum")
#'   s <- sum(1:10)
#'   gexit()
#'   s
#' })
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
with_tracking <- function(expr, ..., finish = TRUE) {
  call <- sys.call()
  .check_flag(finish, "finish", call)
  if (!.state$open) {
    track_init(...)
  } else if (...length() > 0L) {
    .apply_to_open_run(list(...), call)
  }
  frame <- sys.nframe()
  value <- withCallingHandlers(expr, error = function(e) {
    traceback <- .format_traceback(sys.calls(), conditionCall(e), drop_first = frame)
    .record_error(e, traceback)
  })
  if (finish) track_finish()
  value
}

# with_tracking(...) inside an open run: what can be applied is, the rest is
# ignored with a warning.
.apply_to_open_run <- function(args, call) {
  given <- names(args)
  if (is.null(given) || any(!nzchar(given))) {
    stop(pipetrack_error(
      "invalid_argument",
      "the arguments of with_tracking() other than `expr` must be named (they are passed to track_init())",
      call
    ))
  }
  if ("total_tasks" %in% given) track_status(total_tasks = args$total_tasks)
  ignored <- setdiff(given, "total_tasks")
  if (length(ignored) > 0L) {
    warning(pipetrack_warning(sprintf(
      "with_tracking(): a run is already open (started by track_init() or the first genter()), so %s %s ignored; give %s to that track_init() call instead",
      paste0("`", ignored, "`", collapse = ", "), if (length(ignored) == 1L) "is" else "are",
      if (length(ignored) == 1L) "it" else "them"
    ), call))
  }
  invisible(NULL)
}

# Records an error condition unless the run is already closed (an error
# recorded by an inner with_tracking(), or by track_error()).
.record_error <- function(e, traceback) {
  if (!.state$open) {
    return(invisible(NULL))
  }
  .run_closed()
  message <- conditionMessage(e)
  if (!nzchar(message)) message <- "(an error without a message)"
  result <- track_error_rs(message, class(e)[[1L]], traceback)
  # A run that is already finished is fine here; a tracking warning is not lost.
  .raise(.warnings_only(result$signals), NULL)
  invisible(NULL)
}

# A traceback as traceback() prints it: most recent call first, numbered.
# Frames up to `drop_first` (with_tracking() and what called it) and the last
# `drop_last` frames (the handler itself) are left out, and so are R's
# condition machinery around them (withCallingHandlers() before the script's
# frames, stop() and .handleSimpleError() after the failing call).
.format_traceback <- function(calls, error_call, drop_first = 0L, drop_last = 0L) {
  n <- length(calls)
  name_of <- function(cl) {
    fn <- if (is.call(cl)) cl[[1L]] else NULL
    if (is.name(fn)) as.character(fn) else ""
  }
  first <- drop_first + 1L
  last <- n - drop_last
  while (first <= last && name_of(calls[[first]]) %in% c("withCallingHandlers", "force")) first <- first + 1L
  while (last >= first && name_of(calls[[last]]) %in% c(.signal_functions, "h")) {
    last <- last - 1L
  }
  keep <- if (first <= last) seq.int(first, last) else integer()
  lines <- vapply(calls[keep], function(cl) {
    paste(deparse(cl, width.cutoff = 200L, nlines = 3L), collapse = " ")
  }, character(1L))
  text <- if (length(lines) > 0L) {
    paste0(rev(seq_along(lines)), ": ", rev(lines), collapse = "\n")
  } else {
    ""
  }
  if (!is.null(error_call)) {
    text <- paste0(
      "Error in ", paste(deparse(error_call, width.cutoff = 200L, nlines = 3L), collapse = " "),
      if (nzchar(text)) "\n" else "", text
    )
  }
  text
}

#' Wait until the recorded events are stored
#'
#' Tracking calls hand their events to a background writer; `track_flush()`
#' waits (at most `timeout` seconds) until everything recorded so far is in
#' the database, or in the disk spool when the database cannot be reached.
#' Scripts do not need it: R's exit does the same.
#'
#' @param timeout Longest wait, in seconds.
#' @return A list: `complete` (everything is in the database), `spooled`
#'   (events of this process waiting in the spool), `timed_out`.
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR"), unset = NA)
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool")
#' )
#' invisible(track_db_migrate())
#' }
#' track_init("PERIODIC_03_Flush.R")
#' genter("Load")
#' gexit()
#' str(track_flush())
#' track_finish()
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
track_flush <- function(timeout = 5) {
  call <- sys.call()
  if (!is.numeric(timeout) || length(timeout) != 1L || is.na(timeout) || timeout < 0) {
    stop(pipetrack_error("invalid_argument", sprintf("`timeout` must be a number of seconds >= 0, not %s", .describe(timeout)), call))
  }
  .unwrap(flush_rs(timeout * 1000), call)
}

#' The id of the current run
#'
#' The id under which this process reports: the run it started, or the run it
#' joined (`pipetrack run`, a `PSOCK` worker). It stays available after the
#' run is finished. Use it to look the run up with
#' `get_script_progress(run_id =)` or to tie your own logs to it.
#'
#' @return The run id of this process's run (a string), or `NULL` before the
#'   first tracking call.
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR"), unset = NA)
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool")
#' )
#' invisible(track_db_migrate())
#' }
#' track_init("PERIODIC_04_Run_Id.R")
#' id <- track_run_id()
#' message("this run is ", id)
#' track_finish()
#' identical(track_run_id(), id)
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
track_run_id <- function() {
  current_run_id_rs()
}

# Under Rscript, an uncaught error fails the run before R exits.
.install_error_handler <- function() {
  if (interactive() || !is.null(getOption("error")) || .state$error_handler) {
    return(invisible(FALSE))
  }
  # A global calling handler sees the condition (with its class and the stack)
  # before R's default handler prints it; options(error) then runs at top
  # level. R refuses to register one while any handler is established, so it
  # is only registered when no frame on the stack establishes one; otherwise
  # the error is recovered from geterrmessage() (class simpleError).
  registered <- .no_handlers_on_stack()
  if (registered) globalCallingHandlers(error = .remember_error)
  options(error = .on_uncaught_error)
  .state$error_handler <- TRUE
  invisible(registered)
}

.no_handlers_on_stack <- function() {
  establishing <- c("withCallingHandlers", "tryCatch", "try", "doTryCatch", "suppressWarnings", "suppressMessages")
  for (cl in sys.calls()) {
    fn <- if (is.call(cl)) cl[[1L]] else NULL
    if (is.call(fn) && (identical(fn[[1L]], as.name("::")) || identical(fn[[1L]], as.name(":::")))) {
      fn <- fn[[3L]]
    }
    if (is.call(fn) || (is.name(fn) && as.character(fn) %in% establishing)) {
      return(FALSE) # a handler is (or, for an anonymous function, may be) established
    }
  }
  TRUE
}

# The global error handler: remembers the latest error and its stack. It runs
# for every error signalled in the session, caught or not, so it must never fail.
.remember_error <- function(e) {
  calls <- sys.calls()
  .state$last_error <- tryCatch(
    list(condition = e, traceback = .format_traceback(calls, conditionCall(e), drop_last = 1L)),
    error = function(err) list(condition = e, traceback = NULL)
  )
}

.on_uncaught_error <- function() {
  # Whatever happens while recording, R must still exit with status 1.
  try(.record_uncaught_error(), silent = TRUE)
  # What R does after an uncaught error without options(error).
  cat("Execution halted\n", file = stderr())
  q("no", status = 1L, runLast = FALSE)
}

.record_uncaught_error <- function() {
  last <- .state$last_error
  if (!is.null(last)) {
    .record_error(last$condition, last$traceback)
  } else {
    text <- sub("\nCalls: .*$", "", trimws(geterrmessage()))
    message <- trimws(sub("^Error( in .*?)? : ?", "", sub("^Error: ", "", text), perl = TRUE))
    .record_error(simpleError(message), .format_traceback(sys.calls(), NULL, drop_last = 2L))
  }
  .shutdown(1L)
}

# Finishes a run left open, flushes, and tells about tracking problems (at
# exit, on stderr: warnings would not be shown any more).
.shutdown <- function(status = 0L) {
  result <- shutdown_rs(as.integer(status))
  for (m in .messages(result$signals)) cat("pipetrack: warning: ", m, "\n", sep = "", file = stderr())
  invisible(result$value)
}
