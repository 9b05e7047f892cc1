# Turns what the Rust side hands back into R conditions.
#
# The Rust adapters never throw (see src/rust/src/lib.rs): the hot calls return
# NULL or a character vector of (kind, message) pairs, the others
# list(value, signals). Errors become conditions of class
# c("pipetrack_<kind>", "pipetrack_error", "error", "condition"), tracking
# problems warnings of class c("pipetrack_warning", "warning", "condition").

# The kinds of API misuse, for documentation and tests.
.error_kinds <- c(
  "invalid_argument", "not_started", "already_started", "run_finished",
  "no_open_task", "illegal_transition", "store", "query"
)

pipetrack_error <- function(kind, message, call = NULL) {
  structure(
    class = c(paste0("pipetrack_", kind), "pipetrack_error", "error", "condition"),
    list(message = message, call = call, kind = kind)
  )
}

pipetrack_warning <- function(message, call = NULL) {
  structure(
    class = c("pipetrack_warning", "warning", "condition"),
    list(message = message, call = call)
  )
}

# The kinds and the messages of a signals vector.
.kinds <- function(signals) signals[seq_along(signals) %% 2L == 1L]
.messages <- function(signals) signals[seq_along(signals) %% 2L == 0L]

# Only the warnings of a signals vector.
.warnings_only <- function(signals) signals[rep(.kinds(signals) == "warning", each = 2L)]

# Raises the signals: every warning, then the error if there is one.
.raise <- function(signals, call) {
  if (length(signals) == 0L) {
    return(invisible(NULL))
  }
  kinds <- .kinds(signals)
  messages <- .messages(signals)
  for (i in which(kinds == "warning")) {
    warning(pipetrack_warning(messages[[i]]))
  }
  errors <- which(kinds != "warning")
  if (length(errors) > 0L) {
    i <- errors[[1L]]
    stop(pipetrack_error(kinds[[i]], messages[[i]], call))
  }
  invisible(NULL)
}

# The value of a non-hot call, after raising its signals.
.unwrap <- function(result, call = sys.call(-1L)) {
  .raise(result$signals, call)
  result$value
}

# Slow path of genter()/gmessage(): interpolation, bad arguments, signals.
.resolve_text <- function(signals, what, text, env, call) {
  kind <- signals[[1L]]
  if (kind == "interpolate") {
    text <- .interpolate(text, env, what, call)
    signals <- if (what == "genter") {
      .Call(wrap__genter_literal_rs, text)
    } else {
      .Call(wrap__gmessage_literal_rs, text)
    }
    if (is.null(signals)) {
      return(invisible(NULL))
    }
  } else if (kind == "argument") {
    .check_string(text, if (what == "genter") "name" else "message", call)
  }
  .raise(signals, call)
}

.interpolate <- function(text, env, what, call) {
  out <- tryCatch(
    as.character(glue::glue(text, .envir = env)),
    error = function(e) {
      stop(pipetrack_error(
        "invalid_argument",
        sprintf(
          "cannot interpolate %s: %s. Define the variables it names, or double the braces ({{ and }}) to keep them literally",
          encodeString(text, quote = "\""), conditionMessage(e)
        ),
        call
      ))
    }
  )
  # glue() gives one string per element of the vectors it interpolates.
  if (length(out) != 1L || is.na(out)) {
    arg <- if (what == "genter") "name" else "message"
    got <- if (length(out) == 0L) {
      "no string (a value it interpolates has length 0)"
    } else if (length(out) == 1L) {
      "NA"
    } else {
      sprintf("%d strings (glue gives one string per element of a vector it interpolates)", length(out))
    }
    stop(pipetrack_error(
      "invalid_argument",
      sprintf(
        "`%s` must interpolate to a single string, but %s gives %s. Interpolate one element (\"{x[[i]]}\") or collapse the vector: \"{paste(x, collapse = \", \")}\"",
        arg, encodeString(text, quote = "\""), got
      ),
      call
    ))
  }
  out
}

# Argument checks: each says what was given and what is expected.

.describe <- function(x) {
  if (is.null(x)) {
    return("NULL")
  }
  kind <- if (is.object(x)) class(x)[[1L]] else typeof(x)
  if (length(x) != 1L) {
    return(sprintf("a %s vector of length %d", kind, length(x)))
  }
  if (is.na(x)) {
    return("NA")
  }
  sprintf("a %s", kind)
}

.check_string <- function(x, arg, call, null_ok = FALSE) {
  if (null_ok && is.null(x)) {
    return(invisible(x))
  }
  if (!is.character(x) || length(x) != 1L || is.na(x)) {
    stop(pipetrack_error(
      "invalid_argument",
      sprintf("`%s` must be a single string, not %s", arg, .describe(x)),
      call
    ))
  }
  invisible(x)
}

.check_count <- function(x, arg, call, null_ok = FALSE) {
  if (null_ok && is.null(x)) {
    return(invisible(x))
  }
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x)) {
    stop(pipetrack_error(
      "invalid_argument",
      sprintf("`%s` must be a single whole number, not %s", arg, .describe(x)),
      call
    ))
  }
  if (x < 0 || x != trunc(x)) {
    stop(pipetrack_error(
      "invalid_argument",
      sprintf("`%s` must be a whole number >= 0, not %s", arg, format(x)),
      call
    ))
  }
  invisible(x)
}

.check_flag <- function(x, arg, call) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    stop(pipetrack_error(
      "invalid_argument",
      sprintf("`%s` must be TRUE or FALSE, not %s", arg, .describe(x)),
      call
    ))
  }
  invisible(x)
}
