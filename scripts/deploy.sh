#!/usr/bin/env bash
# One command per stage: build, deploy, then the smoke check against the deployed stack.
#
#   bash scripts/deploy.sh staging|production [more `sam deploy` options, e.g. --no-confirm-changeset]
#
# Runs, from a fresh clone (nothing to put on PATH by hand):
#   1. bash scripts/setup.sh: cargo-lambda and zig (pinned, scripts/requirements-cargo-lambda.txt)
#      in a venv whose bin directory goes first on PATH, as scripts/deploy-checks.sh does for
#      `sam build` (cargo-lambda finds zig through the first `python3` on PATH: that venv's);
#      the `sam` on PATH, else the pinned aws-sam-cli (tests/deploy/requirements-sam.txt,
#      scripts/venv.sh) under ~/.cache/pusher-auth-lambda
#   2. sam build --config-env STAGE          (BuildMethod rust-cargolambda, arm64; into .aws-sam/)
#   3. pusher-auth explain --check policy-tests.toml (or $POLICY_TESTS): the policy tests against
#      the CHANNEL_RULES of every samconfig environment; a case that does not hold stops the deploy
#   4. sam deploy --config-env STAGE         (samconfig.toml: the stack, its parameters; it shows
#                                             the change set and asks first, confirm_changeset)
#   5. the stack's output ChannelAuthEndpoint (sam list stack-outputs), less /pusher/auth, is
#      BASE_URL for: bash scripts/smoke.sh BASE_URL [--token $SMOKE_TOKEN]
#      [--channel $SMOKE_CHANNEL] [--origin $SMOKE_ORIGIN]
#
# The real run needs AWS credentials (aws configure, or AWS_PROFILE / AWS_ACCESS_KEY_ID…) with
# the rights README.md's "Deploy to AWS" lists, and the secrets samconfig.toml names. With
# AUTH_MODE=jwt the smoke check needs a token the stage accepts (SMOKE_TOKEN) and a channel it
# signs for that user (SMOKE_CHANNEL, default private-smoke); SMOKE_ORIGIN is one of the stage's
# AllowedOrigins. Exit status: 2 on a usage error; otherwise non-zero when the build, the deploy
# or the smoke check fails (a failed smoke check leaves the deployed stack as it is: roll back
# with a new deploy of the previous commit).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: bash scripts/deploy.sh staging|production [sam deploy options]" >&2
  exit 2
}
[ "$#" -ge 1 ] || usage
STAGE="$1"
shift
case "$STAGE" in
  staging|production) ;;
  *) echo "deploy: unknown stage '$STAGE' (samconfig.toml has staging and production)" >&2; usage ;;
esac

step() { echo "==> $*" >&2; }
export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"

step "tools: cargo-lambda (scripts/setup.sh) and the SAM CLI"
CARGO_LAMBDA_BIN="$(bash scripts/setup.sh)"
if ! command -v sam >/dev/null 2>&1; then
  SAM_BIN="$(bash scripts/venv.sh deploy-sam tests/deploy/requirements-sam.txt)"
  export PATH="$SAM_BIN:$PATH"
fi
# cargo-lambda's venv first: `sam build` runs cargo-lambda, which finds zig through `python3`.
export PATH="$CARGO_LAMBDA_BIN:$PATH"

# The stack this config-env deploys, and its region (samconfig.toml).
read -r STACK REGION < <(python3 - "$STAGE" <<'PY'
import sys
try:
    import tomllib
except ImportError:
    sys.exit("deploy: reading samconfig.toml needs Python 3.11 or later (tomllib)")
with open("samconfig.toml", "rb") as f:
    params = tomllib.load(f)[sys.argv[1]]["deploy"]["parameters"]
print(params["stack_name"], params.get("region", ""))
PY
)
[ -n "${STACK:-}" ] || { echo "deploy: no stack_name for $STAGE in samconfig.toml" >&2; exit 1; }
REGION_ARGS=()
if [ -n "$REGION" ]; then REGION_ARGS=(--region "$REGION"); fi

step "sam build --config-env $STAGE"
sam build --config-env "$STAGE"

POLICY_TESTS="${POLICY_TESTS:-policy-tests.toml}"
step "policy tests: pusher-auth explain --check $POLICY_TESTS (every samconfig environment)"
if ! cargo run --quiet --locked --bin pusher-auth -- explain --check "$POLICY_TESTS"; then
  echo "deploy.sh: a policy test does not hold (above); nothing is deployed" >&2
  exit 1
fi

step "sam deploy --config-env $STAGE (stack $STACK)"
sam deploy --config-env "$STAGE" "$@"

step "the stack's endpoint (sam list stack-outputs --stack-name $STACK)"
OUTPUTS="$(sam list stack-outputs --stack-name "$STACK" "${REGION_ARGS[@]}" --output json)"
BASE_URL="$(printf '%s' "$OUTPUTS" | python3 -c '
import json, sys
outputs = {o.get("OutputKey"): o.get("OutputValue") for o in json.load(sys.stdin)}
url = outputs.get("ChannelAuthEndpoint")
if url and url.endswith("/pusher/auth"):
    print(url[: -len("/pusher/auth")])
elif outputs.get("ApiBaseUrl"):
    print(outputs["ApiBaseUrl"].rstrip("/"))
else:
    sys.exit("deploy: the stack has no ChannelAuthEndpoint or ApiBaseUrl output")
')"
echo "ChannelAuthEndpoint: $BASE_URL/pusher/auth"

SMOKE=("$BASE_URL")
if [ -n "${SMOKE_TOKEN:-}" ]; then SMOKE+=(--token "$SMOKE_TOKEN"); fi
if [ -n "${SMOKE_CHANNEL:-}" ]; then SMOKE+=(--channel "$SMOKE_CHANNEL"); fi
if [ -n "${SMOKE_ORIGIN:-}" ]; then SMOKE+=(--origin "$SMOKE_ORIGIN"); fi
step "smoke check: bash scripts/smoke.sh $BASE_URL${SMOKE_CHANNEL:+ --channel $SMOKE_CHANNEL}${SMOKE_ORIGIN:+ --origin $SMOKE_ORIGIN}${SMOKE_TOKEN:+ --token <SMOKE_TOKEN>}"
if ! bash scripts/smoke.sh "${SMOKE[@]}"; then
  echo "deploy: $STAGE is deployed (stack $STACK) but the smoke check failed (the FAIL lines above)" >&2
  exit 1
fi
step "$STAGE deployed and smoke-checked: $BASE_URL"
