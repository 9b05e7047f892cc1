# Real stores for the tests: a fresh SQLite file, or a fresh schema in the
# Postgres server of PIPETRACK_TEST_PG_URL (default
# postgres://postgres@127.0.0.1:5432/postgres). Never mocked. Without a
# reachable Postgres the Postgres tests are skipped with a reason, unless
# PIPETRACK_REQUIRE_POSTGRES=1, which makes them fail.

pg_base_url <- function() {
  url <- Sys.getenv("PIPETRACK_TEST_PG_URL")
  if (nzchar(url)) url else "postgres://postgres@127.0.0.1:5432/postgres"
}

postgres_required <- function() identical(Sys.getenv("PIPETRACK_REQUIRE_POSTGRES"), "1")

.pg_state <- new.env()

postgres_reachable <- function() {
  if (is.null(.pg_state$reachable)) {
    check <- withr::with_envvar(
      c(PIPETRACK_DATABASE_URL = pg_base_url()),
      track_db_check()
    )
    .pg_state$reachable <- !is.na(check$backend)
    .pg_state$problem <- check$problem
  }
  .pg_state$reachable
}

# A migrated store for one test, removed when the test ends.
# Returns list(kind, url).
local_store <- function(kind = c("sqlite", "postgres"), env = parent.frame(), migrate = TRUE) {
  kind <- match.arg(kind)
  if (kind == "sqlite") {
    path <- withr::local_tempfile(fileext = ".db", .local_envir = env)
    url <- paste0("sqlite://", path)
  } else {
    if (!postgres_reachable()) {
      if (postgres_required()) {
        stop("PIPETRACK_REQUIRE_POSTGRES=1 but Postgres at ", pg_base_url(), " is unreachable: ", .pg_state$problem)
      }
      testthat::skip(paste("Postgres unreachable (set PIPETRACK_REQUIRE_POSTGRES=1 to fail instead):", .pg_state$problem))
    }
    schema <- paste0("pt_r_", paste(sample(c(letters, 0:9), 12, replace = TRUE), collapse = ""))
    base <- pg_base_url()
    url <- paste0(base, if (grepl("?", base, fixed = TRUE)) "&" else "?", "schema=", schema)
    withr::defer(drop_schema(base, schema), envir = env)
  }
  store <- list(kind = kind, url = url)
  if (migrate) {
    withr::with_envvar(c(PIPETRACK_DATABASE_URL = url), track_db_migrate())
  }
  store
}

drop_schema <- function(base, schema) {
  if (nzchar(Sys.which("psql"))) {
    url <- sub("\\?.*$", "", base)
    system2("psql", c(shQuote(url), "-q", "-c", shQuote(sprintf("DROP SCHEMA IF EXISTS %s CASCADE", schema))),
      stdout = FALSE, stderr = FALSE
    )
  }
}

# Runs `body` once per store kind, as two tests.
test_each_store <- function(desc, body) {
  for (kind in c("sqlite", "postgres")) {
    local({
      kind <- kind
      test_that(sprintf("%s [%s]", desc, kind), {
        store <- local_store(kind)
        body(store)
      })
    })
  }
}

# Query the store of `store` from this process (no cache).
with_store <- function(store, code) {
  withr::with_envvar(c(PIPETRACK_DATABASE_URL = store$url, PIPETRACK_CACHE_TTL_SECS = "0"), code)
}

# Runs `code` as a script file `name` under Rscript, tracking into `store`.
# Returns list(status, output, dir).
run_script <- function(code, store, name = "ANNUAL_DEC_01_Test.R", env = character(), dir = NULL) {
  if (is.null(dir)) dir <- withr::local_tempdir(.local_envir = parent.frame())
  file <- file.path(dir, name)
  writeLines(c("library(pipetrack)", code), file)
  vars <- c(
    PIPETRACK_DATABASE_URL = if (is.null(store)) "" else store$url,
    PIPETRACK_SPOOL_DIR = file.path(dir, "spool"),
    PIPETRACK_HEARTBEAT_S = "1",
    PIPETRACK_SAMPLE_S = "0",
    PIPETRACK_RUN_ID = "",
    R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep)
  )
  vars[names(env)] <- env
  output <- withr::with_envvar(vars, {
    # A failing script is expected in some tests: its status is checked, not warned about.
    suppressWarnings(system2(file.path(R.home("bin"), "Rscript"), shQuote(file), stdout = TRUE, stderr = TRUE))
  })
  status <- attr(output, "status")
  list(status = if (is.null(status)) 0L else status, output = output, dir = dir, file = file)
}

expect_script_ok <- function(result) {
  if (result$status != 0L) {
    fail(paste0("script exited with status ", result$status, ":\n", paste(result$output, collapse = "\n")))
  } else {
    succeed()
  }
  invisible(result)
}

# The latest run of a script, in full (tasks, with the run as attribute).
latest_progress <- function(store, script = "ANNUAL_DEC_01_Test.R") {
  with_store(store, get_script_progress(script))
}

# A git repository with one commit, removed when the calling test ends:
# list(dir = its path, head = the commit's hash).
local_git_repo <- function(env = parent.frame()) {
  repo <- withr::local_tempdir(.local_envir = env)
  git <- function(...) system2("git", c("-C", shQuote(repo), ...), stdout = TRUE, stderr = TRUE)
  git("init", "-q")
  writeLines("x", file.path(repo, "a.txt"))
  git("add", "a.txt")
  git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "first")
  list(dir = repo, head = git("rev-parse", "HEAD"))
}
