#!/usr/bin/env bash
# End-to-end suite (tests/e2e): the real pusher-js in headless Debian Chromium,
# the sockudo Pusher-protocol server and the function under `cargo lambda watch`.
# Installs what is missing, then runs every tests/e2e/*.test.mjs (or the files given):
#   - Debian packages: chromium (the browser), protobuf-compiler and libprotobuf-dev (only
#     to build sockudo)
#   - sockudo into ~/.cargo/bin (scripts/sockudo.sh: cargo install with a fast-compiling
#     profile, once), built in the background while the next two install
#   - the pinned npm packages of tests/e2e (npm ci; never downloads a browser)
#   - the Python venv of tests/deploy/requirements-vtl.txt (scripts/venv.sh), for the
#     API Gateway stage that renders the mapping templates (tests/e2e/lib/apigw_stage.py)
# cargo-lambda is installed by scripts/run-local.sh itself (through scripts/setup.sh).
#
#   bash scripts/e2e.sh                              the whole suite
#   bash scripts/e2e.sh tests/e2e/page.test.mjs      one file
#   E2E_SCREENSHOT=docs/page.png bash scripts/e2e.sh tests/e2e/page.test.mjs
#                                                    also rewrites the README's screenshot
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKUDO_VERSION="5.2.0" # as in scripts/sockudo.sh
CHROMIUM="${E2E_CHROMIUM:-/usr/bin/chromium}"
SOCKUDO="${CARGO_HOME:-$HOME/.cargo}/bin/sockudo"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "==> apt-get install $*" >&2
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >&2
}

sockudo_ok() {
  [ -x "$SOCKUDO" ] && "$SOCKUDO" --version 2>/dev/null | grep -qw "$SOCKUDO_VERSION"
}

# --- tools ---------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "e2e: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
APT=()
[ -x "$CHROMIUM" ] || APT+=(chromium)
# protoc and the well-known .proto files (libprotobuf-dev), only to build sockudo
if ! sockudo_ok && ! { command -v protoc >/dev/null 2>&1 && [ -f /usr/include/google/protobuf/timestamp.proto ]; }; then
  APT+=(protobuf-compiler libprotobuf-dev)
fi
if [ "${#APT[@]}" -gt 0 ]; then apt_install "${APT[@]}"; fi

# sockudo's build is the long, CPU-bound part of a first run: it runs in the background
# while the network-bound installs below proceed.
SOCKUDO_JOB=""
if ! sockudo_ok; then
  bash scripts/sockudo.sh >/dev/null &
  SOCKUDO_JOB=$!
fi

# --- the Velocity venv (API Gateway stage emulator, tests/e2e/lib/apigw_stage.py) --
# localstack-core + airspeed-ext from tests/deploy/requirements-vtl.txt, shared with
# scripts/deploy-checks.sh (scripts/venv.sh: ~/.cache/pusher-auth-lambda/venv-deploy-vtl).
VTL_BIN="$(bash scripts/venv.sh deploy-vtl tests/deploy/requirements-vtl.txt)"

# --- npm packages (exact versions from package-lock.json) -----------------
echo "==> npm ci (tests/e2e)" >&2
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >&2)

if [ -n "$SOCKUDO_JOB" ]; then
  echo "==> waiting for sockudo's build (scripts/sockudo.sh)" >&2
  wait "$SOCKUDO_JOB" || { echo "e2e: installing sockudo failed (scripts/sockudo.sh)" >&2; exit 1; }
fi
sockudo_ok || { echo "e2e: $SOCKUDO is not sockudo $SOCKUDO_VERSION" >&2; exit 1; }

# --- the suite -------------------------------------------------------------
if [ "$#" -gt 0 ]; then FILES=("$@"); else FILES=(tests/e2e/*.test.mjs); fi
echo "==> end-to-end suite (pusher-js $(node -p "require('./tests/e2e/node_modules/pusher-js/package.json').version"), $(node -p "require('./tests/e2e/node_modules/pusher-js-7/package.json').version") and $(node -p "require('./tests/e2e/node_modules/pusher-js-4/package.json').version"), sockudo $SOCKUDO_VERSION, $("$CHROMIUM" --version 2>/dev/null | head -n1))"
start=$(date +%s)
status=0
E2E_CHROMIUM="$CHROMIUM" E2E_SOCKUDO="$SOCKUDO" E2E_VTL_PYTHON="$VTL_BIN/python" \
  node --test --test-reporter=spec --test-concurrency=1 "${FILES[@]}" || status=$?
echo "==> end-to-end suite finished in $(( $(date +%s) - start )) s (exit $status)"
exit "$status"
