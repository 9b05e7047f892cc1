#' pipetrack: live status tracking for R batch scripts
#'
#' Scripts report what they are doing with [genter()], [gexit()],
#' [gmessage()] and [track_progress()] (a run starts by itself on the first
#' call, or explicitly with [track_init()]); the status lands in PostgreSQL or
#' an embedded SQLite file, where the dashboard, the `pipetrack` command line
#' tool and the query functions ([get_current_status()] and friends) read it.
#'
#' @section Configuration:
#' One connection setting, read when the first run starts:
#' `PIPETRACK_DATABASE_URL` (`postgres://user@host:5432/db` or
#' `sqlite:///path/to/pipetrack.db`), else the `MONITOR_DB_HOST`, `_PORT`,
#' `_NAME`, `_USER` and `_PASSWORD` variables, else an SQLite file under the
#' user's data directory. `PIPETRACK_DISABLED=1` turns tracking off.
#'
#' @keywords internal
#' @useDynLib pipetrack, .registration = TRUE
"_PACKAGE"
