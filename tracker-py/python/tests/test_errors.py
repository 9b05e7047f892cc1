"""The exception hierarchy, in process (no store needed)."""

from __future__ import annotations

import pickle

import pytest

import pipetrack


def test_hierarchy_lets_users_catch_precisely() -> None:
    assert issubclass(pipetrack.InvalidInputError, pipetrack.TrackerError)
    assert issubclass(pipetrack.InvalidInputError, ValueError)
    assert issubclass(pipetrack.StateError, pipetrack.TrackerError)
    assert issubclass(pipetrack.StateError, RuntimeError)
    assert issubclass(pipetrack.ConfigurationError, pipetrack.TrackerError)
    assert issubclass(pipetrack.StoreError, pipetrack.TrackerError)
    assert issubclass(pipetrack.TrackingWarning, UserWarning)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (pipetrack.StateError("gexit was called but no task is open", "no_open_task"), "no_open_task"),
        (pipetrack.InvalidInputError("task name is empty"), "invalid_argument"),
        (pipetrack.StoreError("cannot connect", "store"), "store"),
    ],
)
def test_errors_keep_message_and_kind_across_processes(error: pipetrack.TrackerError, kind: str) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (str(copy), copy.kind) == (str(error), kind)


def test_every_public_function_is_documented() -> None:
    for name in pipetrack.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(pipetrack, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, f"pipetrack.{name} has no docstring"
