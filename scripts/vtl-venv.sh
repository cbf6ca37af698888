#!/usr/bin/env bash
# The pinned Python venvs under ~/.cache/pusher-auth-lambda (or $PUSHER_AUTH_CACHE),
# shared by scripts/deploy-checks.sh and scripts/e2e.sh.
#
#   bash scripts/vtl-venv.sh        installs what is missing of venv-deploy-vtl
#                                   (tests/deploy/requirements-vtl.txt: localstack-core,
#                                   airspeed-ext, pytest) and prints its bin directory
#   source scripts/vtl-venv.sh      defines `pinned_venv NAME REQUIREMENTS`, which does the
#                                   same for venv-deploy-NAME and prints its bin directory
#
# A venv is (re)installed when its requirements file changes (sha256 stamp in the venv).
# Progress goes to stderr; stdout is only the bin directory.

pinned_venv() { # pinned_venv NAME REQUIREMENTS -> prints the venv's bin dir
  local cache="${PUSHER_AUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pusher-auth-lambda}"
  local dir="$cache/venv-deploy-$1" req="$2" stamp
  mkdir -p "$cache"
  stamp="$(sha256sum "$req" | cut -c1-64)"
  if [ ! -x "$dir/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$dir" >&2
  fi
  if [ "$(cat "$dir/.requirements" 2>/dev/null)" != "$stamp" ]; then
    echo "pinned_venv: installing $req into $dir" >&2
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$stamp" > "$dir/.requirements"
  fi
  echo "$dir/bin"
}

# Run as a script: the Velocity (mapping-template) venv.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  pinned_venv vtl tests/deploy/requirements-vtl.txt
fi
