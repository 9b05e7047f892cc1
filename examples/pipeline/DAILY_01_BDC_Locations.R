# An R step instrumented with the pipetrack package: tasks, state-by-state
# progress, and parallel workers (mclapply) that report into the same run.
library(pipetrack)

track_init(total_tasks = 2)

genter("Load locations")
states <- c("CA", "NY", "TX", "WA", "OR", "NV")
gmessage("{length(states)} states to process")
gexit()

genter("Process states")
invisible(parallel::mclapply(seq_along(states), function(i) {
  state <- states[[i]]
  genter("Processing {state}")
  Sys.sleep(0.05)
  gexit()
  state
}, mc.cores = 2))
track_progress(length(states), length(states))
gexit()

track_finish()
