# The hot calls: genter(), gexit(), gmessage(), track_progress().
#
# Each is a plain function that makes one .Call and checks its result against
# NULL: a few microseconds per call. Everything else (auto-initialisation, glue
# interpolation, argument errors, warnings) happens on the slow path, only
# when needed. They call the registered routines directly instead of the
# generated wrappers to save one closure call.

#' Enter, exit and annotate tasks
#'
#' `genter()` starts a task, `gexit()` ends the innermost open task,
#' `gmessage()` records a progress message for the current task and
#' `track_progress()` its sub-progress (`done` of `total` items). They are
#' drop-in replacements for the `genter()`/`gexit()`/`gmessage()` helpers of
#' existing scripts: no other change is needed.
#'
#' The first call starts a run on its own (see [track_init()] for what is
#' recorded) when the script did not call `track_init()`. Tasks nest: a
#' `genter()` inside an open task opens a sub-task.
#'
#' A `name` or `message` containing `{` is interpolated with
#' [glue::glue()] in the caller's environment: `genter("Processing {state}")`
#' records `Processing AL` when `state` is `"AL"`. Double the braces to keep
#' them literally. Strings without braces are passed as they are, at no cost.
#'
#' Tracking problems (database unreachable, disk full) never stop the script:
#' they are reported once with [warning()] and the events are kept on disk
#' until the database is back. Only mistakes in the calls themselves (a
#' `gexit()` without `genter()`, an empty name, `done` greater than `total`)
#' are errors, of class `pipetrack_error`.
#'
#' Workers of [parallel::mclapply()] and [parallel::mcparallel()] report into
#' the parent's run; their tasks are recorded in a stream of their own.
#'
#' @param name Task name: a single non-empty string, interpolated with glue
#'   when it contains braces.
#' @param message Progress message: a single string, interpolated with glue
#'   when it contains braces.
#' @param done,total Items done so far and items in all, whole numbers with
#'   `0 <= done <= total`.
#' @return `NULL`, invisibly.
#' @seealso [track_init()], [with_tracking()], [track_status()].
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR"), unset = NA)
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool")
#' )
#' invisible(track_db_migrate())
#' }
#' # Without track_init(), the first genter() starts the run.
#' states <- c("AL", "AK", "AZ")
#' genter("Load states")
#' for (i in seq_along(states)) {
#'   state <- states[[i]]
#'   gmessage("Loading {state}")
#'   track_progress(i, length(states))
#' }
#' gexit()
#'
#' genter("Write output")
#' gexit()
#' track_finish()
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
genter <- function(name) {
  if (!.state$started) .auto_init()
  signals <- .Call(wrap__genter_rs, name)
  if (!is.null(signals)) .resolve_text(signals, "genter", name, parent.frame(), sys.call())
}

#' @rdname genter
#' @export
gexit <- function() {
  signals <- .Call(wrap__gexit_rs)
  if (!is.null(signals)) .raise(signals, sys.call())
}

#' @rdname genter
#' @export
gmessage <- function(message) {
  if (!.state$started) .auto_init()
  signals <- .Call(wrap__gmessage_rs, message)
  if (!is.null(signals)) .resolve_text(signals, "gmessage", message, parent.frame(), sys.call())
}

#' @rdname genter
#' @export
track_progress <- function(done, total) {
  if (!.state$started) .auto_init()
  signals <- .Call(wrap__progress_rs, done, total)
  if (!is.null(signals)) .resolve_progress(signals, done, total, sys.call())
}

.resolve_progress <- function(signals, done, total, call) {
  if (signals[[1L]] == "argument") {
    .check_count(done, "done", call)
    .check_count(total, "total", call)
  }
  .raise(signals, call)
}
