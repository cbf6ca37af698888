#!/usr/bin/env bash
# End-to-end suite (tests/e2e): the real pusher-js in headless Debian Chromium,
# the sockudo Pusher-protocol server and the function under `cargo lambda watch`.
# Installs what is missing, then runs the suite:
#   - Debian packages: chromium (the browser), protobuf-compiler (only to build sockudo)
#   - sockudo $SOCKUDO_VERSION into ~/.cargo/bin (cargo install; ~10 min once)
#   - the pinned npm packages of tests/e2e (npm ci; never downloads a browser)
#   - the Python venv of tests/deploy/requirements-vtl.txt (scripts/vtl-venv.sh), for the
#     API Gateway stage that renders the mapping templates (tests/e2e/lib/apigw_stage.py)
# cargo-lambda is installed by scripts/run-local.sh itself (through scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKUDO_VERSION="5.2.0"
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
if [ ! -x "$CHROMIUM" ]; then
  apt_install chromium
fi
if ! sockudo_ok; then
  command -v protoc >/dev/null 2>&1 || apt_install protobuf-compiler
  echo "==> cargo install sockudo $SOCKUDO_VERSION (one-time, several minutes)" >&2
  cargo install sockudo --version "$SOCKUDO_VERSION" --locked --force --no-default-features --features local >&2
  sockudo_ok || { echo "e2e: $SOCKUDO is not sockudo $SOCKUDO_VERSION after install" >&2; exit 1; }
fi

# --- the Velocity venv (API Gateway stage emulator, tests/e2e/lib/apigw_stage.py) --
# localstack-core + airspeed-ext from tests/deploy/requirements-vtl.txt, shared with
# scripts/deploy-checks.sh (scripts/vtl-venv.sh: ~/.cache/pusher-auth-lambda/venv-deploy-vtl).
VTL_BIN="$(bash scripts/vtl-venv.sh)"

# --- npm packages (exact versions from package-lock.json) -----------------
echo "==> npm ci (tests/e2e)" >&2
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >&2)

# --- the suite -------------------------------------------------------------
echo "==> end-to-end suite (pusher-js $(node -p "require('./tests/e2e/node_modules/pusher-js/package.json').version") and $(node -p "require('./tests/e2e/node_modules/pusher-js-7/package.json').version"), sockudo $SOCKUDO_VERSION, $("$CHROMIUM" --version 2>/dev/null | head -n1))"
start=$(date +%s)
status=0
E2E_CHROMIUM="$CHROMIUM" E2E_SOCKUDO="$SOCKUDO" E2E_VTL_PYTHON="$VTL_BIN/python" \
  node --test --test-reporter=spec --test-concurrency=1 tests/e2e/*.test.mjs || status=$?
echo "==> end-to-end suite finished in $(( $(date +%s) - start )) s (exit $status)"
exit "$status"
