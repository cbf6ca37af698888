#!/usr/bin/env bash
# One-time (idempotent) set-up for local runs and tests. Installs into a cache
# outside the repository, so reruns are fast and the watched tree stays clean:
#   - rustfmt and clippy (rustup components)
#   - cargo-lambda (PyPI package `cargo-lambda`, which carries the binary and
#     pulls zig from `ziglang`) in a Python venv
set -euo pipefail

CACHE="${PUSHER_AUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pusher-auth-lambda}"
VENV="$CACHE/venv"
CARGO_LAMBDA_VERSION="1.9.2"

mkdir -p "$CACHE"
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt >&2
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy >&2
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
  echo "setup: installing cargo-lambda $CARGO_LAMBDA_VERSION into $VENV" >&2
  "$VENV/bin/pip" install --quiet "cargo-lambda==$CARGO_LAMBDA_VERSION" >&2
fi
echo "$VENV/bin"
