"""Process-level wiring: an uncaught exception fails the run, a normal exit
finishes it, and the tracker flushes before the interpreter goes away.

Installed once when ``pipetrack`` is imported (see :func:`install_hooks`).
"""

from __future__ import annotations

import atexit
import sys
from types import TracebackType

from pipetrack import _api, _native
from pipetrack._errors import StateError

__all__ = ["install_hooks"]

_installed = False
_previous_excepthook = sys.excepthook


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


def _at_exit() -> None:
    """Normal interpreter exit: finishes a run still open in this process as
    completed (a joined stream only closes its own tasks), flushes for at most
    ``PIPETRACK_EXIT_FLUSH_MS`` and stops the writer."""
    _native.shutdown()
    _api._unexport_run_id()


def install_hooks() -> None:
    """Installs pipetrack's ``sys.excepthook`` (chaining the one in place)
    and its ``atexit`` handler. Called on import; calling it again does
    nothing. Set ``PIPETRACK_NO_HOOKS=1`` before importing to skip both."""
    global _installed, _previous_excepthook
    if _installed:
        return
    _installed = True
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    atexit.register(_at_exit)
