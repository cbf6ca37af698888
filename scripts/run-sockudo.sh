#!/usr/bin/env bash
# A local Pusher-protocol server for the live page of scripts/run-local.sh: sockudo
# (installed by scripts/sockudo.sh when missing, once) with one app that has the run
# command's demo settings (id 1, key demo-app-key, secret demo-app-secret, user
# authentication on), listening on 127.0.0.1:$SOCKUDO_PORT (default 6001). Then, in another
# terminal:
#   PUSHER_WS_HOST=127.0.0.1 PUSHER_WS_PORT=6001 bash scripts/run-local.sh
# and open http://localhost:8080/. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKUDO_PORT="${SOCKUDO_PORT:-6001}"
if ! [[ "$SOCKUDO_PORT" =~ ^[0-9]{1,5}$ ]]; then
  echo "run-sockudo: SOCKUDO_PORT is not a port number" >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1; then
  echo "run-sockudo: Node.js is required (it writes sockudo's configuration)" >&2
  exit 1
fi
SOCKUDO="$(bash scripts/sockudo.sh)"

DIR="$(mktemp -d "${TMPDIR:-/tmp}/pusher-auth-sockudo-XXXXXX")"
trap 'rm -rf "$DIR"' EXIT
# The same configuration file as the end-to-end suite's (one writer: tests/e2e/lib/sockudo-config.mjs).
node tests/e2e/lib/sockudo-config.mjs "$DIR/sockudo.toml" "$SOCKUDO_PORT" 1 demo-app-key demo-app-secret \
  "written by scripts/run-sockudo.sh: the demo app of scripts/run-local.sh"
echo "==> sockudo on ws://127.0.0.1:$SOCKUDO_PORT (app id 1, key demo-app-key). Now run:"
echo "    PUSHER_WS_HOST=127.0.0.1 PUSHER_WS_PORT=$SOCKUDO_PORT bash scripts/run-local.sh"
# A bare environment: sockudo also reads PORT, HOST, APP_MANAGER_DRIVER, … from it.
cd "$DIR"
env -i PATH="$PATH" HOME="$HOME" RUST_LOG=info LOG_COLORS_ENABLED=false "$SOCKUDO" --config "$DIR/sockudo.toml"
