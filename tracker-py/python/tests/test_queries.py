"""Query functions: the same answers as monitor-queries, as lists of dicts
(or DataFrames), on SQLite and PostgreSQL; clear errors for bad settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import pipetrack
from conftest import Store, stdout_json

FAILING = """
import pipetrack
pipetrack.genter("Load")
raise ValueError("bad row 7")
"""
OK = """
import pipetrack
with pipetrack.task("Load"):
    pipetrack.progress(3, 3)
"""


def _populate(store: Store) -> None:
    store.run_script(OK, name="DAILY_01_Good.py")
    store.run_script(OK, name="DAILY_01_Good.py")
    store.run_script(FAILING, name="ANNUAL_DEC_01_Bad.py", expect_rc=1)


def test_current_status_history_and_failures(store: Store) -> None:
    _populate(store)
    status = pipetrack.get_current_status(database_url=store.url)
    by_name = {row["script_name"]: row for row in status}
    assert set(by_name) == {"DAILY_01_Good.py", "ANNUAL_DEC_01_Bad.py"}
    assert by_name["DAILY_01_Good.py"]["run_count"] == 2
    assert by_name["DAILY_01_Good.py"]["latest"]["state"] == "completed"
    assert by_name["ANNUAL_DEC_01_Bad.py"]["latest"]["error_class"] == "ValueError"
    assert isinstance(by_name["DAILY_01_Good.py"]["latest"]["started_at"], datetime)
    assert by_name["DAILY_01_Good.py"]["latest"]["started_at"].tzinfo is not None

    history = pipetrack.get_script_history(database_url=store.url)
    assert len(history) == 3
    assert [r["started_at"] for r in history] == sorted((r["started_at"] for r in history), reverse=True)
    assert len(pipetrack.get_script_history("DAILY_01_Good.py", database_url=store.url)) == 2
    assert len(pipetrack.get_script_history(limit=1, database_url=store.url)) == 1
    failed = pipetrack.get_script_history(status="failed", database_url=store.url)
    assert [r["script_name"] for r in failed] == ["ANNUAL_DEC_01_Bad.py"]
    assert [r["script_name"] for r in pipetrack.get_script_history(category="ANNUAL_DEC", database_url=store.url)] == [
        "ANNUAL_DEC_01_Bad.py",
    ]
    assert pipetrack.get_script_history(search="bad row", database_url=store.url)[0]["error_message"] == "bad row 7"
    future = datetime.now(timezone.utc) + timedelta(days=1)
    assert pipetrack.get_script_history(since=future, database_url=store.url) == []

    failures = pipetrack.get_failed_scripts(database_url=store.url)
    assert [(f["script_name"], f["error_class"], f["error_message"]) for f in failures] == [
        ("ANNUAL_DEC_01_Bad.py", "ValueError", "bad row 7"),
    ]
    assert failures[0]["error_fingerprint"]
    assert pipetrack.get_failed_scripts(since=future, database_url=store.url) == []


def test_script_progress_and_run_detail(store: Store) -> None:
    _populate(store)
    tasks = pipetrack.get_script_progress("DAILY_01_Good.py", database_url=store.url)
    assert [(t["name"], t["status"], t["progress_done"], t["progress_total"]) for t in tasks] == [
        ("Load", "completed", 3, 3),
    ]
    run_id = pipetrack.get_script_history("ANNUAL_DEC_01_Bad.py", database_url=store.url)[0]["run_id"]
    by_id = pipetrack.get_script_progress(run_id=run_id, database_url=store.url)
    assert [(t["name"], t["status"]) for t in by_id] == [("Load", "failed")]
    detail = pipetrack.get_run_detail(run_id, database_url=store.url)
    assert detail["run"]["error_traceback"].rstrip().endswith("ValueError: bad row 7")
    assert pipetrack.get_script_progress("NO_SUCH_SCRIPT.py", database_url=store.url) == []


@pytest.mark.slow
def test_running_scripts_shows_a_run_in_progress(store: Store) -> None:
    code = textwrap.dedent(
        """
        import os, time, pipetrack
        pipetrack.track_init(total_tasks=2)
        pipetrack.genter("Long task")
        pipetrack.gmessage("county 12 of 3000")
        pipetrack.flush()
        open("started", "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists("stop") and time.monotonic() < deadline:
            time.sleep(0.05)
        pipetrack.gexit()
        """,
    )
    script = store.tmp_path / "DAILY_07_Long.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=store.tmp_path, env=store.env)
    try:
        deadline = time.monotonic() + 60
        while not (store.tmp_path / "started").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, "the script ended early"
            time.sleep(0.05)
        running = pipetrack.get_running_scripts(database_url=store.url)
        assert len(running) == 1
        entry = running[0]
        assert entry["run"]["script_name"] == "DAILY_07_Long.py"
        assert entry["run"]["state"] == "running"
        assert entry["run"]["total_tasks"] == 2
        assert [(t["name"], t["status"]) for t in entry["tasks"]] == [("Long task", "running")]
        assert [m["message"] for m in entry["recent_messages"]] == ["county 12 of 3000"]
        live = pipetrack.get_current_status(database_url=store.url)[0]["latest"]
        assert (live["state"], live["current_task"]) == ("running", "Long task")
    finally:
        (store.tmp_path / "stop").touch()
        assert proc.wait(timeout=60) == 0
    assert pipetrack.get_running_scripts(database_url=store.url) == []


def test_as_frame_returns_a_dataframe(store: Store) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is optional; test.sh installs it")
    _populate(store)
    frame = pipetrack.get_current_status(database_url=store.url, as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert sorted(frame["script_name"]) == ["ANNUAL_DEC_01_Bad.py", "DAILY_01_Good.py"]
    assert "latest.state" in frame.columns
    history = pipetrack.get_script_history(database_url=store.url, as_frame=True)
    assert len(history) == 3
    assert list(history["status"]).count("failed") == 1
    assert pipetrack.get_running_scripts(database_url=store.url, as_frame=True).empty


def test_query_errors_are_clear(sqlite_store: Store) -> None:
    with pytest.raises(pipetrack.ConfigurationError, match="unsupported database URL scheme"):
        pipetrack.get_current_status(database_url="mysql://db/x")
    with pytest.raises(pipetrack.StoreError, match="cannot connect"):
        pipetrack.get_current_status(database_url="postgres://postgres@127.0.0.1:9/postgres?connect_timeout=2")
    with pytest.raises(pipetrack.InvalidInputError, match="not a valid run id"):
        pipetrack.get_run_detail("nope", database_url=sqlite_store.url)
    with pytest.raises(pipetrack.InvalidInputError, match="no run with id"):
        pipetrack.get_run_detail("0192f0c4-8f1e-7c3a-9d55-2b6f3c1e4a10", database_url=sqlite_store.url)
    with pytest.raises(pipetrack.InvalidInputError, match="unknown run status"):
        pipetrack.get_script_history(status="exploded", database_url=sqlite_store.url)
    with pytest.raises(pipetrack.InvalidInputError, match="limit"):
        pipetrack.get_script_history(limit=0, database_url=sqlite_store.url)
    unmigrated = f"sqlite:///{sqlite_store.tmp_path / 'empty.db'}"
    with pytest.raises(pipetrack.StoreError, match="migrate"):
        pipetrack.get_current_status(database_url=unmigrated)
    assert issubclass(pipetrack.StoreError, pipetrack.TrackerError)


def test_migrate_is_idempotent(store: Store) -> None:
    assert pipetrack.migrate(database_url=store.url) == []


def test_queries_from_several_threads_at_once_on_a_fresh_url(store: Store) -> None:
    # The first query of a process opens the store with the interpreter
    # released; other threads querying meanwhile must neither deadlock nor
    # open a second store. A hang fails through run_script's timeout.
    proc = store.run_script(
        """
        import json, os, threading, pipetrack
        url = os.environ["PIPETRACK_DATABASE_URL"]
        barrier = threading.Barrier(8)
        answers, errors = [], []

        def query(i):
            barrier.wait()
            try:
                for _ in range(3):
                    if i % 2:
                        answers.append(len(pipetrack.get_current_status(database_url=url)))
                    else:
                        answers.append(len(pipetrack.get_script_history(database_url=url)))
            except Exception as err:
                errors.append(repr(err))

        threads = [threading.Thread(target=query, args=(i,), daemon=True) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        print(json.dumps({"alive": sum(t.is_alive() for t in threads), "answers": answers, "errors": errors}))
        """,
        env={"PIPETRACK_NO_HOOKS": "1"},
    )
    outcome = stdout_json(proc)
    assert outcome == {"alive": 0, "answers": [0] * 24, "errors": []}


def test_current_status_lists_expected_scripts_that_never_ran(
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _populate(store)
    monkeypatch.setenv("PIPETRACK_EXPECTED_SCRIPTS", " DAILY_09_Never.py, DAILY_01_Good.py ,")
    status = pipetrack.get_current_status(database_url=store.url)
    by_name = {row["script_name"]: row for row in status}
    assert set(by_name) == {"DAILY_01_Good.py", "ANNUAL_DEC_01_Bad.py", "DAILY_09_Never.py"}
    never = by_name["DAILY_09_Never.py"]
    assert (never["state"], never["run_count"], never["latest"], never["category"]) == ("never_run", 0, None, "DAILY")
    assert by_name["DAILY_01_Good.py"]["state"] == "completed"
    # Read at every call: the directory of scripts counts too, and unsetting works.
    monkeypatch.delenv("PIPETRACK_EXPECTED_SCRIPTS")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "PERIODIC_02_From_Dir.R").write_text("")
    (scripts / "notes.txt").write_text("")
    monkeypatch.setenv("PIPETRACK_SCRIPTS_DIR", str(scripts))
    names = [row["script_name"] for row in pipetrack.get_current_status(database_url=store.url)]
    assert "PERIODIC_02_From_Dir.R" in names and "DAILY_09_Never.py" not in names
    assert "notes.txt" not in names


def test_monitor_settings_errors_are_configuration_errors(
    sqlite_store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPETRACK_LOST_AFTER_SECS", "two minutes")
    with pytest.raises(pipetrack.ConfigurationError, match="PIPETRACK_LOST_AFTER_SECS"):
        pipetrack.get_current_status(database_url=sqlite_store.url)
    monkeypatch.setenv("PIPETRACK_LOST_AFTER_SECS", "120")
    monkeypatch.setenv("PIPETRACK_SCRIPTS_DIR", str(sqlite_store.tmp_path / "no-such-dir"))
    with pytest.raises(pipetrack.ConfigurationError, match="no-such-dir"):
        pipetrack.get_running_scripts(database_url=sqlite_store.url)


def test_history_pages_with_next_cursor_and_sorts(store: Store) -> None:
    _populate(store)
    everything = pipetrack.get_script_history(database_url=store.url)
    assert isinstance(everything, pipetrack.HistoryPage)
    assert len(everything) == 3 and everything.next_cursor is None
    first = pipetrack.get_script_history(limit=2, database_url=store.url)
    assert len(first) == 2 and first.next_cursor is not None
    second = pipetrack.get_script_history(limit=2, cursor=first.next_cursor, database_url=store.url)
    assert len(second) == 1 and second.next_cursor is None
    assert [r["run_id"] for r in [*first, *second]] == [r["run_id"] for r in everything]

    oldest_first = pipetrack.get_script_history(descending=False, database_url=store.url)
    assert [r["run_id"] for r in oldest_first] == [r["run_id"] for r in reversed(everything)]
    by_name = pipetrack.get_script_history(sort="name", database_url=store.url)
    assert [r["script_name"] for r in by_name] == ["ANNUAL_DEC_01_Bad.py", "DAILY_01_Good.py", "DAILY_01_Good.py"]
    by_name_desc = pipetrack.get_script_history(sort="name", descending=True, database_url=store.url)
    assert [r["script_name"] for r in by_name_desc] == ["DAILY_01_Good.py", "DAILY_01_Good.py", "ANNUAL_DEC_01_Bad.py"]
    by_status = pipetrack.get_script_history(sort="status", database_url=store.url)
    assert [r["status"] for r in by_status] == ["completed", "completed", "failed"]
    # A page of a sorted history continues in that order.
    page = pipetrack.get_script_history(sort="name", limit=1, database_url=store.url)
    rest = pipetrack.get_script_history(sort="name", limit=5, cursor=page.next_cursor, database_url=store.url)
    assert [r["run_id"] for r in [*page, *rest]] == [r["run_id"] for r in by_name]

    with pytest.raises(pipetrack.InvalidInputError, match="sort"):
        pipetrack.get_script_history(sort="colour", database_url=store.url)
    with pytest.raises(pipetrack.InvalidInputError, match="cursor"):
        pipetrack.get_script_history(cursor="not-a-cursor", database_url=store.url)
    with pytest.raises(pipetrack.InvalidInputError, match="descending"):
        pipetrack.get_script_history(descending="yes", database_url=store.url)  # type: ignore[call-overload]


def test_default_history_limit_is_50_as_in_r(sqlite_store: Store) -> None:
    import inspect

    assert inspect.signature(pipetrack.get_script_history).parameters["limit"].default == 50
    assert inspect.signature(pipetrack.get_failed_scripts).parameters["limit"].default == 100
    assert list(inspect.signature(pipetrack.get_failed_scripts).parameters)[:2] == ["hours", "limit"]
    assert list(inspect.signature(pipetrack.get_script_progress).parameters)[:2] == ["script_name", "run_id"]


def test_failed_scripts_takes_hours_first_as_in_r(store: Store) -> None:
    _populate(store)
    assert [f["script_name"] for f in pipetrack.get_failed_scripts(24, database_url=store.url)] == [
        "ANNUAL_DEC_01_Bad.py",
    ]
    assert [f["script_name"] for f in pipetrack.get_failed_scripts(1e12, database_url=store.url)] == [
        "ANNUAL_DEC_01_Bad.py",
    ]
    # The failure started before "0 hours ago".
    assert pipetrack.get_failed_scripts(0, database_url=store.url) == []
    assert pipetrack.get_failed_scripts(24, 1, database_url=store.url)[0]["error_class"] == "ValueError"
    past = datetime.now(timezone.utc) - timedelta(days=1)
    assert len(pipetrack.get_failed_scripts(0, since=past, database_url=store.url)) == 1


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf"), "24", None, True])
def test_failed_scripts_rejects_bad_hours(sqlite_store: Store, hours: object) -> None:
    with pytest.raises(pipetrack.InvalidInputError, match="hours must be a number >= 0"):
        pipetrack.get_failed_scripts(hours, database_url=sqlite_store.url)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "call",
    [
        lambda url: pipetrack.get_script_history(since="2024-01-01", database_url=url),
        lambda url: pipetrack.get_script_history(until=1700000000, database_url=url),
        lambda url: pipetrack.get_failed_scripts(since="yesterday", database_url=url),
    ],
)
def test_query_times_must_be_datetimes(sqlite_store: Store, call: Any) -> None:
    with pytest.raises(pipetrack.InvalidInputError, match="must be a datetime"):
        call(sqlite_store.url)


@pytest.mark.parametrize("limit", [0, -5, 2.5, "10", 1001])
def test_query_limits_are_checked(sqlite_store: Store, limit: object) -> None:
    with pytest.raises(pipetrack.InvalidInputError, match="limit"):
        pipetrack.get_script_history(limit=limit, database_url=sqlite_store.url)  # type: ignore[call-overload]
    with pytest.raises(pipetrack.InvalidInputError, match="limit"):
        pipetrack.get_failed_scripts(limit=limit, database_url=sqlite_store.url)  # type: ignore[call-overload]


def test_as_frame_for_failures_progress_and_paged_history(store: Store) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is optional; test.sh installs it")
    _populate(store)
    failed = pipetrack.get_failed_scripts(database_url=store.url, as_frame=True)
    assert isinstance(failed, pd.DataFrame)
    assert list(failed["error_class"]) == ["ValueError"]
    assert list(failed["script_name"]) == ["ANNUAL_DEC_01_Bad.py"]
    progress = pipetrack.get_script_progress("DAILY_01_Good.py", database_url=store.url, as_frame=True)
    assert isinstance(progress, pd.DataFrame)
    assert list(progress["name"]) == ["Load"] and list(progress["progress_done"]) == [3]
    empty = pipetrack.get_script_progress("NO_SUCH_SCRIPT.py", database_url=store.url, as_frame=True)
    assert isinstance(empty, pd.DataFrame) and empty.empty
    page = pipetrack.get_script_history(limit=2, database_url=store.url, as_frame=True)
    assert len(page) == 2 and page.attrs["next_cursor"] is not None
    rest = pipetrack.get_script_history(limit=2, cursor=page.attrs["next_cursor"], database_url=store.url, as_frame=True)
    assert len(rest) == 1 and rest.attrs["next_cursor"] is None
