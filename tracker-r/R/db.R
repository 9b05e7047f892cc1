# The tracking database: connection test and migrations (Task 1.4).

#' Test the connection to the tracking database
#'
#' Opens the configured store (see [pipetrack-package] for the settings) and
#' reports which it is, where, and whether its schema is current. Never fails:
#' a problem is reported in the result.
#'
#' @return A list of class `pipetrack_db_check`: `ok` (reachable and
#'   migrated), `backend` (`"postgres"` or `"sqlite"`), `location` (no
#'   password), `setting` (which setting chose it), `schema_version`,
#'   `expected_version`, and `problem` (what is wrong and what to do, or
#'   `NA`).
#' @examples
#' \dontshow{
#' .pipetrack_env <- Sys.getenv("PIPETRACK_DATABASE_URL", unset = NA)
#' Sys.setenv(PIPETRACK_DATABASE_URL = paste0("sqlite:///", tempfile(fileext = ".db")))
#' }
#' track_db_check()
#' track_db_migrate()
#' track_db_check()$ok
#' \dontshow{
#' if (is.na(.pipetrack_env)) {
#'   Sys.unsetenv("PIPETRACK_DATABASE_URL")
#' } else {
#'   Sys.setenv(PIPETRACK_DATABASE_URL = .pipetrack_env)
#' }
#' rm(.pipetrack_env)
#' }
#' @export
track_db_check <- function() {
  result <- db_check_rs()
  signals <- result$signals
  .raise(.warnings_only(signals), NULL)
  problem <- .messages(signals)[.kinds(signals) != "warning"]
  check <- result$value
  if (is.null(check)) {
    check <- list(
      ok = FALSE, backend = NA_character_, location = NA_character_, setting = NA_character_,
      schema_version = NA_real_, expected_version = NA_real_, problem = problem[[1L]]
    )
  } else {
    current <- isTRUE(check$current)
    check <- list(
      ok = current, backend = check$backend, location = check$location, setting = check$setting,
      schema_version = check$schema_version, expected_version = check$expected_version,
      problem = if (current) {
        NA_character_
      } else {
        sprintf(
          "the schema is at version %d, this pipetrack needs %d: run track_db_migrate() (or `pipetrack migrate`)",
          as.integer(check$schema_version), as.integer(check$expected_version)
        )
      }
    )
  }
  structure(check, class = "pipetrack_db_check")
}

#' @export
print.pipetrack_db_check <- function(x, ...) {
  if (is.na(x$backend)) {
    cat("pipetrack database: NOT REACHABLE\n  ", x$problem, "\n", sep = "")
  } else {
    cat(
      "pipetrack database: ", if (x$ok) "OK" else "NEEDS ATTENTION", "\n",
      "  backend:  ", x$backend, "\n",
      "  location: ", x$location, "\n",
      "  set by:   ", x$setting, "\n",
      "  schema:   version ", x$schema_version, " (needs ", x$expected_version, ")\n",
      if (!x$ok) paste0("  problem:  ", x$problem, "\n"),
      sep = ""
    )
  }
  invisible(x)
}

#' Create or upgrade the tracking database schema
#'
#' Applies the pending migrations to the configured store. The default
#' embedded SQLite file is migrated automatically; a database configured with
#' `PIPETRACK_DATABASE_URL` or `MONITOR_DB_*` is migrated by this function or
#' by `pipetrack migrate`. Safe to run from several processes at once.
#'
#' @return The names of the migrations applied (empty when the schema was
#'   current), invisibly.
#' @inherit track_db_check examples
#' @export
track_db_migrate <- function() {
  invisible(.unwrap(db_migrate_rs(), sys.call()))
}
