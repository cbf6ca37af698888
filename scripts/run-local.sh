#!/usr/bin/env bash
# The README's first command: set up, then serve the function locally under
# `cargo lambda watch` with a built-in demo configuration.
#
# Every setting can be overridden from the environment, e.g.
#   PUSHER_KEY=… PUSHER_SECRET=… PUSHER_CLUSTER=eu scripts/run-local.sh
# PORT (default 9000) chooses the local port.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_DIR="$(bash scripts/setup.sh)"
export PATH="$BIN_DIR:$PATH"

PORT="${PORT:-9000}"
FUNCTION=pusher-auth
export AUTH_MODE="${AUTH_MODE:-demo}"
export PUSHER_APP_ID="${PUSHER_APP_ID:-1}"
export PUSHER_KEY="${PUSHER_KEY:-demo-app-key}"
# The secret comes from PUSHER_SECRET, or from Secrets Manager when PUSHER_SECRET_ID is set.
if [ -z "${PUSHER_SECRET_ID:-}" ]; then
  export PUSHER_SECRET="${PUSHER_SECRET:-demo-app-secret}"
fi
export PUSHER_CLUSTER="${PUSHER_CLUSTER:-mt1}"
# 32 bytes, base64: "demo-master-key-for-local-runs!!"
if [ -z "${PUSHER_SECRET_ID:-}" ]; then
  export PUSHER_ENCRYPTION_MASTER_KEY_BASE64="${PUSHER_ENCRYPTION_MASTER_KEY_BASE64:-ZGVtby1tYXN0ZXIta2V5LWZvci1sb2NhbC1ydW5zISE=}"
fi
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:8080,http://127.0.0.1:8080}"
export USER_INFO_CLAIMS="${USER_INFO_CLAIMS:-name}"
# Deny by default: the demo lets its user join any private, presence or encrypted channel.
export CHANNEL_RULES="${CHANNEL_RULES:-private-* presence-* private-encrypted-*}"

BASE="http://127.0.0.1:$PORT/lambda-url/$FUNCTION"
cat <<MSG
==> Serving the pusher-auth function at $BASE (AUTH_MODE=$AUTH_MODE, key $PUSHER_KEY)
    The first request waits for the build.

Try JSONP (what pusher-js loads in a <script> tag):
  curl -sS "$BASE/pusher/auth?callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=123.456&channel_name=private-demo"

Try AJAX (pusher-js's default transport):
  curl -sS -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data 'socket_id=123.456&channel_name=presence-demo' "$BASE/pusher/auth"

pusher-js over JSONP:
  const pusher = new Pusher('$PUSHER_KEY', {
    cluster: '$PUSHER_CLUSTER',
    channelAuthorization: { endpoint: '$BASE/pusher/auth', transport: 'jsonp', params: { token: '<user token>' } },
    userAuthentication: { endpoint: '$BASE/pusher/user-auth', transport: 'jsonp', params: { token: '<user token>' } },
  });

pusher-js over AJAX (pages served from ALLOWED_ORIGINS=$ALLOWED_ORIGINS):
  const pusher = new Pusher('$PUSHER_KEY', {
    cluster: '$PUSHER_CLUSTER',
    channelAuthorization: { endpoint: '$BASE/pusher/auth', transport: 'ajax', params: { token: '<user token>' } },
  });

MSG
# --disable-cors: the function answers CORS itself (cargo-lambda's own CORS
# layer would answer every preflight and hide the function's behaviour).
exec cargo lambda watch --quiet --disable-cors --invoke-address 127.0.0.1 --invoke-port "$PORT"
