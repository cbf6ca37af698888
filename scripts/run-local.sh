#!/usr/bin/env bash
# The README's first command: set up, then serve the function locally under
# `cargo lambda watch` with a built-in demo configuration.
#
# Every setting can be overridden from the environment, e.g.
#   PUSHER_KEY=… PUSHER_SECRET=… PUSHER_CLUSTER=eu scripts/run-local.sh
# PORT (default 9000) chooses the local port.
#
# It also serves a live page (demo/: plain HTML and JavaScript, pusher-js from npm) on
# http://localhost:$PAGE_PORT (default 8080; PAGE_PORT=off to skip it). The page connects to
# Pusher with PUSHER_KEY/PUSHER_CLUSTER, or to a local Pusher-protocol server given by
# PUSHER_WS_HOST/PUSHER_WS_PORT (e.g. scripts/run-sockudo.sh), and asks this function to sign.
#
#   bash scripts/run-local.sh invoke <event file>
# sends one event (e.g. tests/fixtures/events/apigw-v2-jsonp-private.json) to the function a
# run command serves on PORT, with `cargo lambda invoke` (from the cache: it is not on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-9000}"
if [ "${1:-}" = invoke ]; then
  if [ "$#" -ne 2 ]; then
    echo "usage: bash scripts/run-local.sh invoke <event file>" >&2
    exit 2
  fi
  PATH="$(bash scripts/setup.sh):$PATH"
  exec cargo lambda invoke pusher-auth --data-file "$2" --invoke-address 127.0.0.1 --invoke-port "$PORT"
fi

echo "==> Setting up and building: cargo-lambda from PyPI and pusher-js from npm (once, into the cache), then the function; about 2 minutes on a first run, seconds after"
BIN_DIR="$(bash scripts/setup.sh)"
export PATH="$BIN_DIR:$PATH"

FUNCTION=pusher-auth
# The demo configuration (scripts/demo.env), each value a default the environment overrides.
# The secret comes from PUSHER_SECRET, or from Secrets Manager when PUSHER_SECRET_ID is set
# (then neither the demo secret nor the demo master key applies).
while IFS= read -r line; do
  case "$line" in ''|\#*) continue ;; esac
  name="${line%%=*}"
  value="${line#*=}"
  # 'a value' (single-quoted, for cargo lambda watch --env-file): the quotes are not part of it.
  if [[ "$value" == \'*\' && ${#value} -ge 2 ]]; then value="${value:1:${#value}-2}"; fi
  if [ -n "${PUSHER_SECRET_ID:-}" ] && [[ "$name" == PUSHER_SECRET || "$name" == PUSHER_ENCRYPTION_MASTER_KEY_BASE64 ]]; then
    continue
  fi
  if [ -z "${!name:-}" ]; then export "$name=$value"; fi
done < scripts/demo.env
PAGE_PORT="${PAGE_PORT:-8080}"
# Checked before served, with the function's own parser: a wrong setting stops here, in
# seconds, with the cold start's error (which names the variable, never a value).
if [ "$PAGE_PORT" = off ]; then _origins_port=8080; else _origins_port="$PAGE_PORT"; fi
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:$_origins_port,http://127.0.0.1:$_origins_port}"
if ! cargo run --quiet --bin pusher-auth -- --check-config >/dev/null; then
  echo "run-local: the function would not start with this configuration (see above); nothing is served" >&2
  exit 1
fi
# The live page's origins (AJAX from anywhere else is refused).
if [ "$PAGE_PORT" = off ]; then DEMO_PAGE_PORT=8080; else DEMO_PAGE_PORT="$PAGE_PORT"; fi
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:$DEMO_PAGE_PORT,http://127.0.0.1:$DEMO_PAGE_PORT}"

BASE="http://127.0.0.1:$PORT/lambda-url/$FUNCTION"
if [ -n "${PUSHER_WS_PORT:-}" ] && ! [[ "$PUSHER_WS_PORT" =~ ^[0-9]{1,5}$ ]]; then
  echo "run-local: PUSHER_WS_PORT is not a port number" >&2
  exit 1
fi
# The printed pusher-js snippets reach the same Pusher-protocol server as the page.
SOCKET_OPTIONS=""
if [ -n "${PUSHER_WS_HOST:-}" ]; then
  SOCKET_OPTIONS="
    wsHost: '$PUSHER_WS_HOST', wsPort: ${PUSHER_WS_PORT:-6001}, forceTLS: false, enabledTransports: ['ws'],"
fi

# --- the live page --------------------------------------------------------------
PAGE_MSG=""
if [ "$PAGE_PORT" = off ]; then
  PAGE_MSG="(the live page is off: PAGE_PORT=off)"
elif ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PAGE_MSG="(the live page needs Node.js and npm, not found: only the function is served)"
elif ! PAGE_LIB="$(bash scripts/page-npm.sh)"; then
  PAGE_MSG="(the live page is not served: npm ci of demo/package.json failed)"
else
  # Only public settings go to the page (never PUSHER_SECRET or the encryption master key);
  # the page's server gets this JSON and a bare environment.
  PAGE_CONFIG="$(python3 - "$PUSHER_KEY" "$PUSHER_CLUSTER" "${PUSHER_WS_HOST:-}" "${PUSHER_WS_PORT:-}" \
    "$BASE" "$AUTH_MODE" <<'PY'
import json, sys
key, cluster, ws_host, ws_port, base, auth_mode = sys.argv[1:]
print(json.dumps({
    "key": key,
    "cluster": cluster,
    "wsHost": ws_host or None,
    "wsPort": int(ws_port or 6001) if ws_host else None,
    "forceTLS": False if ws_host else True,
    "authEndpoint": base + "/pusher/auth",
    "userAuthEndpoint": base + "/pusher/user-auth",
    "authMode": auth_mode,
    "demoKey": key == "demo-app-key",
    "channels": {"private": "private-demo", "presence": "presence-demo", "encrypted": "private-encrypted-demo"},
}))
PY
)"
  env -i PATH="$PATH" HOME="$HOME" PAGE_CONFIG="$PAGE_CONFIG" node demo/serve.mjs "$PAGE_PORT" "$PAGE_LIB" &
  PAGE_MSG="Open the live page: http://localhost:$PAGE_PORT/"
  if [ -n "${PUSHER_WS_HOST:-}" ]; then
    PAGE_MSG="$PAGE_MSG  (pusher-js connects to ws://$PUSHER_WS_HOST:${PUSHER_WS_PORT:-6001})"
  elif [ "$PUSHER_KEY" = demo-app-key ]; then
    PAGE_MSG="$PAGE_MSG  (with the demo key it tells you what to set: a Pusher app's
    PUSHER_APP_ID/PUSHER_KEY/PUSHER_SECRET/PUSHER_CLUSTER, or PUSHER_WS_HOST/PUSHER_WS_PORT of a
    local Pusher-protocol server such as the one scripts/run-sockudo.sh starts)"
  fi
fi
cat <<MSG
==> Serving the pusher-auth function at $BASE (AUTH_MODE=$AUTH_MODE, key $PUSHER_KEY)
    The first request waits for the build.

$PAGE_MSG

Try JSONP (what pusher-js loads in a <script> tag):
  curl -sS "$BASE/pusher/auth?callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=123.456&channel_name=private-demo"

Try AJAX (pusher-js's default transport):
  curl -sS -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data 'socket_id=123.456&channel_name=presence-demo' "$BASE/pusher/auth"

pusher-js over JSONP:
  const pusher = new Pusher('$PUSHER_KEY', {
    cluster: '$PUSHER_CLUSTER',$SOCKET_OPTIONS
    channelAuthorization: { endpoint: '$BASE/pusher/auth', transport: 'jsonp', params: { token: '<user token>' } },
    userAuthentication: { endpoint: '$BASE/pusher/user-auth', transport: 'jsonp', params: { token: '<user token>' } },
  });

pusher-js over AJAX (pages served from ALLOWED_ORIGINS=$ALLOWED_ORIGINS):
  const pusher = new Pusher('$PUSHER_KEY', {
    cluster: '$PUSHER_CLUSTER',$SOCKET_OPTIONS
    channelAuthorization: { endpoint: '$BASE/pusher/auth', transport: 'ajax', params: { token: '<user token>' } },
  });

MSG
# --disable-cors: the function answers CORS itself (cargo-lambda's own CORS
# layer would answer every preflight and hide the function's behaviour).
exec cargo lambda watch --quiet --disable-cors --invoke-address 127.0.0.1 --invoke-port "$PORT"
