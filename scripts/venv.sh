#!/usr/bin/env bash
# The one pinned-venv helper: every Python tool the scripts and tests use lives in a venv
# under ~/.cache/pusher-auth-lambda (or $PUSHER_AUTH_CACHE), installed from a pinned
# requirements file and reinstalled only when that file changes (sha256 stamp in the venv).
#
#   bash scripts/venv.sh NAME REQUIREMENTS    installs what is missing of venv-NAME and
#                                             prints its bin directory
#   source scripts/venv.sh                    defines `pinned_venv NAME REQUIREMENTS`, the same
#
# The venvs: cargo-lambda (scripts/requirements-cargo-lambda.txt, cargo-lambda and zig, by
# scripts/setup.sh), moto (tests/tools/requirements-moto.txt, by tests/it/secrets_manager.rs
# and perf/run-secrets-bench.sh), deploy-vtl and deploy-sam (tests/deploy/requirements-*.txt,
# by scripts/deploy-checks.sh and scripts/e2e.sh; deploy-sam also by scripts/deploy.sh when no
# `sam` is on PATH).
# Progress goes to stderr; stdout is only the bin directory.

source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"

pinned_venv() { # pinned_venv NAME REQUIREMENTS -> prints the venv's bin dir
  local dir="$CACHE/venv-$1" req="$2" stamp
  mkdir -p "$CACHE"
  stamp="$(sha256sum "$req" | cut -c1-64)" || return 1
  # One installer at a time per venv (tests that need the same venv start it at once); the
  # others wait on the lock and then find it ready. (`set -e` does not reach into this
  # subshell, hence the explicit exits.) pip is the last thing `venv` creates, so a
  # venv without it was interrupted and is made again.
  (
    flock 9 || exit 1
    if [ ! -x "$dir/bin/pip" ]; then
      rm -rf "$dir"
      "${PYTHON:-python3}" -m venv "$dir" >&2 || exit 1
    fi
    if [ "$(cat "$dir/.requirements" 2>/dev/null)" != "$stamp" ]; then
      echo "pinned_venv: installing $req into $dir" >&2
      "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2 || exit 1
      echo "$stamp" > "$dir/.requirements"
    fi
  ) 9> "$dir.lock" || return 1
  echo "$dir/bin"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "$#" -ne 2 ]; then echo "usage: bash scripts/venv.sh NAME REQUIREMENTS" >&2; exit 2; fi
  cd "$(dirname "$0")/.."
  pinned_venv "$1" "$2"
fi
