test_that("detect_script_category() knows the pipeline's prefixes and is vectorised", {
  expect_identical(
    detect_script_category(c(
      "DAILY_01_BDC_Locations.R", "ANNUAL_DEC_03_Merge.R", "ANNUAL_SEPT_01.R",
      "ANNUAL_JUNE_02.py", "STATIC_02_Technology_Codes.R", "PERIODIC_01.R",
      "PREREQ_01.sh", "notes.R", NA
    )),
    c("DAILY", "ANNUAL_DEC", "ANNUAL_SEPT", "ANNUAL_JUNE", "STATIC", "PERIODIC", "PREREQ", "OTHER", NA)
  )
})

test_that("get_env_json() redacts secret-looking variables and URL passwords", {
  withr::local_envvar(c(
    MONITOR_DB_PASSWORD = "hunter2",
    my_api_token = "tok",
    PIPETRACK_TEST_URL = "postgres://writer:s3cret@db:5432/pipe",
    PIPETRACK_HARMLESS = "visible"
  ))
  json <- get_env_json()
  env <- jsonlite::fromJSON(json)
  expect_false(grepl("hunter2|s3cret|\"tok\"", json))
  expect_false(identical(env$MONITOR_DB_PASSWORD, "hunter2"))
  expect_false(identical(env$my_api_token, "tok"))
  expect_identical(env$PIPETRACK_TEST_URL, "postgres://writer:***@db:5432/pipe")
  expect_identical(env$PIPETRACK_HARMLESS, "visible")
})

test_that("get_script_name() finds the script under Rscript, source(), sys.source() and knitr", {
  dir <- withr::local_tempdir()
  # Rscript
  result <- run_script('cat("NAME", get_script_name(), "\\n")', NULL, name = "DAILY_03_Name.R", dir = dir)
  expect_true(any(grepl("^NAME DAILY_03_Name.R", result$output)))
  # source(), also from inside a function of the sourced file
  file <- file.path(dir, "ANNUAL_JUNE_04_Sourced.R")
  writeLines(c("f <- function() get_script_name()", "found <- c(get_script_name(), f(), get_script_name(path = TRUE))"), file)
  env <- new.env()
  source(file, local = env)
  expect_identical(env$found[1:2], c("ANNUAL_JUNE_04_Sourced.R", "ANNUAL_JUNE_04_Sourced.R"))
  expect_identical(env$found[[3]], normalizePath(file))
  # sys.source()
  env2 <- new.env()
  sys.source(file, envir = env2)
  expect_identical(env2$found[[1]], "ANNUAL_JUNE_04_Sourced.R")
  # knitr
  skip_if_not_installed("knitr")
  rmd <- file.path(dir, "STATIC_05_Report.Rmd")
  writeLines(c("```{r}", "cat('KNIT', pipetrack::get_script_name())", "```"), rmd)
  out <- knitr::knit(rmd, output = file.path(dir, "report.md"), quiet = TRUE, envir = new.env())
  expect_true(any(grepl("KNIT STATIC_05_Report.Rmd", readLines(out), fixed = TRUE)))
  # Nowhere: NA
  expect_identical(withr::with_dir(dir, local(get_script_name(), envir = new.env())), get_script_name())
})

test_that("get_git_commit() reads HEAD of the script's repository, NA outside one", {
  skip_if(!nzchar(Sys.which("git")), "git is not installed")
  git <- local_git_repo()
  repo <- git$dir
  head <- git$head
  expect_identical(get_git_commit(repo), head)
  expect_identical(get_git_commit(withr::local_tempdir()), NA_character_)
})

test_that("get_script_name() in RStudio is the file of the active editor", {
  skip_if_not_installed("rstudioapi")
  # rstudioapi only answers inside RStudio: its two functions are replaced for
  # this test, in its namespace, and restored after.
  file <- file.path(withr::local_tempdir(), "DAILY_06_Editor.R")
  ns <- asNamespace("rstudioapi")
  mock <- function(name, value) {
    old <- get(name, envir = ns)
    unlockBinding(name, ns)
    assign(name, value, envir = ns)
    withr::defer(
      {
        unlockBinding(name, ns)
        assign(name, old, envir = ns)
        lockBinding(name, ns)
      },
      envir = parent.frame()
    )
  }
  mock("isAvailable", function(...) TRUE)
  mock("getSourceEditorContext", function(...) list(path = file))
  withr::local_envvar(RSTUDIO = "1")
  # Not run as Rscript file.R / R -f file.R (R CMD check runs the tests with -f).
  expect_identical(pipetrack:::.script_path(args = c("R", "--no-echo")), normalizePath(file, mustWork = FALSE))
  # Outside RStudio the editor is not asked.
  withr::local_envvar(RSTUDIO = NA)
  expect_identical(pipetrack:::.script_path(args = c("R", "--no-echo")), NA_character_)
  # An editor without a saved file: NA.
  withr::local_envvar(RSTUDIO = "1")
  mock("getSourceEditorContext", function(...) list(path = ""))
  expect_identical(pipetrack:::.script_path(args = c("R", "--no-echo")), NA_character_)
})
