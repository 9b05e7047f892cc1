"""The store is not available: the script still completes, warns once, and
its events land once the store is back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import pipetrack
from conftest import Store, _child_env, _drop_schema, _pg_base_url, _with_schema

PAUSED_SCRIPT = """
import os, time, pipetrack
pipetrack.genter("Before the store is back")
pipetrack.gmessage("still working")
pipetrack.gexit()
open("paused", "w").close()
deadline = time.monotonic() + 60
while not os.path.exists("go") and time.monotonic() < deadline:
    time.sleep(0.05)
with pipetrack.task("After the store is back"):
    pass
"""


def _not_ready_store(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    """A store URL that exists but is not migrated yet (the tracker refuses to
    write to it), and the Postgres schema to drop afterwards."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'later.db'}", None
    schema = f"pt_py_{uuid.uuid4().hex[:16]}"
    return _with_schema(_pg_base_url(), schema), schema


@pytest.mark.slow
def test_events_land_after_the_store_comes_back(store: Store, tmp_path: Path) -> None:
    url, schema = _not_ready_store(store.backend, tmp_path / "later")
    (tmp_path / "later").mkdir()
    env = _child_env(url, tmp_path)
    env.update({"PIPETRACK_RETRY_MAX_S": "1", "PIPETRACK_EXIT_FLUSH_MS": "8000"})
    script = tmp_path / "DAILY_09_Outage.py"
    script.write_text(textwrap.dedent(PAUSED_SCRIPT))
    try:
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not (tmp_path / "paused").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "paused").exists(), proc.communicate(timeout=5)
        time.sleep(0.5)  # the writer has tried the store and spooled
        pipetrack.migrate(database_url=url)  # the store is back
        (tmp_path / "go").touch()
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        # One warning, through Python's warnings module.
        assert stderr.count("TrackingWarning") == 1, stderr
        assert "cannot write tracking events to the store" in stderr
        runs = pipetrack.get_script_history("DAILY_09_Outage.py", database_url=url)
        assert len(runs) == 1
        detail = pipetrack.get_run_detail(runs[0]["run_id"], database_url=url)
        assert detail["run"]["status"] == "completed"
        assert [(t["name"], t["status"]) for t in detail["tasks"]] == [
            ("Before the store is back", "completed"),
            ("After the store is back", "completed"),
        ]
        assert [m["message"] for m in detail["messages"]] == ["still working"]
    finally:
        if schema is not None:
            _drop_schema(_pg_base_url(), schema)


@pytest.mark.slow
def test_unreachable_store_spools_and_a_later_process_replays(store: Store) -> None:
    spool = store.tmp_path / "spool"
    proc = store.run_script(
        """
        import pipetrack
        for state in ["AL", "AK"]:
            with pipetrack.task("Load {state}"):
                pipetrack.progress(1, 1)
        print("done")
        """,
        name="DAILY_10_Down.py",
        env={
            # Nothing listens on port 9: connections are refused at once.
            "PIPETRACK_DATABASE_URL": "postgres://postgres@127.0.0.1:9/postgres",
            "PIPETRACK_EXIT_FLUSH_MS": "500",
        },
    )
    assert proc.stdout.strip() == "done"
    assert proc.stderr.count("TrackingWarning") == 1, proc.stderr
    assert any(spool.iterdir()), "the events must be in the spool"
    assert store.history("DAILY_10_Down.py") == []
    # The store is reachable again for the next tracked process, whose writer
    # replays the segments left by the first one.
    store.run_script("import pipetrack\npipetrack.genter('x')\n", name="DAILY_11_Next.py")
    detail = store.only_run("DAILY_10_Down.py")
    assert detail["run"]["status"] == "completed"
    assert [t["name"] for t in detail["tasks"]] == ["Load AL", "Load AK"]
    assert os.environ.get("PIPETRACK_DATABASE_URL") != store.url  # the test process was not reconfigured
