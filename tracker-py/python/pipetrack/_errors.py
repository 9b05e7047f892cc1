"""The exceptions and the warning of pipetrack.

Exceptions are raised for API misuse only: a bad argument, a call in the wrong
order, a wrong configuration. Problems of the tracking store (unreachable,
slow, full) never raise into a script: they are reported once as a
:class:`TrackingWarning` and the events are spooled to disk until the store is
back. Query functions, which exist to read the store, raise :class:`StoreError`.

The classes live in Python (not in the native module) because
:class:`InvalidInputError` is both a :class:`TrackerError` and a
:class:`ValueError`, which ``pyo3::create_exception!`` (single base) cannot
express; the native module raises these very classes.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InvalidInputError",
    "StateError",
    "StoreError",
    "TrackerError",
    "TrackingWarning",
]


class TrackerError(Exception):
    """Base class of every pipetrack exception: catch it to catch them all."""

    kind: str = "tracker_error"
    """A short, stable name of the error kind (``invalid_argument``, ``no_open_task`` ...)."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    def __reduce__(self) -> tuple[type[TrackerError], tuple[str, str]]:
        # Keeps `kind` when the error crosses processes (multiprocessing pickles it).
        return (type(self), (str(self), self.kind))


class InvalidInputError(TrackerError, ValueError):
    """An argument is invalid: empty or over-long text, control characters,
    negative counters, progress beyond its total, a malformed run id, an unknown
    status, a ``{name}`` placeholder naming no variable of the caller."""

    kind = "invalid_argument"


class StateError(TrackerError, RuntimeError):
    """A call came in the wrong order: ``gexit`` without an open task,
    ``track_init`` while a run is open, a call after the run finished, or a
    status change the run lifecycle does not allow. ``kind`` says which
    (``no_open_task``, ``already_started``, ``run_finished``, ``not_started``,
    ``illegal_transition``)."""

    kind = "state_error"


class ConfigurationError(TrackerError):
    """The store configuration is wrong (``PIPETRACK_DATABASE_URL``,
    ``MONITOR_DB_*``): the message names the setting and says how to fix it."""

    kind = "configuration"


class StoreError(TrackerError):
    """A query or a migration could not be done by the store (unreachable, not
    migrated, permission denied ...). Never raised by the tracking calls."""

    kind = "store"


class TrackingWarning(UserWarning):
    """A tracking problem the script goes on despite: the store is unreachable
    (events are spooled and replayed later), a setting is malformed (its
    default is used) ... Each problem is reported once."""
