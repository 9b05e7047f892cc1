library(testthat)
library(pipetrack)

test_check("pipetrack")
