#!/usr/bin/env bash
# sockudo, the Pusher-protocol server of the end-to-end suite and of the live page
# (scripts/run-sockudo.sh): installs sockudo $SOCKUDO_VERSION into ~/.cargo/bin with
# `cargo install` when it is missing, then prints its path. Progress goes to stderr.
#
# The binary only serves tests and local runs, so it is built for compile time, not speed:
# no optimisation (opt-level 0; debug assertions and overflow checks stay off, as in any
# release build), 256 codegen units, no debug info, no LTO (sockudo's published crate sets no
# profile). Measured here: 10 CPU-minutes (7 min 38 s on both cores, sharing them), where
# opt-level 1 took 12 min 35 s on its own and cargo's default release profile about 17; the
# whole browser suite passes against it (36 tests). The build directory
# is ~/.cache/pusher-auth-lambda/sockudo-target, so an interrupted install resumes where it
# stopped; it is removed once sockudo is installed.
set -euo pipefail

SOCKUDO_VERSION="5.2.0"
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"
SOCKUDO="${CARGO_HOME:-$HOME/.cargo}/bin/sockudo"

sockudo_ok() {
  [ -x "$SOCKUDO" ] && "$SOCKUDO" --version 2>/dev/null | grep -qw "$SOCKUDO_VERSION"
}

# sockudo's build runs protoc on .proto files that import protobuf's well-known types
# (google/protobuf/timestamp.proto): protoc and libprotobuf-dev, which carries those files
# (only recommended by protobuf-compiler, so --no-install-recommends leaves it out).
protoc_ok() {
  command -v protoc >/dev/null 2>&1 && [ -f /usr/include/google/protobuf/timestamp.proto ]
}

if ! sockudo_ok; then
  if ! protoc_ok; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "==> apt-get install protobuf-compiler libprotobuf-dev" >&2
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends protobuf-compiler libprotobuf-dev >&2
  fi
  mkdir -p "$CACHE"
  echo "==> cargo install sockudo $SOCKUDO_VERSION (once; build directory $CACHE/sockudo-target)" >&2
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
  CARGO_PROFILE_RELEASE_DEBUG=false \
  CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_INCREMENTAL=false \
  CARGO_TARGET_DIR="$CACHE/sockudo-target" \
    cargo install sockudo --version "$SOCKUDO_VERSION" --locked --force --no-default-features --features local >&2
  sockudo_ok || { echo "sockudo: $SOCKUDO is not sockudo $SOCKUDO_VERSION after install" >&2; exit 1; }
  rm -rf "$CACHE/sockudo-target"
fi
echo "$SOCKUDO"
