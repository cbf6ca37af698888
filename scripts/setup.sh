#!/usr/bin/env bash
# One-time (idempotent) set-up for local runs and tests; prints the directory holding
# cargo-lambda. Installs into a cache outside the repository, so reruns are fast and the
# watched tree stays clean:
#   - rustfmt and clippy (rustup components)
#   - cargo-lambda and zig, pinned in scripts/requirements-cargo-lambda.txt, in a venv
#     (scripts/venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt >&2
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy >&2
fi
bash scripts/venv.sh cargo-lambda scripts/requirements-cargo-lambda.txt
