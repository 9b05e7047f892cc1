#!/usr/bin/env bash
# monitor-web/test.sh: end-to-end tests of the dashboard in headless Chromium.
# scripts/test runs it after `cargo test` (which covers the handler and
# snapshot tests). Works from any directory; needs root or sudo only to
# install what is missing.
#
#   1. installs Chromium, the DejaVu fonts (chart PNGs) and Node.js when missing
#      (Debian packages; Chromium is the system's, never downloaded by npm);
#   2. builds pipetrack and seeds a fresh SQLite store with the demo history
#      (`pipetrack demo --seed-only`, the scale benchmark's generator);
#   3. starts `pipetrack serve` on it, a second `pipetrack serve` on the same
#      store with a dashboard token (for the sign-in page), and two live
#      tracked scripts: `pipetrack demo-script succeeds`, which keeps
#      advancing its tasks, and `pipetrack demo-script fails`, which fails
#      with a traceback and a log file the server can read;
#   4. runs e2e/dashboard.test.mjs (node:test + playwright-core) against them.
#
# Screenshots of every page go to artifacts/screenshots/ at the repository root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHOTS=$ROOT/artifacts/screenshots

as_root() {
    if ((EUID == 0)); then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "monitor-web/test.sh: need root to run '$*' and sudo is not installed" >&2
        return 1
    fi
}

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]} > 0)); then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "monitor-web/test.sh: install ${missing[*]} with your package manager" >&2
        exit 1
    fi
    echo "installing with apt-get: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
CHROMIUM=$(command -v chromium) || {
    echo "monitor-web/test.sh: Chromium is required for the end-to-end tests and is not installed" >&2
    exit 1
}
"$CHROMIUM" --version

if [[ ! -d $HERE/e2e/node_modules/playwright-core ]]; then
    (cd "$HERE/e2e" && npm ci --no-audit --no-fund)
fi

cd "$ROOT"
cargo build -q -p pipetrack
PIPETRACK=${CARGO_TARGET_DIR:-$ROOT/target}/debug/pipetrack

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipetrack-e2e.XXXXXX")
SERVER=""
AUTH_SERVER=""
LIVE=""
LIVE_FAILS=""
cleanup() {
    local status=$?
    exec 3>&- 2>/dev/null || true
    [[ -n $LIVE ]] && wait "$LIVE" 2>/dev/null || true
    [[ -n $LIVE_FAILS ]] && wait "$LIVE_FAILS" 2>/dev/null || true
    [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    [[ -n $AUTH_SERVER ]] && kill "$AUTH_SERVER" 2>/dev/null && wait "$AUTH_SERVER" 2>/dev/null || true
    if ((status != 0)) && [[ -f $WORK/serve.log ]]; then
        echo "---- pipetrack serve log:" >&2
        cat "$WORK/serve.log" >&2
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

"$PIPETRACK" demo --dir "$WORK" --seed-only --days 366
DB_URL="sqlite://$WORK/pipetrack-demo.db"

# Prints the URL a `pipetrack serve` (process $1, "$2" in messages) writes to
# its log $3, within 20 s; fails when it exits or does not start.
server_url() {
    local pid=$1 label=$2 log=$3 url=""
    for _ in $(seq 1 100); do
        url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$log" | head -n 1 || true)
        [[ -n $url ]] && { echo "$url"; return 0; }
        kill -0 "$pid" 2>/dev/null || { echo "$label exited" >&2; return 1; }
        sleep 0.2
    done
    echo "$label did not start within 20 s" >&2
    return 1
}

"$PIPETRACK" --database-url "$DB_URL" serve --bind 127.0.0.1:0 --live-every 1 >"$WORK/serve.log" 2>&1 &
SERVER=$!
BASE_URL=$(server_url "$SERVER" "pipetrack serve" "$WORK/serve.log")
echo "dashboard under test: $BASE_URL"

# The same store behind a dashboard token: the sign-in page.
AUTH_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PIPETRACK_DASHBOARD_TOKEN=$AUTH_TOKEN "$PIPETRACK" --database-url "$DB_URL" serve --bind 127.0.0.1:0 \
    >"$WORK/serve-auth.log" 2>&1 &
AUTH_SERVER=$!
AUTH_URL=$(server_url "$AUTH_SERVER" "pipetrack serve (with a token)" "$WORK/serve-auth.log")

# The live scripts run until their standard input (this fifo, held open on fd 3) closes.
mkfifo "$WORK/live.in"
"$PIPETRACK" --database-url "$DB_URL" demo-script succeeds --log-dir "$WORK" <"$WORK/live.in" &
LIVE=$!
"$PIPETRACK" --database-url "$DB_URL" demo-script fails --log-dir "$WORK" <"$WORK/live.in" &
LIVE_FAILS=$!
exec 3>"$WORK/live.in"

rm -rf "$SHOTS"
mkdir -p "$SHOTS"
cd "$HERE/e2e"
BASE_URL=$BASE_URL AUTH_URL=$AUTH_URL AUTH_TOKEN=$AUTH_TOKEN CHROMIUM=$CHROMIUM SCREENSHOT_DIR=$SHOTS node --test --test-concurrency=1 dashboard.test.mjs
echo "screenshots: $SHOTS"
