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
SOCKUDO="$(bash scripts/sockudo.sh)"

DIR="$(mktemp -d "${TMPDIR:-/tmp}/pusher-auth-sockudo-XXXXXX")"
trap 'rm -rf "$DIR"' EXIT
cat > "$DIR/sockudo.toml" <<TOML
# written by scripts/run-sockudo.sh: the demo app of scripts/run-local.sh
host = "127.0.0.1"
port = $SOCKUDO_PORT
debug = false
shutdown_grace_period = 0

[adapter]
driver = "local"

[cache]
driver = "memory"

[queue]
driver = "memory"

[rate_limiter]
enabled = false

[metrics]
enabled = false

[app_manager]
driver = "memory"

[[app_manager.array.apps]]
id = "1"
key = "demo-app-key"
secret = "demo-app-secret"
enabled = true
enable_client_messages = false
enable_user_authentication = true
TOML
echo "==> sockudo on ws://127.0.0.1:$SOCKUDO_PORT (app id 1, key demo-app-key). Now run:"
echo "    PUSHER_WS_HOST=127.0.0.1 PUSHER_WS_PORT=$SOCKUDO_PORT bash scripts/run-local.sh"
# A bare environment: sockudo also reads PORT, HOST, APP_MANAGER_DRIVER, … from it.
cd "$DIR"
env -i PATH="$PATH" HOME="$HOME" RUST_LOG=info LOG_COLORS_ENABLED=false "$SOCKUDO" --config "$DIR/sockudo.toml"
