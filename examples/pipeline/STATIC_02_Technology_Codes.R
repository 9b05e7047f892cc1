# An uninstrumented R script: `pipetrack run` still records its start, end,
# exit code, memory, CPU and output log, with no code change.
codes <- data.frame(code = c(10, 40, 50, 60, 70), name = c("Copper", "Cable", "Fiber", "Satellite", "Fixed wireless"))
print(codes)
