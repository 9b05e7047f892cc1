"""Query functions with the names of the R package's: the same answers as the
dashboard and the CLI (they all come from the Rust ``monitor-queries``).

Each returns a list of plain dicts (nested where the answer is nested, e.g.
``latest`` in :func:`get_current_status`), times as timezone-aware
``datetime`` objects in UTC. With ``as_frame=True`` the list becomes a pandas
``DataFrame`` (nested dicts flattened to ``latest.status`` columns); pandas is
optional and only needed then.

Every function reads the store of ``PIPETRACK_DATABASE_URL`` (else
``MONITOR_DB_*``, else the embedded SQLite file), or ``database_url`` when
given. They raise :class:`~pipetrack.ConfigurationError` for a wrong setting
and :class:`~pipetrack.StoreError` when the store cannot answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from pipetrack import _native
from pipetrack._errors import InvalidInputError

__all__ = [
    "get_current_status",
    "get_failed_scripts",
    "get_run_detail",
    "get_running_scripts",
    "get_script_history",
    "get_script_progress",
    "migrate",
]

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _parse_time(text: str) -> datetime | str:
    """An RFC 3339 time as an aware datetime (Python 3.9's fromisoformat takes
    neither ``Z`` nor nanoseconds); anything else unchanged."""
    match = _TIME.match(text)
    if match is None:
        return text
    whole, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    zone = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{whole}.{micros}{zone}")


def _decode(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _decode(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, str) and (key.endswith("_at") or key in ("eta", "at")):
        return _parse_time(value)
    return value


def _answer(text: str) -> Any:
    return _decode(json.loads(text))


def _frame(rows: list[dict[str, Any]], as_frame: bool) -> Any:
    if not as_frame:
        return rows
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError("as_frame=True needs pandas: pip install pandas") from err
    return pd.json_normalize(rows) if rows else pd.DataFrame()


def _utc_text(at: datetime | None, name: str) -> str | None:
    """``at`` as RFC 3339 UTC text; a naive datetime is local time, as in Python."""
    if at is None:
        return None
    if not isinstance(at, datetime):
        raise InvalidInputError(f"{name} must be a datetime, not {type(at).__name__}")
    return at.astimezone(timezone.utc).isoformat()


def migrate(database_url: str | None = None) -> list[str]:
    """Creates or upgrades the tables of the store (``pipetrack migrate``);
    returns the names of the migrations applied (empty when current). Needed
    once for a configured PostgreSQL or SQLite store; the embedded default is
    migrated on first use. Safe to run from several processes at once."""
    return _native.migrate(database_url)


def get_current_status(*, database_url: str | None = None, as_frame: bool = False) -> Any:
    """The latest run of every script, by category then name: one dict per
    script with ``script_name``, ``category``, ``run_count``,
    ``typical_duration_ms``, ``eta`` and ``latest`` (the run: ``run_id``,
    ``status``, ``state`` — ``running``, ``stalled``, ``lost``, ``completed``,
    ``failed``, ``cancelled`` —, times, task counts, progress, error ...)."""
    rows: list[dict[str, Any]] = _answer(_native.current_status(database_url))
    return _frame(rows, as_frame)


def get_script_history(
    script_name: str | None = None,
    *,
    category: str | None = None,
    status: str | Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    limit: int = 100,
    database_url: str | None = None,
    as_frame: bool = False,
) -> Any:
    """Runs, newest first: of ``script_name`` (exact file name), or of every
    script. Filters: ``category``, ``status`` (one or several of running,
    completed, failed, cancelled, lost), start time in ``[since, until)``,
    ``search`` (text in the message or error). At most ``limit`` runs
    (1 to 1000)."""
    statuses = [status] if isinstance(status, str) else list(status or [])
    page = _answer(
        _native.history(
            database_url,
            script=script_name,
            category=category,
            statuses=statuses,
            since=_utc_text(since, "since"),
            until=_utc_text(until, "until"),
            search=search,
            limit=limit,
        ),
    )
    rows: list[dict[str, Any]] = page["items"]
    return _frame(rows, as_frame)


def get_running_scripts(*, database_url: str | None = None, as_frame: bool = False) -> Any:
    """Runs in progress: one dict per run with ``run`` (as in the history),
    its ``tasks`` so far, its ``recent_messages`` (newest first), the
    script's ``typical_duration_ms`` and the ``eta``."""
    rows: list[dict[str, Any]] = _answer(_native.running(database_url))
    return _frame(rows, as_frame)


def get_failed_scripts(
    since: datetime | None = None,
    *,
    hours: float = 24.0,
    limit: int = 100,
    database_url: str | None = None,
    as_frame: bool = False,
) -> Any:
    """Failed runs that started at or after ``since`` (default: the last
    ``hours`` hours), newest first, at most ``limit`` (1 to 1000), with their
    ``error_class``, ``error_message`` and ``error_fingerprint`` (the group of
    similar errors)."""
    start = since if since is not None else datetime.now(timezone.utc) - timedelta(hours=hours)
    text = _utc_text(start, "since")
    assert text is not None
    rows: list[dict[str, Any]] = _answer(_native.recent_failures(text, database_url, limit=limit))
    return _frame(rows, as_frame)


def get_run_detail(run_id: str, *, database_url: str | None = None) -> dict[str, Any]:
    """Everything about one run: ``run`` (the full row: metadata, error with
    traceback, resource totals), ``state``, ``elapsed_ms``, ``tasks``,
    ``messages`` (oldest first), resource ``samples``, ``eta``. Raises
    :class:`~pipetrack.InvalidInputError` for an unknown or malformed id."""
    detail: dict[str, Any] = _answer(_native.run_detail(run_id, database_url))
    return detail


def get_script_progress(
    script_name: str | None = None,
    *,
    run_id: str | None = None,
    database_url: str | None = None,
    as_frame: bool = False,
) -> Any:
    """Detailed progress, task by task, of one run: the run ``run_id``, else
    the latest run of ``script_name``, else of the calling script's own run.
    One dict per task, in start order (number, name, depth, status, times,
    duration, message ...). Empty when the script has no run."""
    if run_id is None:
        if script_name is None:
            run_id = _native.run_id()
        else:
            runs = get_script_history(script_name, limit=1, database_url=database_url)
            run_id = runs[0]["run_id"] if runs else None
    if run_id is None:
        return _frame([], as_frame)
    tasks: list[dict[str, Any]] = get_run_detail(run_id, database_url=database_url)["tasks"]
    return _frame(tasks, as_frame)
