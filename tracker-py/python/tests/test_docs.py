"""Every ```python block of docs/python.md runs as written: each is a
self-contained script, run with ``python <file>`` against a fresh SQLite
store. A block meant to exit with another status than 0 is preceded by an
``<!-- expect-exit: N -->`` comment; a block whose first line is a
``# NAME.py`` comment is run as that file (its name sets the category)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import Store

DOC = Path(__file__).resolve().parents[3] / "docs" / "python.md"
BLOCK = re.compile(r"(?:<!--\s*expect-exit:\s*(\d+)\s*-->\s*\n)?```python\n(.*?)```", re.DOTALL)
FILE_NAME = re.compile(r"#\s*([A-Za-z0-9_]+\.py)\s*$")


def _blocks() -> list[tuple[str, int, str]]:
    text = DOC.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start(2)) + 1
        blocks.append((f"python.md:{line}", int(match.group(1) or 0), match.group(2)))
    return blocks


def test_the_guide_has_examples() -> None:
    labels = [label for label, _, _ in _blocks()]
    assert len(labels) >= 4, labels


@pytest.mark.slow
@pytest.mark.parametrize(("label", "expect_rc", "code"), _blocks(), ids=[b[0] for b in _blocks()])
def test_every_python_example_of_the_guide_runs(sqlite_store: Store, label: str, expect_rc: int, code: str) -> None:
    first = code.splitlines()[0] if code.strip() else ""
    named = FILE_NAME.fullmatch(first.strip())
    name = named.group(1) if named else "DAILY_00_Doc_Example.py"
    proc = sqlite_store.run_script(code, name=name, expect_rc=expect_rc)
    assert "Traceback" not in proc.stderr or expect_rc != 0, proc.stderr
