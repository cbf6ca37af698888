#!/usr/bin/env bash
# The process benchmark (perf/run-process-bench.sh) with the app secret read
# from Secrets Manager: moto's server on 127.0.0.1 holds it, the bootstrap gets
# PUSHER_SECRET_ID and AWS_ENDPOINT_URL. The cold start then includes building
# the Secrets Manager client; the first invocation of each process reads the
# secret, the rest hit the cache. Extra arguments go to run-process-bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="$(bash scripts/venv.sh moto tests/tools/requirements-moto.txt)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$BIN/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
"$BIN/python" - "$PORT" <<'PY'
import sys, boto3
boto3.client("secretsmanager", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="eu-west-1",
             aws_access_key_id="bench", aws_secret_access_key="bench").create_secret(
    Name="pusher/bench", SecretString="5b31d8b6ca557775afc4")
PY
bash perf/run-process-bench.sh \
  --env PUSHER_SECRET= \
  --env PUSHER_SECRET_ID=pusher/bench \
  --env AWS_REGION=eu-west-1 \
  --env AWS_ACCESS_KEY_ID=bench \
  --env AWS_SECRET_ACCESS_KEY=bench \
  --env "AWS_ENDPOINT_URL=http://127.0.0.1:$PORT" \
  --label "pusher-auth (PUSHER_SECRET_ID)" \
  "$@"
