#!/usr/bin/env bash
# tracker-py/test.sh: builds the `pipetrack` Python package exactly as users
# install it (`pip install ./tracker-py`, a maturin PEP 517 build) into a
# virtualenv and tests it: mypy --strict on the package, then pytest against
# SQLite and the real PostgreSQL. Run by scripts/test (step 6); works alone too.
#
# Environment:
#   PIPETRACK_TEST_PG_URL       PostgreSQL server of the tests (default: the
#                               URL scripts/ensure-postgres prints, after it
#                               made a server available)
#   PIPETRACK_REQUIRE_POSTGRES  1 (the default here): a PostgreSQL that does
#                               not answer fails the tests; 0 skips their
#                               PostgreSQL variant instead (quick local runs)
#   PYTHON                      interpreter for the virtualenv (default: python3)
#   PYTEST_ARGS                 extra pytest arguments (e.g. "-m 'not slow'")
#
# The virtualenv is tracker-py/.venv (gitignored), created once and reused.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
VENV=$HERE/.venv
PYTHON=${PYTHON:-python3}

step() { printf '\n---- tracker-py: %s\n' "$*"; }

as_root() {
    if ((EUID == 0)); then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "tracker-py/test.sh: need root to run '$*'" >&2
        return 1
    fi
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "tracker-py/test.sh: $PYTHON not found; install Python 3.10 or newer (apt-get install python3)" >&2
    exit 1
fi

if [[ ! -x $VENV/bin/python ]]; then
    step "creating the virtualenv $VENV with $("$PYTHON" --version)"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        # Debian's python3 needs its venv module from a separate package.
        step "installing python3-venv with apt-get"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi
PY=$VENV/bin/python

step "PostgreSQL"
if [[ -z ${PIPETRACK_TEST_PG_URL:-} ]]; then
    PIPETRACK_TEST_PG_URL=$("$ROOT/scripts/ensure-postgres")
fi
export PIPETRACK_TEST_PG_URL
export PIPETRACK_REQUIRE_POSTGRES=${PIPETRACK_REQUIRE_POSTGRES:-1}
echo "PIPETRACK_TEST_PG_URL=$PIPETRACK_TEST_PG_URL PIPETRACK_REQUIRE_POSTGRES=$PIPETRACK_REQUIRE_POSTGRES"

step "installing the test tools (maturin, pytest, mypy, pandas)"
# mypy < 2: the major version these checks were written for (pyproject.toml
# sets python_version to the oldest Python supported, 3.10).
"$PY" -m pip install --quiet --disable-pip-version-check maturin pytest "mypy>=1.8,<2" pandas

step "pip install ./tracker-py (maturin release build)"
# The very command users run, from the repository root. --force-reinstall:
# the version does not change between commits, the code does.
(cd "$ROOT" && "$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall ./tracker-py)
installed=$(cd / && "$PY" -c 'import pipetrack, os; print(os.path.dirname(pipetrack.__file__))')
case $installed in
    "$VENV"/*) echo "installed: $installed" ;;
    *)
        echo "tracker-py/test.sh: pipetrack is imported from $installed, not from the virtualenv" >&2
        exit 1
        ;;
esac

step "mypy --strict"
(cd "$HERE" && "$PY" -m mypy --strict python/pipetrack)

step "pytest (SQLite and PostgreSQL)"
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of arguments on purpose
(cd "$HERE" && "$PY" -m pytest -p no:cacheprovider ${PYTEST_ARGS:-})
