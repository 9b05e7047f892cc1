# Fork safety: mclapply()/mcparallel() workers report into the parent's run
# (each in a stream of its own), and PSOCK workers join it through the
# inherited PIPETRACK_RUN_ID.

test_each_store("every mclapply() worker's tasks land in the parent's run (the ANNUAL_DEC case)", function(store) {
  skip_on_os("windows")
  result <- run_script(c(
    'library(parallel)',
    'states <- c(state.abb, "DC", "PR")',
    'track_init(total_tasks = 2)',
    'genter("Process states")',
    'res <- mclapply(seq_along(states), function(i) {',
    '  state <- states[[i]]',
    '  genter("State {state}")',
    '  gmessage("Loading {state}")',
    '  track_progress(1, 1)',
    '  gexit()',
    '  Sys.getpid()',
    '}, mc.cores = 8)',
    'stopifnot(length(unique(unlist(res))) > 1)',
    'gexit()',
    'genter("Merge")',
    'gexit()'
  ), store)
  expect_script_ok(result)
  tasks <- latest_progress(store)
  run <- attr(tasks, "run")
  expect_identical(run$status, "completed")
  states <- c(state.abb, "DC", "PR")
  worker_tasks <- tasks[tasks$stream != 0, ]
  expect_setequal(worker_tasks$name, paste("State", states))
  expect_identical(nrow(worker_tasks), length(states))
  expect_true(all(worker_tasks$status == "completed"))
  expect_setequal(worker_tasks$message, paste("Loading", states))
  expect_true(length(unique(worker_tasks$stream)) > 1)
  parent_tasks <- tasks[tasks$stream == 0, ]
  expect_identical(parent_tasks$name, c("Process states", "Merge"))
  expect_identical(run$tasks_done, 2L)
})

test_each_store("mcparallel() jobs report into the parent's run", function(store) {
  skip_on_os("windows")
  result <- run_script(c(
    'library(parallel)',
    'track_init()',
    'jobs <- lapply(1:3, function(j) mcparallel({ genter("Job {j}"); Sys.sleep(0.1); gexit(); j }))',
    'out <- mccollect(jobs)',
    'stopifnot(identical(sort(unlist(out, use.names = FALSE)), 1:3))'
  ), store)
  expect_script_ok(result)
  tasks <- latest_progress(store)
  expect_setequal(tasks$name, paste("Job", 1:3))
  expect_true(all(tasks$status == "completed"))
  expect_true(all(tasks$stream != 0))
})

test_each_store("PSOCK cluster workers join the parent's run through the inherited run id", function(store) {
  result <- run_script(c(
    'library(parallel)',
    'run_id <- track_init()',
    'cl <- makeCluster(2)',
    'ids <- parLapply(cl, 1:4, function(i) {',
    '  library(pipetrack)',
    '  genter(paste("Chunk", i))',
    '  gexit()',
    '  Sys.getenv("PIPETRACK_RUN_ID")',
    '})',
    'stopCluster(cl)',
    'stopifnot(all(unlist(ids) == run_id))',
    'Sys.sleep(0.5)'
  ), store)
  expect_script_ok(result)
  tasks <- latest_progress(store)
  run <- attr(tasks, "run")
  expect_identical(run$status, "completed")
  expect_setequal(tasks$name, paste("Chunk", 1:4))
  expect_true(all(tasks$status == "completed"))
  # One run, not one per worker.
  expect_identical(nrow(with_store(store, get_script_history())), 1L)
})
