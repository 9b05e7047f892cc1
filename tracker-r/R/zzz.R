# Package load: route tracking warnings to R, and finish the run when the R
# session ends.

.onLoad <- function(libname, pkgname) {
  install_warning_hook_rs()
  # Runs when R exits normally (end of an Rscript script, q()), not in forked
  # workers (they leave with _exit): a run still open is completed, and what
  # the writer holds is flushed or spooled. tracker-client's own atexit hook
  # remains the safety net.
  reg.finalizer(.state, function(state) .shutdown(0L), onexit = TRUE)
  invisible(NULL)
}
