# Query functions (Task 3.1): the answers of monitor-queries, the read model the
# dashboard and the CLI use, as data frames. Times are POSIXct (UTC), statuses
# factors with every level, durations milliseconds. Answers are cached for
# PIPETRACK_CACHE_TTL_SECS seconds (default 5) per store.

.run_statuses <- c("running", "completed", "failed", "cancelled", "lost")
.run_states <- c("running", "stalled", "lost", "completed", "failed", "cancelled")
.task_statuses <- c("running", "completed", "failed")

# Columns of a run summary (monitor-queries' RunSummary), in order, by type.
.summary_columns <- c(
  run_id = "character", script_name = "character", category = "character",
  status = "status", state = "state", started_at = "time", finished_at = "time",
  duration_ms = "double", elapsed_ms = "double", tasks_done = "integer",
  total_tasks = "integer", progress_percent = "double", current_task = "character",
  message = "character", error_class = "character", error_message = "character",
  error_fingerprint = "character", exit_code = "integer", host = "character",
  heartbeat_at = "time", last_progress_at = "time"
)

.task_columns <- c(
  stream = "double", task_number = "integer", depth = "integer", name = "character",
  status = "task_status", started_at = "time", finished_at = "time",
  message = "character", progress_done = "double", progress_total = "double"
)

.message_columns <- c(
  at = "time", stream = "double", message = "character",
  progress_done = "double", progress_total = "double"
)

.parse_time <- function(x) {
  as.POSIXct(sub("Z$", "", x), format = "%Y-%m-%dT%H:%M:%OS", tz = "UTC")
}

# One column from a list of records.
.column <- function(records, name, type) {
  values <- lapply(records, function(r) {
    v <- r[[name]]
    if (is.null(v)) NA else v
  })
  switch(type,
    character = as.character(unlist(values, use.names = FALSE)) %||% character(),
    double = as.double(unlist(values, use.names = FALSE)) %||% double(),
    integer = as.integer(unlist(values, use.names = FALSE)) %||% integer(),
    logical = as.logical(unlist(values, use.names = FALSE)) %||% logical(),
    time = .parse_time(as.character(unlist(values, use.names = FALSE)) %||% character()),
    status = factor(as.character(unlist(values, use.names = FALSE)) %||% character(), levels = .run_statuses),
    state = factor(as.character(unlist(values, use.names = FALSE)) %||% character(), levels = .run_states),
    task_status = factor(as.character(unlist(values, use.names = FALSE)) %||% character(), levels = .task_statuses),
    stop("unknown column type ", type)
  )
}

`%||%` <- function(x, y) if (length(x) == 0L) y else x

# A data frame with exactly `columns` (name = type), whatever the records hold.
.frame <- function(records, columns) {
  out <- lapply(names(columns), function(name) .column(records, name, columns[[name]]))
  names(out) <- names(columns)
  structure(out, class = "data.frame", row.names = .set_row_names(length(records)))
}

.set_row_names <- function(n) if (n == 0L) integer() else c(NA_integer_, -n)

.query <- function(result, call) {
  json <- .unwrap(result, call)
  jsonlite::fromJSON(json, simplifyVector = FALSE)
}

#' Current status of every script
#'
#' One row per script: its latest run, how many runs it has, its typical
#' duration and, while it runs, the expected end. The same answer as the
#' dashboard's status page and `pipetrack status`.
#'
#' `state` is what to show: the stored `status` refined by the liveness rules
#' (a running run whose heartbeat stopped is `lost`; one that is alive but has
#' made no progress for far longer than usual is `stalled`).
#'
#' @return A data frame with columns `script_name`, `category`, `run_count`,
#'   `run_id`, `status` and `state` (factors), `started_at`, `finished_at`
#'   (POSIXct, UTC), `duration_ms`, `elapsed_ms`, `tasks_done`, `total_tasks`,
#'   `progress_percent`, `current_task`, `message`, `error_class`,
#'   `error_message`, `error_fingerprint`, `exit_code`, `host`,
#'   `heartbeat_at`, `last_progress_at`, `typical_duration_ms` and `eta`
#'   (POSIXct). Sorted as monitor-queries sorts it.
#' @family queries
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(
#'   c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR", "PIPETRACK_CACHE_TTL_SECS"),
#'   unset = NA
#' )
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool"),
#'   PIPETRACK_CACHE_TTL_SECS = "0"
#' )
#' invisible(track_db_migrate())
#' }
#' # Run two tiny tracked scripts with Rscript, as a scheduler would.
#' rscript <- function(file) {
#'   lib <- paste(.libPaths(), collapse = .Platform$path.sep)
#'   status <- system2(file.path(R.home("bin"), "Rscript"), shQuote(file),
#'     stdout = FALSE, stderr = FALSE,
#'     env = c("PIPETRACK_RUN_ID=", paste0("R_LIBS=", shQuote(lib)))
#'   )
#'   invisible(status)
#' }
#' dir <- tempfile("scripts")
#' dir.create(dir)
#' daily <- file.path(dir, "DAILY_01_BDC_Locations.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "track_init(total_tasks = 2)",
#'   "genter('Download locations'); gexit()",
#'   "genter('Load locations'); gmessage('12 files'); gexit()"
#' ), daily)
#' failing <- file.path(dir, "ANNUAL_DEC_02_Merge.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "merge_states <- function() stop('merge key missing')",
#'   "genter('Merge')",
#'   "merge_states()"
#' ), failing)
#' rscript(daily)
#' rscript(failing)
#' status <- get_current_status()
#' status[, c("script_name", "state", "run_count", "tasks_done", "error_message")]
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
get_current_status <- function() {
  .status_frame(.query(current_status_rs(), sys.call()))
}

# monitor-queries' current_status answer (parsed JSON) as a data frame.
.status_frame <- function(rows) {
  records <- lapply(rows, function(r) {
    latest <- r$latest
    latest$script_name <- r$script_name
    latest$category <- r$category
    c(latest, list(run_count = r$run_count, typical_duration_ms = r$typical_duration_ms, eta = r$eta))
  })
  summary <- .summary_columns[!names(.summary_columns) %in% c("script_name", "category")]
  .frame(records, c(
    script_name = "character", category = "character", run_count = "integer",
    summary, typical_duration_ms = "double", eta = "time"
  ))
}

#' Run history
#'
#' Runs, newest first by default, filtered by script, category, status, time
#' range or text, one page at a time. The same answer as `pipetrack history`.
#'
#' @param script_name Only this script (exact file name).
#' @param category Only this category.
#' @param status Only these statuses (`"running"`, `"completed"`, `"failed"`,
#'   `"cancelled"`, `"lost"`).
#' @param from,to Only runs started at or after `from` and before `to`
#'   (POSIXct, Date or a string `as.POSIXct()` understands).
#' @param search Text searched, case-insensitively and literally, in the
#'   message, error message and error class.
#' @param sort `"started"`, `"duration"`, `"status"` or `"name"`.
#' @param descending Direction; `NULL` takes the sort's default (newest and
#'   longest first, names and statuses ascending).
#' @param limit Rows per page, 1 to 1000.
#' @param cursor `attr(previous_page, "next_cursor")`, to get the next page
#'   (with the same filters).
#' @return A data frame of runs with the columns of [get_current_status()]
#'   (without `run_count`, `typical_duration_ms` and `eta`); attribute
#'   `next_cursor` is the cursor of the next page, or `NULL` on the last page.
#' @family queries
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(
#'   c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR", "PIPETRACK_CACHE_TTL_SECS"),
#'   unset = NA
#' )
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool"),
#'   PIPETRACK_CACHE_TTL_SECS = "0"
#' )
#' invisible(track_db_migrate())
#' }
#' # Run two tiny tracked scripts with Rscript, as a scheduler would.
#' rscript <- function(file) {
#'   lib <- paste(.libPaths(), collapse = .Platform$path.sep)
#'   status <- system2(file.path(R.home("bin"), "Rscript"), shQuote(file),
#'     stdout = FALSE, stderr = FALSE,
#'     env = c("PIPETRACK_RUN_ID=", paste0("R_LIBS=", shQuote(lib)))
#'   )
#'   invisible(status)
#' }
#' dir <- tempfile("scripts")
#' dir.create(dir)
#' daily <- file.path(dir, "DAILY_01_BDC_Locations.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "track_init(total_tasks = 2)",
#'   "genter('Download locations'); gexit()",
#'   "genter('Load locations'); gmessage('12 files'); gexit()"
#' ), daily)
#' failing <- file.path(dir, "ANNUAL_DEC_02_Merge.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "merge_states <- function() stop('merge key missing')",
#'   "genter('Merge')",
#'   "merge_states()"
#' ), failing)
#' rscript(daily)
#' rscript(failing)
#' rscript(daily)
#' history <- get_script_history("DAILY_01_BDC_Locations.R", limit = 10)
#' history[, c("script_name", "status", "started_at", "duration_ms")]
#' get_script_history(status = "failed", from = Sys.Date() - 7)$error_message
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
get_script_history <- function(script_name = NULL, category = NULL, status = NULL,
                               from = NULL, to = NULL, search = NULL, sort = "started",
                               descending = NULL, limit = 50, cursor = NULL) {
  call <- sys.call()
  .check_string(script_name, "script_name", call, null_ok = TRUE)
  .check_string(category, "category", call, null_ok = TRUE)
  .check_string(search, "search", call, null_ok = TRUE)
  .check_string(cursor, "cursor", call, null_ok = TRUE)
  .check_string(sort, "sort", call)
  if (!is.null(status)) {
    if (!is.character(status) || anyNA(status) || !all(status %in% .run_statuses)) {
      stop(pipetrack_error("invalid_argument", sprintf(
        "`status` must be among %s, not %s",
        paste(dQuote(.run_statuses, FALSE), collapse = ", "),
        paste(encodeString(as.character(status), quote = "\""), collapse = ", ")
      ), call))
    }
  }
  if (!is.null(descending)) .check_flag(descending, "descending", call)
  .check_count(limit, "limit", call)
  filter <- list(
    from = .time_arg(from, "from", call), to = .time_arg(to, "to", call),
    category = category, statuses = I(as.character(status %||% character())),
    script = script_name, search = search, sort = sort, descending = descending,
    limit = as.integer(limit)
  )
  json <- jsonlite::toJSON(filter, auto_unbox = TRUE, null = "null")
  .history_frame(.query(history_rs(json, cursor), call))
}

# monitor-queries' history page (parsed JSON) as a data frame.
.history_frame <- function(page) {
  out <- .frame(page$items, .summary_columns)
  attr(out, "next_cursor") <- page$next_cursor
  out
}

.time_arg <- function(x, arg, call) {
  if (is.null(x)) {
    return(NULL)
  }
  time <- tryCatch(as.POSIXct(x, tz = "UTC"), error = function(e) NULL)
  if (length(time) != 1L || is.na(time)) {
    stop(pipetrack_error("invalid_argument", sprintf(
      "`%s` must be one time (POSIXct, Date or \"YYYY-MM-DD HH:MM:SS\"), not %s", arg, .describe(x)
    ), call))
  }
  format(time, "%Y-%m-%dT%H:%M:%OS3Z", tz = "UTC")
}

#' Scripts running now
#'
#' Every running run (including `stalled` ones and running ones whose
#' heartbeat stopped, shown as `lost`), with its tasks and latest messages.
#'
#' @return A data frame with the columns of [get_script_history()], plus
#'   `typical_duration_ms`, `eta`, and two list columns: `tasks` (a data frame
#'   per run: `stream`, `task_number`, `depth`, `name`, `status`,
#'   `started_at`, `finished_at`, `message`, `progress_done`,
#'   `progress_total`) and `recent_messages` (a data frame per run: `at`,
#'   `stream`, `message`, `progress_done`, `progress_total`, newest first).
#' @family queries
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(
#'   c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR", "PIPETRACK_CACHE_TTL_SECS"),
#'   unset = NA
#' )
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool"),
#'   PIPETRACK_CACHE_TTL_SECS = "0"
#' )
#' invisible(track_db_migrate())
#' }
#' # A tracked script that runs until it is told to stop.
#' dir <- tempfile("scripts")
#' dir.create(dir)
#' long <- file.path(dir, "PERIODIC_09_Long.R")
#' stop_file <- file.path(dir, "stop")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "track_init(total_tasks = 2)",
#'   "genter('Wait for the release')",
#'   "track_progress(1, 4)",
#'   sprintf("while (!file.exists('%s')) Sys.sleep(0.1)", stop_file),
#'   "gexit()"
#' ), long)
#' lib <- paste(.libPaths(), collapse = .Platform$path.sep)
#' system2(file.path(R.home("bin"), "Rscript"), shQuote(long), wait = FALSE,
#'   stdout = FALSE, stderr = FALSE,
#'   env = c("PIPETRACK_RUN_ID=", paste0("R_LIBS=", shQuote(lib)))
#' )
#' for (i in 1:100) {
#'   running <- get_running_scripts()
#'   if (nrow(running) > 0 && nrow(running$tasks[[1]]) > 0) break
#'   Sys.sleep(0.1)
#' }
#' running[, c("script_name", "current_task", "progress_percent", "eta")]
#' running$tasks[[1]][, c("name", "status", "progress_done", "progress_total")]
#' file.create(stop_file)
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
get_running_scripts <- function() {
  rows <- .query(running_rs(), sys.call())
  records <- lapply(rows, function(r) c(r$run, list(typical_duration_ms = r$typical_duration_ms, eta = r$eta)))
  out <- .frame(records, c(.summary_columns, typical_duration_ms = "double", eta = "time"))
  out$tasks <- lapply(rows, function(r) .frame(r$tasks, .task_columns))
  out$recent_messages <- lapply(rows, function(r) .frame(r$recent_messages, .message_columns))
  out
}

#' Recent failures
#'
#' Failed runs started in the last `hours` hours, newest first.
#'
#' @param hours How far back to look.
#' @param limit Most rows returned.
#' @return A data frame with the columns of [get_script_history()].
#' @family queries
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(
#'   c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR", "PIPETRACK_CACHE_TTL_SECS"),
#'   unset = NA
#' )
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool"),
#'   PIPETRACK_CACHE_TTL_SECS = "0"
#' )
#' invisible(track_db_migrate())
#' }
#' # Run two tiny tracked scripts with Rscript, as a scheduler would.
#' rscript <- function(file) {
#'   lib <- paste(.libPaths(), collapse = .Platform$path.sep)
#'   status <- system2(file.path(R.home("bin"), "Rscript"), shQuote(file),
#'     stdout = FALSE, stderr = FALSE,
#'     env = c("PIPETRACK_RUN_ID=", paste0("R_LIBS=", shQuote(lib)))
#'   )
#'   invisible(status)
#' }
#' dir <- tempfile("scripts")
#' dir.create(dir)
#' daily <- file.path(dir, "DAILY_01_BDC_Locations.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "track_init(total_tasks = 2)",
#'   "genter('Download locations'); gexit()",
#'   "genter('Load locations'); gmessage('12 files'); gexit()"
#' ), daily)
#' failing <- file.path(dir, "ANNUAL_DEC_02_Merge.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "merge_states <- function() stop('merge key missing')",
#'   "genter('Merge')",
#'   "merge_states()"
#' ), failing)
#' rscript(daily)
#' rscript(failing)
#' failed <- get_failed_scripts(hours = 48)
#' failed[, c("script_name", "error_class", "error_message")]
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
get_failed_scripts <- function(hours = 24, limit = 100) {
  call <- sys.call()
  if (!is.numeric(hours) || length(hours) != 1L || is.na(hours) || hours < 0) {
    stop(pipetrack_error("invalid_argument", sprintf("`hours` must be a number >= 0, not %s", .describe(hours)), call))
  }
  .check_count(limit, "limit", call)
  since <- (as.numeric(Sys.time()) - hours * 3600) * 1000
  rows <- .query(failures_rs(since, limit), call)
  .frame(rows, .summary_columns)
}

#' Detailed progress of a run
#'
#' The tasks of one run (by default the latest run of `script_name`) with
#' their times, status, last message and sub-progress.
#'
#' @param script_name A script: its latest run is shown.
#' @param run_id A run id (see [track_run_id()] and the `run_id` columns of
#'   the other queries); takes precedence over `script_name`.
#' @return A data frame of tasks in start order (columns as the `tasks` of
#'   [get_running_scripts()]), with attributes `run` (a list: every field of
#'   the run, including `error_message`, `error_class`, `error_traceback`,
#'   `host`, `pid`, `git_commit`, `language_version`, the redacted `env`
#'   ...), `state`, `elapsed_ms`, `eta` and `messages` (its progress
#'   messages, oldest first). For a script without runs: a data frame with
#'   the same columns and no rows, attributes `run`, `state`, `elapsed_ms`
#'   and `eta` `NULL` (so `nrow(x) == 0` tells "never ran").
#' @family queries
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv(
#'   c("PIPETRACK_DATABASE_URL", "PIPETRACK_SPOOL_DIR", "PIPETRACK_CACHE_TTL_SECS"),
#'   unset = NA
#' )
#' Sys.setenv(
#'   PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")),
#'   PIPETRACK_SPOOL_DIR = tempfile("spool"),
#'   PIPETRACK_CACHE_TTL_SECS = "0"
#' )
#' invisible(track_db_migrate())
#' }
#' # Run two tiny tracked scripts with Rscript, as a scheduler would.
#' rscript <- function(file) {
#'   lib <- paste(.libPaths(), collapse = .Platform$path.sep)
#'   status <- system2(file.path(R.home("bin"), "Rscript"), shQuote(file),
#'     stdout = FALSE, stderr = FALSE,
#'     env = c("PIPETRACK_RUN_ID=", paste0("R_LIBS=", shQuote(lib)))
#'   )
#'   invisible(status)
#' }
#' dir <- tempfile("scripts")
#' dir.create(dir)
#' daily <- file.path(dir, "DAILY_01_BDC_Locations.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "track_init(total_tasks = 2)",
#'   "genter('Download locations'); gexit()",
#'   "genter('Load locations'); gmessage('12 files'); gexit()"
#' ), daily)
#' failing <- file.path(dir, "ANNUAL_DEC_02_Merge.R")
#' writeLines(c(
#'   "library(pipetrack)",
#'   "merge_states <- function() stop('merge key missing')",
#'   "genter('Merge')",
#'   "merge_states()"
#' ), failing)
#' rscript(daily)
#' rscript(failing)
#' tasks <- get_script_progress("DAILY_01_BDC_Locations.R")
#' tasks[, c("name", "status", "message")]
#' attr(tasks, "run")$status
#' cat(attr(get_script_progress("ANNUAL_DEC_02_Merge.R"), "run")$error_traceback, "\n")
#' # A script without runs: no rows, the same columns.
#' nrow(get_script_progress("NEVER_RAN.R"))
#' \dontshow{
#' .set <- !is.na(.pipetrack_env)
#' if (any(.set)) do.call(Sys.setenv, as.list(.pipetrack_env[.set]))
#' Sys.unsetenv(names(.pipetrack_env)[!.set])
#' rm(.pipetrack_env, .set)
#' }
#' @export
get_script_progress <- function(script_name = NULL, run_id = NULL) {
  call <- sys.call()
  .check_string(script_name, "script_name", call, null_ok = TRUE)
  .check_string(run_id, "run_id", call, null_ok = TRUE)
  if (is.null(run_id)) {
    if (is.null(script_name)) {
      stop(pipetrack_error("invalid_argument", "give `script_name` or `run_id`", call))
    }
    latest <- get_script_history(script_name = script_name, limit = 1)
    if (nrow(latest) == 0L) {
      out <- .frame(list(), .task_columns)
      attr(out, "messages") <- .frame(list(), .message_columns)
      return(out)
    }
    run_id <- latest$run_id[[1L]]
  }
  detail <- .query(run_detail_rs(run_id), call)
  out <- .frame(detail$tasks, .task_columns)
  run <- detail$run
  for (field in c("started_at", "updated_at", "heartbeat_at", "last_progress_at", "finished_at")) {
    if (!is.null(run[[field]])) run[[field]] <- .parse_time(run[[field]])
  }
  attr(out, "run") <- run
  attr(out, "state") <- factor(detail$state, levels = .run_states)
  attr(out, "elapsed_ms") <- detail$elapsed_ms
  attr(out, "eta") <- if (is.null(detail$eta)) NULL else .parse_time(detail$eta)
  attr(out, "messages") <- .frame(detail$messages, .message_columns)
  out
}
