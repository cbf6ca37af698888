#!/usr/bin/env bash
# The soak: SOAK_INVOCATIONS (default 100,000, or the first argument) mixed
# invocations (allowed, refused, malformed, batches, jwt; every event shape) through the
# Runtime API stand-in into one release `pusher-auth` process, checking every
# answer, peak RSS (after 10,000 and at the end, within 5 %), open file
# descriptors (flat) and JWKS refetches (at most one a minute); then the
# largest accepted inputs under a 128 MiB address-space limit (prlimit --as).
# `cargo test` runs the same test with 5,000 invocations on the test build.
#
#   scripts/soak.sh            # 100,000 invocations
#   scripts/soak.sh 1000000    # a longer one
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_INVOCATIONS="${1:-${SOAK_INVOCATIONS:-100000}}"
echo "==> cargo build --release (the bootstrap under test)"
cargo build --release --locked --bin pusher-auth
export SOAK_BINARY="${CARGO_TARGET_DIR:-target}/release/pusher-auth"
echo "==> soak: $SOAK_INVOCATIONS invocations against $SOAK_BINARY"
cargo test --locked --test it soak:: -- --nocapture --test-threads=1
