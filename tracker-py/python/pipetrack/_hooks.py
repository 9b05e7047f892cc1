"""Process-level wiring: an uncaught exception fails the run, an uncaught
exception in a thread is recorded as a message of the run (the script goes
on), a normal exit finishes it, and the tracker flushes before the
interpreter goes away.

Installed once when ``pipetrack`` is imported (see :func:`install_hooks`).
"""

from __future__ import annotations

import atexit
import sys
import threading
from types import TracebackType

from pipetrack import _api, _native
from pipetrack._errors import StateError

__all__ = ["install_hooks"]

_installed = False
_previous_excepthook = sys.excepthook
_previous_threading_excepthook = threading.excepthook

# Longest text of the message recorded for an uncaught exception in a thread.
_THREAD_MESSAGE_CHARS = 1000


def _excepthook(
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
) -> None:
    """Records an uncaught exception as the run's error, then lets the
    previous hook print it as usual."""
    try:
        if issubclass(exc_type, KeyboardInterrupt):
            _api.track_finish("cancelled", exit_code=130)
        else:
            if exc.__traceback__ is None and tb is not None:
                exc = exc.with_traceback(tb)
            _api.track_error(exc, exit_code=1)
    except StateError:
        pass  # no run open in this process (never started, or already finished)
    except Exception as err:  # noqa: BLE001 - never hide the user's error behind ours
        sys.stderr.write(f"pipetrack: warning: could not record the uncaught exception: {err}\n")
    finally:
        _previous_excepthook(exc_type, exc, tb)


def _thread_message(args: threading.ExceptHookArgs) -> str:
    """One line saying which thread died of which exception."""
    thread = args.thread.name if args.thread is not None else "a thread"
    error = args.exc_value
    detail = f"{args.exc_type.__qualname__}: {error}" if error is not None and str(error) else args.exc_type.__qualname__
    text = f"uncaught exception in thread {thread}: {detail}"
    text = " ".join(text.split())  # a message is one line: no control characters
    return text[:_THREAD_MESSAGE_CHARS]


def _threading_excepthook(args: threading.ExceptHookArgs) -> None:
    """An exception that ends a thread does not end the script: it is
    recorded as a message of the run (which goes on), if one is open in this
    process, then the previous hook prints it as usual. ``SystemExit`` in a
    thread is silent, as in Python."""
    try:
        if not issubclass(args.exc_type, SystemExit) and _api._started:
            _native.gmessage(_thread_message(args))
    except Exception as err:  # noqa: BLE001 - never hide the user's error behind ours
        if not isinstance(err, StateError):  # no run open (finished already)
            sys.stderr.write(f"pipetrack: warning: could not record the exception of the thread: {err}\n")
    finally:
        _previous_threading_excepthook(args)


def _at_exit() -> None:
    """Normal interpreter exit: finishes a run still open in this process as
    completed (a joined stream only closes its own tasks), flushes for at most
    ``PIPETRACK_EXIT_FLUSH_MS`` and stops the writer."""
    _native.shutdown()
    _api._unexport_run_id()


def install_hooks() -> None:
    """Installs pipetrack's ``sys.excepthook`` and ``threading.excepthook``
    (each chaining the one in place) and its ``atexit`` handler. Called on
    import; calling it again does nothing. Set ``PIPETRACK_NO_HOOKS=1``
    before importing to skip all three."""
    global _installed, _previous_excepthook, _previous_threading_excepthook
    if _installed:
        return
    _installed = True
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    _previous_threading_excepthook = threading.excepthook
    threading.excepthook = _threading_excepthook
    atexit.register(_at_exit)
