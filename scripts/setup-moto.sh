#!/usr/bin/env bash
# Installs moto's server (pinned in tests/tools/requirements-moto.txt) into a
# venv under ~/.cache/pusher-auth-lambda and prints the venv's bin directory.
# tests/it/secrets_manager.rs runs it; reruns are instant.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/pusher-auth-lambda/venv-moto"
REQS=tests/tools/requirements-moto.txt
STAMP="$VENV/.requirements"
if [ ! -x "$VENV/bin/moto_server" ] || ! cmp -s "$REQS" "$STAMP"; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" >&2
  cp "$REQS" "$STAMP"
fi
echo "$VENV/bin"
