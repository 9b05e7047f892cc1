"""Query functions: the same answers as monitor-queries, as lists of dicts
(or DataFrames), on SQLite and PostgreSQL; clear errors for bad settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

import pipetrack
from conftest import Store

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
