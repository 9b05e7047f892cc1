#!/usr/bin/env bash
# examples/pipeline/test.sh: runs the example pipeline end to end with every
# part of pipetrack as users install it — the pipetrack binary, the Python
# package (pip install ./tracker-py) and the R package (R CMD INSTALL
# tracker-r) — on a fresh SQLite store and on a fresh Postgres schema, and
# checks what landed. Called by scripts/test after the binding suites (which
# install R and build the Python virtualenv); runnable on its own afterwards.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

say() { printf '\n---- examples/pipeline: %s\n' "$*"; }

PYTHON=$ROOT/tracker-py/.venv/bin/python
if [[ ! -x $PYTHON ]] || ! "$PYTHON" -c 'import pipetrack' 2>/dev/null; then
    say "the Python package is not installed: running tracker-py/test.sh first builds it"
    echo "examples/pipeline/test.sh: run tracker-py/test.sh (or scripts/test) first" >&2
    exit 1
fi
command -v Rscript >/dev/null || { echo "examples/pipeline/test.sh: R is missing; run tracker-r/test.sh (or scripts/test) first" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipetrack-example.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_STATE_HOME=$WORK/state XDG_DATA_HOME=$WORK/data

say "building pipetrack and installing the R package"
cargo build -q -p pipetrack
PIPETRACK=$ROOT/target/debug/pipetrack
mkdir -p "$WORK/rlib"
R CMD INSTALL --no-multiarch -l "$WORK/rlib" tracker-r >"$WORK/r-install.log" 2>&1 || {
    tail -n 40 "$WORK/r-install.log" >&2
    exit 1
}
export R_LIBS=$WORK/rlib

PG_URL=${PIPETRACK_TEST_PG_URL:-$("$ROOT/scripts/ensure-postgres")}
SCHEMA=pt_example_$$
separator='?'; [[ $PG_URL == *\?* ]] && separator='&'

check_store() {
    local url=$1
    say "pipeline on $url"
    export PIPETRACK_DATABASE_URL=$url
    "$PIPETRACK" migrate >/dev/null
    make -s -C "$HERE" PIPETRACK="$PIPETRACK" PYTHON="$PYTHON" >"$WORK/make.log" 2>&1 || {
        tail -n 40 "$WORK/make.log" >&2
        echo "the example pipeline failed" >&2
        exit 1
    }
    # A failing run: make stops, the run is failed with the Python error.
    if make -s -C "$HERE" PIPETRACK="$PIPETRACK" PYTHON="$PYTHON" FAIL=1 download >"$WORK/fail.log" 2>&1; then
        echo "make FAIL=1 download should have failed" >&2
        exit 1
    fi
    "$PIPETRACK" history --json >"$WORK/history.json"
    for id in $("$PYTHON" -c 'import json,sys; [print(r["run_id"]) for r in json.load(open(sys.argv[1]))["items"]]' "$WORK/history.json"); do
        "$PIPETRACK" show "$id" --json
    done >"$WORK/runs.jsonl.tmp"
    "$PYTHON" - "$WORK/runs.jsonl.tmp" <<'PY'
import json
import sys

text = open(sys.argv[1]).read()
decoder, runs, pos = json.JSONDecoder(), [], 0
while pos < len(text):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    obj, pos = decoder.raw_decode(text, pos)
    runs.append(obj)

def run_of(detail):
    return detail.get("run", detail)

by_script = {}
for detail in runs:
    by_script.setdefault(run_of(detail)["script_name"], []).append(detail)

expected = {
    "PREREQ_01_Check_Inputs.sh", "STATIC_02_Technology_Codes.R",
    "DAILY_00a_BDC_Download.py", "DAILY_01_BDC_Locations.R",
}
assert set(by_script) == expected, sorted(by_script)
# One run per script and make invocation (instrumented scripts joined the wrapper's run),
# two runs of the download (the good one and the failing one).
counts = {name: len(v) for name, v in by_script.items()}
assert counts == {"PREREQ_01_Check_Inputs.sh": 2, "STATIC_02_Technology_Codes.R": 1,
                  "DAILY_00a_BDC_Download.py": 2, "DAILY_01_BDC_Locations.R": 1}, counts

first_make = [run_of(d) for d in runs if run_of(d)["script_name"] != "DAILY_00a_BDC_Download.py" or run_of(d)["status"] == "completed"]
pipelines = {r["pipeline_run_id"] for r in first_make if r["script_name"] != "PREREQ_01_Check_Inputs.sh"}
assert len(pipelines) == 1 and None not in pipelines, pipelines

r_run = by_script["DAILY_01_BDC_Locations.R"][0]
assert run_of(r_run)["status"] == "completed"
assert run_of(r_run)["language"] == "R"
names = sorted(t["name"] for t in r_run["tasks"])
assert names[:2] == ["Load locations", "Process states"], names
workers = [t for t in r_run["tasks"] if t["name"].startswith("Processing ")]
assert sorted(t["name"] for t in workers) == sorted(f"Processing {s}" for s in ["CA", "NY", "TX", "WA", "OR", "NV"]), workers
assert all(t["depth"] == 1 and t["status"] == "completed" for t in workers), workers

py_runs = {run_of(d)["status"]: d for d in by_script["DAILY_00a_BDC_Download.py"]}
assert set(py_runs) == {"completed", "failed"}, set(py_runs)
assert run_of(py_runs["completed"])["language"] == "python"
assert [t["name"] for t in py_runs["completed"]["tasks"]] == ["Download BDC availability files", "Validate TX file"]
failed = run_of(py_runs["failed"])
assert failed["error_class"] == "ConnectionError", failed["error_class"]
assert "HTTP 503" in failed["error_message"], failed["error_message"]
assert "raise ConnectionError" in (failed.get("error_traceback") or ""), failed.get("error_traceback")

shell = run_of(by_script["PREREQ_01_Check_Inputs.sh"][0])
assert shell["language"] == "shell" and shell["tasks_done"] == 2, shell
static = run_of(by_script["STATIC_02_Technology_Codes.R"][0])
assert static["status"] == "completed" and static["exit_code"] == 0, static
print(f"examples/pipeline: {len(runs)} runs checked")
PY
}

check_store "sqlite://$WORK/example.db"
check_store "$PG_URL${separator}schema=$SCHEMA"
PGOPTIONS=--client-min-messages=warning psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null
say "all checks passed"
echo "examples/pipeline: 2 passed, 0 failed"
