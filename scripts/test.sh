#!/usr/bin/env bash
# The README's test command: every check CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_DIR="$(bash scripts/setup.sh)"
export PATH="$BIN_DIR:$PATH"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "==> cargo test (unit, vectors, event fixtures, JWKS, Secrets Manager against moto)"
cargo test --locked
echo "==> local run smoke test (scripts/run-local.sh + its printed curl)"
python3 tests/local_run.py
echo "==> end to end: pusher-js in Chromium, sockudo, the function (scripts/e2e.sh)"
bash scripts/e2e.sh
echo "==> deployment: template, mapping templates, packages (scripts/deploy-checks.sh)"
bash scripts/deploy-checks.sh
echo "==> all checks passed"
