# Helpers of the original task list (Task 1.2): script name and category,
# git commit, redacted environment.

#' Name of the running script
#'
#' Finds the file of the script being run, wherever it runs: the innermost
#' [source()] or [sys.source()] call, a document being knitted by knitr, the
#' script of `Rscript file.R` or `R -f file.R`, or the active editor file in
#' RStudio.
#'
#' @param path `TRUE` for the full path instead of the file name.
#' @return The script's file name (or path), or `NA` when R is not running a
#'   script file (an interactive session, `Rscript -e`).
#' @examples
#' get_script_name()
#' @export
get_script_name <- function(path = FALSE) {
  .check_flag(path, "path", sys.call())
  found <- .script_path()
  if (is.na(found) || path) found else basename(found)
}

# `args`: R's command line (a parameter for the tests).
.script_path <- function(args = commandArgs(trailingOnly = FALSE)) {
  # source() / sys.source(), innermost first.
  for (i in rev(seq_len(sys.nframe()))) {
    fn <- sys.function(i)
    var <- if (identical(fn, base::source)) "ofile" else if (identical(fn, base::sys.source)) "file" else NULL
    if (!is.null(var)) {
      file <- get0(var, envir = sys.frame(i), inherits = FALSE)
      if (is.character(file) && length(file) == 1L && !is.na(file) && nzchar(file)) {
        return(normalizePath(file, mustWork = FALSE))
      }
    }
  }
  # knitr: the document being knitted.
  if (isTRUE(getOption("knitr.in.progress")) && requireNamespace("knitr", quietly = TRUE)) {
    input <- knitr::current_input(dir = TRUE)
    if (is.character(input) && length(input) == 1L && !is.na(input)) {
      return(normalizePath(input, mustWork = FALSE))
    }
  }
  # Rscript file.R (--file=file.R) and R -f file.R.
  file <- sub("^--file=", "", grep("^--file=", args, value = TRUE))
  if (length(file) == 0L) {
    f <- which(args == "-f")
    if (length(f) > 0L && f[[1L]] < length(args)) file <- args[[f[[1L]] + 1L]]
  }
  if (length(file) > 0L && nzchar(file[[1L]]) && file[[1L]] != "-") {
    return(normalizePath(file[[1L]], mustWork = FALSE))
  }
  # RStudio: the file in the active editor.
  if (identical(Sys.getenv("RSTUDIO"), "1") && requireNamespace("rstudioapi", quietly = TRUE) &&
    rstudioapi::isAvailable()) {
    file <- tryCatch(rstudioapi::getSourceEditorContext()$path, error = function(e) "")
    if (is.character(file) && length(file) == 1L && nzchar(file)) {
      return(normalizePath(file, mustWork = FALSE))
    }
  }
  NA_character_
}

#' Category of a script
#'
#' The pipeline category of a script from the prefix of its name: `DAILY`,
#' `ANNUAL_DEC`, `ANNUAL_SEPT`, `ANNUAL_JUNE`, `STATIC`, `PERIODIC`, `PREREQ`,
#' else `OTHER`. The same rules as everywhere in pipetrack.
#'
#' @param script_name Script names (default: the running script's).
#' @return A character vector, one category per name (`NA` for `NA`).
#' @examples
#' detect_script_category(c("DAILY_01_BDC_Locations.R", "ANNUAL_DEC_03_Merge.R", "notes.R"))
#' @export
detect_script_category <- function(script_name = get_script_name()) {
  if (!is.character(script_name)) {
    stop(pipetrack_error(
      "invalid_argument",
      sprintf("`script_name` must be a character vector, not %s", .describe(script_name)),
      sys.call()
    ))
  }
  vapply(script_name, function(name) {
    if (is.na(name)) NA_character_ else detect_script_category_rs(name)
  }, character(1L), USE.NAMES = FALSE)
}

#' Git commit of the script's repository
#'
#' @param dir A directory inside the repository (default: the running
#'   script's directory, else the working directory).
#' @return The full hash of `HEAD`, or `NA` outside a git repository (or
#'   without git).
#' @examples
#' get_git_commit()
#' @export
get_git_commit <- function(dir = NULL) {
  .check_string(dir, "dir", sys.call(), null_ok = TRUE)
  if (is.null(dir)) {
    script <- .script_path()
    dir <- if (is.na(script)) getwd() else dirname(script)
  }
  commit <- git_commit_rs(path.expand(dir))
  if (is.null(commit)) NA_character_ else commit
}

#' The environment as JSON, secrets redacted
#'
#' The process environment as a JSON object, as it is recorded with every
#' run: variables whose name looks like a secret (containing `PASSWORD`,
#' `SECRET`, `TOKEN`, `KEY`, `AUTH`, `CREDENTIAL`, `COOKIE`, `SESSION`, `DSN`
#' ..., in any case) have their value replaced, and passwords embedded in
#' URLs (`postgres://user:password@host`) are masked.
#'
#' @return A JSON string.
#' @examples
#' Sys.setenv(
#'   PIPETRACK_EXAMPLE_PASSWORD = "hunter2",
#'   PIPETRACK_EXAMPLE_URL = "postgres://writer:s3cret@db.internal:5432/pipeline"
#' )
#' env <- jsonlite::fromJSON(get_env_json())
#' env$PIPETRACK_EXAMPLE_PASSWORD # not "hunter2"
#' env$PIPETRACK_EXAMPLE_URL # the password masked
#' Sys.unsetenv(c("PIPETRACK_EXAMPLE_PASSWORD", "PIPETRACK_EXAMPLE_URL"))
#' @export
get_env_json <- function() {
  env_json_rs()
}
