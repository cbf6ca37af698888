#!/usr/bin/env bash
# First-run saving for scripts/test.sh, which starts this in the background: the installs of
# its later steps that wait on the network rather than the CPU run while its first steps
# compile Rust. Each step still installs whatever is missing itself, so a failure here only
# loses the head start. On a machine where everything is cached this does nothing noticeable.
#   - Debian's chromium (and protobuf-compiler, libprotobuf-dev when sockudo is not installed), through
#     apt-get, only when that needs no password
#   - the e2e npm packages (npm ci in tests/e2e)
#   - sockudo's one-time build (scripts/sockudo.sh), at low priority, once protoc is there
#   - the deployment checks' venvs and arm64 toolchain (scripts/deploy-checks.sh --install-only;
#     it also makes the Velocity venv the e2e suite uses), then their arm64 release build
#     (scripts/deploy-checks.sh --prebuild, log in ~/.cache/pusher-auth-lambda/prebuild.log) at
#     the lowest priority, not waited for: it soaks up whatever CPU the test command leaves idle
#     until the deployment checks need it (cargo's lock makes them wait for it if it is still
#     running; a no-op once built)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cache.sh

jobs_failed=0
(
  # One apt-get at a time: the arm64 toolchain below may need apt-get for libLLVM's libraries.
  apt=()
  [ -x "${E2E_CHROMIUM:-/usr/bin/chromium}" ] || apt+=(chromium)
  if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/sockudo" ] && \
     ! { command -v protoc >/dev/null 2>&1 && [ -f /usr/include/google/protobuf/timestamp.proto ]; }; then
    apt+=(protobuf-compiler libprotobuf-dev)
  fi
  if [ "${#apt[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
    if [ -z "$sudo" ] || sudo -n true 2>/dev/null; then
      echo "prefetch: apt-get install ${apt[*]}"
      $sudo apt-get update -q
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${apt[@]}"
    fi
  fi
  # sockudo's one-time build (the longest part of a first run) starts now, at low priority, so
  # it overlaps fmt, clippy, cargo test and the smoke test instead of following them.
  if [ -x "$(command -v protoc || true)" ] && [ -f /usr/include/google/protobuf/timestamp.proto ]; then
    echo "prefetch: sockudo (scripts/sockudo.sh, nice 10)"
    nice -n 10 bash scripts/sockudo.sh > /dev/null &
    sockudo_job=$!
  fi
  echo "prefetch: deployment venvs and arm64 toolchain"
  status=0
  if bash scripts/deploy-checks.sh --install-only; then
    echo "prefetch: arm64 release build (nice 19, in the background)"
    nice -n 19 bash scripts/deploy-checks.sh --prebuild > "$CACHE/prebuild.log" 2>&1 &
  else
    status=1
  fi
  if [ -n "${sockudo_job:-}" ]; then wait "$sockudo_job" || status=1; fi
  exit "$status"
) &
deploy_job=$!
echo "prefetch: npm ci (tests/e2e)"
(cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || jobs_failed=1
wait "$deploy_job" || jobs_failed=1
echo "prefetch: done (failed: $jobs_failed)"
exit "$jobs_failed"
