"""Query functions with the names of the R package's: the same answers as the
dashboard and the CLI (they all come from the Rust ``monitor-queries``).

Each returns a list of plain dicts (nested where the answer is nested, e.g.
``latest`` in :func:`get_current_status`), times as timezone-aware
``datetime`` objects in UTC. With ``as_frame=True`` the list becomes a pandas
``DataFrame`` (nested dicts flattened to ``latest.status`` columns); pandas is
optional and only needed then.

Every function reads the store of ``PIPETRACK_DATABASE_URL`` (else
``MONITOR_DB_*``, else the embedded SQLite file), or ``database_url`` when
given. The read-model settings come from the environment at each call, as
for the CLI and the R package: ``PIPETRACK_LOST_AFTER_SECS``,
``PIPETRACK_SCRIPTS_DIR`` and ``PIPETRACK_EXPECTED_SCRIPTS`` (expected
scripts without a run are listed by :func:`get_current_status` as
``never_run``). They raise :class:`~pipetrack.ConfigurationError` for a wrong
setting, :class:`~pipetrack.InvalidInputError` for a bad argument and
:class:`~pipetrack.StoreError` when the store cannot answer.

Differences from the R package's arguments (deliberate): R's ``from``/``to``
of :func:`get_script_history` are ``since``/``until`` (``from`` is a Python
keyword) and take ``datetime`` objects; arguments after the first one or two
are keyword-only; every function takes ``database_url=`` and ``as_frame=``;
:func:`get_script_progress` with neither ``script_name`` nor ``run_id``
shows the calling script's own run (R raises) and returns ``[]`` (R ``NULL``)
when there is no run.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, overload

from pipetrack import _native
from pipetrack._errors import InvalidInputError

if TYPE_CHECKING:  # pandas is optional: imported for the annotations only
    import pandas as pd

__all__ = [
    "HistoryPage",
    "get_current_status",
    "get_failed_scripts",
    "get_run_detail",
    "get_running_scripts",
    "get_script_history",
    "get_script_progress",
    "migrate",
]

Rows = list[dict[str, Any]]
"""A query's answer: one plain dict per row."""

_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


class HistoryPage(list[dict[str, Any]]):
    """One page of :func:`get_script_history`: a list of runs (dicts) with
    the attribute ``next_cursor``, the ``cursor=`` of the next page (same
    filters), or ``None`` on the last page (R: ``attr(page, "next_cursor")``)."""

    next_cursor: str | None

    def __init__(self, rows: Iterable[dict[str, Any]] = (), next_cursor: str | None = None) -> None:
        super().__init__(rows)
        self.next_cursor = next_cursor


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


def _frame(rows: Rows, as_frame: bool) -> Any:
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
        raise InvalidInputError(
            f"{name} must be a datetime (e.g. datetime.now(timezone.utc) - timedelta(days=7)), "
            f"not {type(at).__name__} {at!r}",
        )
    return at.astimezone(timezone.utc).isoformat()


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInputError(f"limit must be a whole number from 1 to 1000, not {type(limit).__name__} {limit!r}")
    if limit < 1:
        raise InvalidInputError(f"limit {limit} is out of range: use 1 to 1000")
    return limit


def migrate(database_url: str | None = None) -> list[str]:
    """Creates or upgrades the tables of the store (``pipetrack migrate``);
    returns the names of the migrations applied (empty when current). Needed
    once for a configured PostgreSQL or SQLite store; the embedded default is
    migrated on first use. Safe to run from several processes at once."""
    return _native.migrate(database_url)


@overload
def get_current_status(*, database_url: str | None = None, as_frame: Literal[False] = False) -> Rows: ...
@overload
def get_current_status(*, database_url: str | None = None, as_frame: Literal[True]) -> pd.DataFrame: ...
@overload
def get_current_status(*, database_url: str | None = None, as_frame: bool) -> Rows | pd.DataFrame: ...
def get_current_status(*, database_url: str | None = None, as_frame: bool = False) -> Any:
    """The latest run of every script, by category then name: one dict per
    script with ``script_name``, ``category``, ``run_count``, ``state`` (the
    latest run's, or ``never_run`` for a script of ``PIPETRACK_EXPECTED_SCRIPTS``
    / ``PIPETRACK_SCRIPTS_DIR`` without a run), ``typical_duration_ms``,
    ``eta`` and ``latest`` (the run: ``run_id``, ``status``, ``state`` —
    ``running``, ``stalled``, ``lost``, ``completed``, ``failed``,
    ``cancelled`` —, times, task counts, progress, error ...; ``None`` for a
    script that never ran)."""
    rows: Rows = _answer(_native.current_status(database_url))
    return _frame(rows, as_frame)


@overload
def get_script_history(
    script_name: str | None = None,
    *,
    category: str | None = None,
    status: str | Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    sort: str = "started",
    descending: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
    database_url: str | None = None,
    as_frame: Literal[False] = False,
) -> HistoryPage: ...
@overload
def get_script_history(
    script_name: str | None = None,
    *,
    category: str | None = None,
    status: str | Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    sort: str = "started",
    descending: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
    database_url: str | None = None,
    as_frame: Literal[True],
) -> pd.DataFrame: ...
@overload
def get_script_history(
    script_name: str | None = None,
    *,
    category: str | None = None,
    status: str | Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    sort: str = "started",
    descending: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
    database_url: str | None = None,
    as_frame: bool,
) -> HistoryPage | pd.DataFrame: ...
def get_script_history(
    script_name: str | None = None,
    *,
    category: str | None = None,
    status: str | Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    sort: str = "started",
    descending: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
    database_url: str | None = None,
    as_frame: bool = False,
) -> Any:
    """One page of runs: of ``script_name`` (exact file name), or of every
    script. Filters: ``category``, ``status`` (one or several of running,
    completed, failed, cancelled, lost), start time in ``[since, until)``
    (R's ``from``/``to``), ``search`` (text in the message or error).

    Order: ``sort`` is ``"started"`` (default), ``"ended"``, ``"duration"``,
    ``"status"``, ``"name"`` or ``"error"``; ``descending=None`` takes the
    sort's default (newest and longest first, names, statuses and errors
    ascending). At most ``limit`` runs (1 to 1000, default 50, as in R).

    Paging: the answer is a :class:`HistoryPage` (a list) whose
    ``next_cursor`` is the ``cursor=`` of the next page with the same
    filters, or ``None`` on the last page. With ``as_frame=True`` it is in
    the DataFrame's ``attrs["next_cursor"]``."""
    statuses = [status] if isinstance(status, str) else list(status or [])
    if descending is not None and not isinstance(descending, bool):
        raise InvalidInputError(f"descending must be True, False or None, not {descending!r}")
    page = _answer(
        _native.history(
            database_url,
            script=script_name,
            category=category,
            statuses=statuses,
            since=_utc_text(since, "since"),
            until=_utc_text(until, "until"),
            search=search,
            sort=sort,
            descending=descending,
            limit=_check_limit(limit),
            cursor=cursor,
        ),
    )
    rows = HistoryPage(page["items"], page.get("next_cursor"))
    if not as_frame:
        return rows
    frame = _frame(rows, as_frame)
    frame.attrs["next_cursor"] = rows.next_cursor
    return frame


@overload
def get_running_scripts(*, database_url: str | None = None, as_frame: Literal[False] = False) -> Rows: ...
@overload
def get_running_scripts(*, database_url: str | None = None, as_frame: Literal[True]) -> pd.DataFrame: ...
@overload
def get_running_scripts(*, database_url: str | None = None, as_frame: bool) -> Rows | pd.DataFrame: ...
def get_running_scripts(*, database_url: str | None = None, as_frame: bool = False) -> Any:
    """Runs in progress: one dict per run with ``run`` (as in the history),
    its ``tasks`` so far, its ``recent_messages`` (newest first), the
    script's ``typical_duration_ms`` and the ``eta``."""
    rows: Rows = _answer(_native.running(database_url))
    return _frame(rows, as_frame)


@overload
def get_failed_scripts(
    hours: float = 24.0,
    limit: int = 100,
    *,
    since: datetime | None = None,
    database_url: str | None = None,
    as_frame: Literal[False] = False,
) -> Rows: ...
@overload
def get_failed_scripts(
    hours: float = 24.0,
    limit: int = 100,
    *,
    since: datetime | None = None,
    database_url: str | None = None,
    as_frame: Literal[True],
) -> pd.DataFrame: ...
@overload
def get_failed_scripts(
    hours: float = 24.0,
    limit: int = 100,
    *,
    since: datetime | None = None,
    database_url: str | None = None,
    as_frame: bool,
) -> Rows | pd.DataFrame: ...
def get_failed_scripts(
    hours: float = 24.0,
    limit: int = 100,
    *,
    since: datetime | None = None,
    database_url: str | None = None,
    as_frame: bool = False,
) -> Any:
    """Failed runs started in the last ``hours`` hours (a number >= 0, as in
    R: ``get_failed_scripts(48)``), or at or after ``since`` when given (then
    ``hours`` is not used), newest first, at most ``limit`` (1 to 1000), with
    their ``error_class``, ``error_message`` and ``error_fingerprint`` (the
    group of similar errors)."""
    if since is None:
        if (
            isinstance(hours, bool)
            or not isinstance(hours, (int, float))
            or math.isnan(hours)
            or hours < 0
            or math.isinf(hours)
        ):
            raise InvalidInputError(f"hours must be a number >= 0, not {hours!r}")
        try:
            since = datetime.now(timezone.utc) - timedelta(hours=hours)
        except OverflowError:  # further back than datetime goes: every failure
            since = datetime(1, 1, 1, tzinfo=timezone.utc)
    text = _utc_text(since, "since")
    assert text is not None
    rows: Rows = _answer(_native.recent_failures(text, database_url, limit=_check_limit(limit)))
    return _frame(rows, as_frame)


def get_run_detail(run_id: str, *, database_url: str | None = None) -> dict[str, Any]:
    """Everything about one run: ``run`` (the full row: metadata, error with
    traceback, resource totals), ``state``, ``elapsed_ms``, ``tasks``,
    ``messages`` (oldest first), resource ``samples``, ``eta``. Raises
    :class:`~pipetrack.InvalidInputError` for an unknown or malformed id."""
    detail: dict[str, Any] = _answer(_native.run_detail(run_id, database_url))
    return detail


@overload
def get_script_progress(
    script_name: str | None = None,
    run_id: str | None = None,
    *,
    database_url: str | None = None,
    as_frame: Literal[False] = False,
) -> Rows: ...
@overload
def get_script_progress(
    script_name: str | None = None,
    run_id: str | None = None,
    *,
    database_url: str | None = None,
    as_frame: Literal[True],
) -> pd.DataFrame: ...
@overload
def get_script_progress(
    script_name: str | None = None,
    run_id: str | None = None,
    *,
    database_url: str | None = None,
    as_frame: bool,
) -> Rows | pd.DataFrame: ...
def get_script_progress(
    script_name: str | None = None,
    run_id: str | None = None,
    *,
    database_url: str | None = None,
    as_frame: bool = False,
) -> Any:
    """Detailed progress, task by task, of one run: the run ``run_id``, else
    the latest run of ``script_name``, else of the calling script's own run.
    One dict per task, in start order (number, name, depth, status, times,
    duration, message ...). Empty when the script has no run. The run itself
    (error, traceback, metadata) is in :func:`get_run_detail`."""
    if run_id is None:
        if script_name is None:
            run_id = _native.run_id()
        else:
            runs = get_script_history(script_name, limit=1, database_url=database_url)
            run_id = runs[0]["run_id"] if runs else None
    if run_id is None:
        return _frame([], as_frame)
    tasks: Rows = get_run_detail(run_id, database_url=database_url)["tasks"]
    return _frame(tasks, as_frame)
