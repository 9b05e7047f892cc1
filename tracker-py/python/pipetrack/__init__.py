"""pipetrack: see live what every Python batch script is doing.

Report from a script::

    import pipetrack

    for state in ["AL", "AK", "AZ"]:
        with pipetrack.task("Load {state}"):      # or genter(...) / gexit()
            pipetrack.gmessage("Reading {state}")

The first call starts the run (or call :func:`track_init`); an uncaught
exception records the error with its traceback; normal exit finishes the run.
Read the store with :func:`get_current_status`, :func:`get_script_history`,
:func:`get_running_scripts`, :func:`get_failed_scripts` and
:func:`get_script_progress`.

Tracking never raises because of the store (unreachable, slow): it warns once
with :class:`TrackingWarning` and spools events to disk until the store is
back. It raises :class:`TrackerError` subclasses for API misuse only.
See docs/python.md for the guide.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from pipetrack._api import (
    current_run_id,
    flush,
    genter,
    gexit,
    gmessage,
    progress,
    run,
    task,
    track_error,
    track_finish,
    track_init,
    track_status,
    tracked,
)
from pipetrack._errors import (
    ConfigurationError,
    InvalidInputError,
    StateError,
    StoreError,
    TrackerError,
    TrackingWarning,
)
from pipetrack._hooks import install_hooks
from pipetrack._queries import (
    HistoryPage,
    get_current_status,
    get_failed_scripts,
    get_run_detail,
    get_running_scripts,
    get_script_history,
    get_script_progress,
    migrate,
)

try:
    __version__ = _version("pipetrack")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ConfigurationError",
    "HistoryPage",
    "InvalidInputError",
    "StateError",
    "StoreError",
    "TrackerError",
    "TrackingWarning",
    "__version__",
    "current_run_id",
    "flush",
    "genter",
    "get_current_status",
    "get_failed_scripts",
    "get_run_detail",
    "get_running_scripts",
    "get_script_history",
    "get_script_progress",
    "gexit",
    "gmessage",
    "install_hooks",
    "migrate",
    "progress",
    "run",
    "task",
    "track_error",
    "track_finish",
    "track_init",
    "track_status",
    "tracked",
]

if os.environ.get("PIPETRACK_NO_HOOKS", "").strip().lower() not in ("1", "true", "yes", "on"):
    install_hooks()
