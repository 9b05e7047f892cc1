#!/usr/bin/env bash
# tracker-r/test.sh: every test of the pipetrack R package. scripts/test runs it
# (with PIPETRACK_TEST_PG_URL and PIPETRACK_REQUIRE_POSTGRES=1 exported); it
# also runs on its own from any directory.
#
# Steps:
#   1. R and the Debian r-cran-* packages the package needs (installed with
#      apt-get as root or via sudo when missing; CRAN is never used).
#   2. PostgreSQL: $PIPETRACK_TEST_PG_URL, else scripts/ensure-postgres.
#   3. R CMD INSTALL tracker-r into a private library (the Rust code builds in
#      the workspace's target directory, shared with cargo).
#   4. R/extendr-wrappers.R is what tools/wrappers.R generates now (a stale
#      copy fails the run: regenerate it with the command printed).
#   5. testthat against SQLite and PostgreSQL; its summary is printed. The
#      query tests compare with the pipetrack CLI's --json output: it is built
#      first (cargo build -p pipetrack) and named by PIPETRACK_BIN.
#   6. tools/stage.sh + R CMD build + R CMD check --no-manual on the tarball:
#      no ERROR and no WARNING allowed (NOTEs are printed). The check builds the
#      Rust code again, in the shared target directory (CARGO_TARGET_DIR).
#
# Environment: PIPETRACK_R_SKIP_CHECK=1 skips step 6 (quick iterations).

set -euo pipefail

PKG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$PKG/.." && pwd)
START=$SECONDS

say() { printf '\n---- tracker-r: %s\n' "$*"; }

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "tracker-r/test.sh: need root to run '$*' and sudo is not installed" >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------
say "R and its packages (Debian)"
# R package -> Debian package.
declare -A DEBIAN=(
    [testthat]=r-cran-testthat [glue]=r-cran-glue [jsonlite]=r-cran-jsonlite
    [roxygen2]=r-cran-roxygen2 [withr]=r-cran-withr [knitr]=r-cran-knitr
    [rstudioapi]=r-cran-rstudioapi [bench]=r-cran-bench
)
missing=()
if ! command -v Rscript >/dev/null 2>&1 || ! command -v R >/dev/null 2>&1; then
    missing+=(r-base-dev)
fi
if ((${#missing[@]} == 0)); then
    for pkg in "${!DEBIAN[@]}"; do
        Rscript -e "quit(status = !requireNamespace('$pkg', quietly = TRUE))" >/dev/null 2>&1 || missing+=("${DEBIAN[$pkg]}")
    done
else
    missing+=("${DEBIAN[@]}")
fi
if ((${#missing[@]} > 0)); then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "tracker-r/test.sh: apt-get not found; install R and these Debian packages: ${missing[*]}" >&2
        exit 1
    fi
    echo "installing with apt-get: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
R --version | head -1
if ! command -v cargo >/dev/null 2>&1 && [[ -f $HOME/.cargo/env ]]; then
    # shellcheck disable=SC1091 # written by rustup
    . "$HOME/.cargo/env"
fi
cargo --version

# ---------------------------------------------------------------------------
say "PostgreSQL"
if [[ -z ${PIPETRACK_TEST_PG_URL:-} ]]; then
    PIPETRACK_TEST_PG_URL=$("$ROOT/scripts/ensure-postgres")
fi
export PIPETRACK_TEST_PG_URL
export PIPETRACK_REQUIRE_POSTGRES=${PIPETRACK_REQUIRE_POSTGRES:-1}
echo "PIPETRACK_TEST_PG_URL=$PIPETRACK_TEST_PG_URL PIPETRACK_REQUIRE_POSTGRES=$PIPETRACK_REQUIRE_POSTGRES"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipetrack-r-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LIB=$WORK/lib
mkdir -p "$LIB"
# Tests must not touch the user's own pipetrack state.
export XDG_STATE_HOME=$WORK/state XDG_DATA_HOME=$WORK/data
export NOT_CRAN=true

# ---------------------------------------------------------------------------
say "R CMD INSTALL tracker-r"
step=$SECONDS
(cd "$ROOT" && R CMD INSTALL --no-multiarch -l "$LIB" tracker-r)
echo "installed in $((SECONDS - step))s"

say "generated wrappers are current"
Rscript "$PKG/tools/wrappers.R" "$LIB" "$WORK/extendr-wrappers.R"
if ! diff -u "$PKG/R/extendr-wrappers.R" "$WORK/extendr-wrappers.R"; then
    echo "tracker-r/R/extendr-wrappers.R is stale: run" >&2
    echo "  Rscript tracker-r/tools/wrappers.R <library with pipetrack installed> tracker-r/R/extendr-wrappers.R" >&2
    exit 1
fi
echo "R/extendr-wrappers.R is up to date"

# ---------------------------------------------------------------------------
say "pipetrack CLI (the query tests compare against its --json output)"
(cd "$ROOT" && cargo build -q -p pipetrack)
PIPETRACK_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pipetrack
[[ -x $PIPETRACK_BIN ]] || {
    echo "tracker-r/test.sh: cargo build -p pipetrack did not produce $PIPETRACK_BIN" >&2
    exit 1
}
export PIPETRACK_BIN
echo "PIPETRACK_BIN=$PIPETRACK_BIN"

# ---------------------------------------------------------------------------
say "testthat (SQLite and PostgreSQL)"
step=$SECONDS
R_LIBS=$LIB Rscript -e '
  options(testthat.progress.max_fails = 10000)
  results <- testthat::test_dir(
    "'"$PKG"'/tests/testthat", package = "pipetrack", load_package = "installed",
    reporter = testthat::SummaryReporter$new(), stop_on_failure = FALSE
  )
  df <- as.data.frame(results)
  cat(sprintf(
    "\ntestthat: %d tests, %d expectations passed, %d failed, %d skipped, %d warnings\n",
    nrow(df), sum(df$passed), sum(df$failed), sum(df$skipped), sum(df$warning)
  ))
  if (sum(df$failed) > 0 || any(df$error)) quit(status = 1)
'
echo "testthat took $((SECONDS - step))s"

# ---------------------------------------------------------------------------
if [[ ${PIPETRACK_R_SKIP_CHECK:-0} == 1 ]]; then
    say "PIPETRACK_R_SKIP_CHECK=1: R CMD build/check skipped"
else
    say "R CMD build + R CMD check --no-manual"
    step=$SECONDS
    staged=$("$PKG/tools/stage.sh" "$WORK/stage")
    (cd "$WORK" && R CMD build --no-build-vignettes "$staged")
    tarball=$(ls "$WORK"/pipetrack_*.tar.gz)
    echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
    # Share cargo's build cache: the staged crates are rebuilt, their
    # dependencies are not.
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    status=0
    (cd "$WORK" && _R_CHECK_FORCE_SUGGESTS_=true R CMD check --no-manual "$tarball") || status=$?
    log=$WORK/pipetrack.Rcheck/00check.log
    if [[ -f $WORK/pipetrack.Rcheck/tests/testthat.Rout.fail ]]; then
        tail -n 60 "$WORK/pipetrack.Rcheck/tests/testthat.Rout.fail"
    fi
    if ((status != 0)) || grep -qE '(WARNING|ERROR)$' "$log"; then
        echo "R CMD check found errors or warnings:" >&2
        grep -B2 -A12 -E '(WARNING|ERROR)$' "$log" >&2 || true
        exit 1
    fi
    grep -A8 -E 'NOTE$' "$log" || true
    tail -n 2 "$log"
    echo "R CMD build + check took $((SECONDS - step))s"
fi

say "all passed in $((SECONDS - START))s"
