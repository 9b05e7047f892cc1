"""Fixtures of the pipetrack test suite: one fresh, migrated store per test on
SQLite (a temporary file) and on the real PostgreSQL server (a schema of its
own), and a helper that runs a Python script in a child process against it.

Scripts run in child processes because tracking state is process-global and
the behaviours under test (sys.excepthook, atexit, fork) are per process, as
they are for users.

PostgreSQL: ``PIPETRACK_TEST_PG_URL``, else
``postgres://postgres@127.0.0.1:5432/postgres``. When the server does not
answer, the PostgreSQL variants fail when ``PIPETRACK_REQUIRE_POSTGRES=1``
(test.sh sets it unless told otherwise, after scripts/ensure-postgres made a
server available), else they are skipped with the reason shown in the
summary (a bare ``pytest`` run for quick iterations).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import pipetrack

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"
SCRIPT_TIMEOUT_S = 120


@dataclass
class Store:
    """A migrated store of one test and the environment that points at it."""

    backend: str
    url: str
    tmp_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def run_script(
        self,
        code: str,
        *,
        name: str = "DAILY_01_Test_Script.py",
        env: dict[str, str] | None = None,
        expect_rc: int | None = 0,
        args: list[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs ``code`` as the script ``name`` (the name sets the category)
        with ``python name``, the way users run scripts, and returns the
        finished process. Fails the test on an unexpected exit code."""
        path = self.tmp_path / name
        path.write_text(textwrap.dedent(code))
        full_env = {**self.env, **(env or {})}
        proc = subprocess.run(
            [sys.executable, str(path), *(args or [])],
            env=full_env,
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
            check=False,
        )
        if expect_rc is not None and proc.returncode != expect_rc:
            pytest.fail(
                f"{name} exited with {proc.returncode}, expected {expect_rc}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}",
            )
        return proc

    def history(self, script: str = "DAILY_01_Test_Script.py") -> list[dict[str, Any]]:
        """Every run of ``script``, newest first."""
        return pipetrack.get_script_history(script, database_url=self.url)

    def only_run(self, script: str = "DAILY_01_Test_Script.py") -> dict[str, Any]:
        """The full detail of the one run of ``script`` (fails unless there is exactly one)."""
        runs = self.history(script)
        assert len(runs) == 1, f"expected one run of {script}, found {len(runs)}: {runs}"
        return pipetrack.get_run_detail(runs[0]["run_id"], database_url=self.url)


def _child_env(url: str, tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIPETRACK_", "MONITOR_DB_"))
    }
    env.update(
        {
            "PIPETRACK_DATABASE_URL": url,
            "PIPETRACK_SPOOL_DIR": str(tmp_path / "spool"),
            "PIPETRACK_FLUSH_MS": "20",
            "PIPETRACK_SAMPLE_S": "0",
            "PYTHONUNBUFFERED": "1",
            # A test never reads a developer's ~/.local/state or data dir.
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        },
    )
    return env


def _pg_base_url() -> str:
    return os.environ.get("PIPETRACK_TEST_PG_URL") or DEFAULT_PG_URL


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def _drop_schema(base_url: str, schema: str) -> None:
    psql = shutil.which("psql")
    if psql is None:
        return  # the schema has a unique name; leaving it does no harm
    subprocess.run(
        [psql, base_url, "-q", "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pipetrack.db'}"
        pipetrack.migrate(database_url=url)
        yield Store("sqlite", url, tmp_path, _child_env(url, tmp_path))
        return
    base = _pg_base_url()
    schema = f"pt_py_{uuid.uuid4().hex[:16]}"
    url = _with_schema(base, schema)
    try:
        pipetrack.migrate(database_url=url)
    except pipetrack.StoreError as err:
        message = f"PostgreSQL at {base} is not available: {err}"
        if os.environ.get("PIPETRACK_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{message} (PIPETRACK_REQUIRE_POSTGRES=1)")
        pytest.skip(f"{message}; set PIPETRACK_TEST_PG_URL to run the PostgreSQL variant")
    try:
        yield Store("postgres", url, tmp_path, _child_env(url, tmp_path))
    finally:
        _drop_schema(base, schema)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    """A fresh, migrated SQLite store (for tests whose subject is not the backend)."""
    url = f"sqlite:///{tmp_path / 'pipetrack.db'}"
    pipetrack.migrate(database_url=url)
    return Store("sqlite", url, tmp_path, _child_env(url, tmp_path))


def stdout_json(proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON document a script printed as its last stdout line."""
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"the script printed nothing\n--- stderr\n{proc.stderr}"
    return json.loads(lines[-1])
