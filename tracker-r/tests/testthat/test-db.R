test_each_store("track_db_check() reports a migrated store as ready", function(store) {
  check <- with_store(store, track_db_check())
  expect_s3_class(check, "pipetrack_db_check")
  expect_true(check$ok)
  expect_identical(check$backend, store$kind)
  expect_identical(check$setting, "PIPETRACK_DATABASE_URL")
  expect_identical(check$schema_version, check$expected_version)
  expect_identical(check$problem, NA_character_)
  expect_false(grepl("password", check$location))
  expect_output(print(check), "pipetrack database: OK")
  # Migrating again applies nothing.
  expect_identical(with_store(store, track_db_migrate()), character())
})

test_that("track_db_check() reports an unmigrated store and an unreachable one without failing", {
  fresh <- list(url = paste0("sqlite://", withr::local_tempfile(fileext = ".db")))
  check <- with_store(fresh, track_db_check())
  expect_false(check$ok)
  expect_identical(check$backend, "sqlite")
  expect_identical(check$schema_version, 0)
  expect_match(check$problem, "run track_db_migrate()", fixed = TRUE)
  expect_output(print(check), "NEEDS ATTENTION")

  down <- list(url = "postgres://pipetrack@127.0.0.1:1/nowhere")
  check <- with_store(down, track_db_check())
  expect_false(check$ok)
  expect_identical(check$backend, NA_character_)
  expect_match(check$problem, "cannot connect to postgres://pipetrack@127.0.0.1:1/nowhere")
  expect_snapshot(print(check), transform = function(x) {
    sub("(set by PIPETRACK_DATABASE_URL): ", "(set by PIPETRACK_DATABASE_URL): <reason and fix>", sub("URL\\): .*$", "URL): ", x), fixed = TRUE)
  })
  expect_error(with_store(down, track_db_migrate()), "cannot connect", class = "pipetrack_store")
})
