#!/usr/bin/env bash
# The README's test command: every check CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${PUSHER_AUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pusher-auth-lambda}"
mkdir -p "$CACHE"
START=$(date +%s)
step() { echo "==> [$(( $(date +%s) - START )) s] $*"; }
# The later steps' network-bound installs (chromium, npm, venvs, arm64 toolchain) run in the
# background while the Rust builds below use the CPUs; waited for before the end-to-end suite,
# stopped if this script ends earlier (an interrupted install is redone by the step needing it).
setsid bash scripts/prefetch.sh > "$CACHE/prefetch.log" 2>&1 &
PREFETCH=$!
trap 'kill -- -"$PREFETCH" 2>/dev/null || true' EXIT

BIN_DIR="$(bash scripts/setup.sh)"
export PATH="$BIN_DIR:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings
step "cargo test (unit, vectors, event fixtures, JWKS, Secrets Manager against moto, Runtime API faults, 5,000-invocation soak)"
cargo test --locked
step "fuzzing, short run: every target ~20 s (scripts/fuzz.sh --short; the long run is in docs/reliability.md)"
bash scripts/fuzz.sh --short
step "local run smoke test (scripts/run-local.sh + its printed curl)"
python3 tests/local_run.py
if ! wait "$PREFETCH"; then
  step "(the background installs failed, see $CACHE/prefetch.log; the next steps install what is missing)"
fi
step "end to end: pusher-js in Chromium, sockudo, the function (scripts/e2e.sh)"
bash scripts/e2e.sh
step "deployment: template, mapping templates, packages (scripts/deploy-checks.sh)"
bash scripts/deploy-checks.sh
step "all checks passed"
