#!/usr/bin/env bash
# The README's test command: every check CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/cache.sh
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
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test (unit, vectors, event fixtures, JWKS, Secrets Manager against moto, Runtime API faults, 5,000-invocation soak)"
cargo test --locked
step "mutation testing of the last commit's Rust lines (scripts/mutants.sh HEAD~1, at most 10 minutes)"
# A missed mutant is a bug the tests would let through: it fails the run. Past 10 minutes the
# run stops and says so (a large commit: run scripts/mutants.sh on it by hand before pushing).
mutants_status=0
rm -f "$CACHE/mutants-timed-out"
setsid bash scripts/mutants.sh HEAD~1 &
MUTANTS=$!
# The marker first: `wait` returns as soon as the group is killed.
( sleep 600 && touch "$CACHE/mutants-timed-out" && kill -- -"$MUTANTS" 2>/dev/null ) &
WATCHDOG=$!
wait "$MUTANTS" || mutants_status=$?
kill "$WATCHDOG" 2>/dev/null || true
if [ -f "$CACHE/mutants-timed-out" ]; then mutants_status=124; fi
case "$mutants_status" in
  0) ;;
  124) echo "==> mutation testing took over 10 minutes for this commit: not finished here; run scripts/mutants.sh HEAD~1" ;;
  *) echo "==> mutation testing found missed mutants (above), or could not run (status $mutants_status)"; exit 1 ;;
esac
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
