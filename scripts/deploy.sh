#!/usr/bin/env bash
# One command per stage: check the config, build, deploy, then the smoke check against the stack.
#
#   bash scripts/deploy.sh staging|production [more `sam deploy` options, e.g. --no-confirm-changeset]
#
# Runs, from a fresh clone (nothing to put on PATH by hand):
#   1. python3 scripts/deploy_preflight.py STAGE: in about a second, before anything is built,
#      every <placeholder> left in samconfig.toml's STAGE environment and every value
#      template.yaml's parameters refuse (their AllowedPattern, AllowedValues, lengths), all
#      listed at once; then, with the AWS CLI and credentials, the Cognito app client
#      (JwtAudience in the pool of JwtIssuer) read with `aws cognito-idp
#      describe-user-pool-client`: a claim a ChannelRules placeholder or UserIdClaim trusts that
#      its users may write (WriteAttributes) stops the deploy. Without credentials it says it
#      skipped that check, and why.
#   2. pusher-auth explain --check policy-tests.toml (or $POLICY_TESTS): the policy tests against
#      the CHANNEL_RULES of every samconfig environment; a case that does not hold stops the deploy
#   3. bash scripts/setup.sh: cargo-lambda and zig (pinned, scripts/requirements-cargo-lambda.txt)
#      in a venv whose bin directory goes first on PATH, as scripts/deploy-checks.sh does for
#      `sam build` (cargo-lambda finds zig through the first `python3` on PATH: that venv's);
#      the `sam` on PATH, else the pinned aws-sam-cli (tests/deploy/requirements-sam.txt,
#      scripts/venv.sh) under ~/.cache/pusher-auth-lambda
#   4. sam build --config-env STAGE          (BuildMethod rust-cargolambda, arm64; into .aws-sam/)
#   5. sam deploy --config-env STAGE         (samconfig.toml: the stack, its parameters; it shows
#                                             the change set and asks first, confirm_changeset)
#   6. the stack's output ChannelAuthEndpoint (sam list stack-outputs), less /pusher/auth, is
#      BASE_URL for: bash scripts/smoke.sh BASE_URL [--channel $SMOKE_CHANNEL]
#      [--origin $SMOKE_ORIGIN] [--key $SMOKE_KEY], which reads SMOKE_TOKEN and SMOKE_SECRET from
#      the environment (never passed as arguments: the process list would show them)
#
# SAMCONFIG names another samconfig file (default samconfig.toml; passed to sam as --config-file),
# e.g. one outside the repository holding your values. The real run needs AWS credentials (aws
# configure, or AWS_PROFILE / AWS_ACCESS_KEY_ID…) with the rights README.md's "Deploy to AWS"
# lists (and cognito-idp:DescribeUserPoolClient), and the secrets samconfig.toml names. With
# AUTH_MODE=jwt the smoke check needs a token the stage accepts (SMOKE_TOKEN; docs/deploy.md shows
# how to get a Cognito ID token) and a channel it signs for that user (SMOKE_CHANNEL, default
# private-smoke); SMOKE_ORIGIN is one of the stage's AllowedOrigins; SMOKE_KEY with SMOKE_SECRET
# checks the signatures. Exit status: 2 on a usage error; otherwise non-zero when a check, the
# build, the deploy or the smoke check fails (a failed smoke check leaves the deployed stack as
# it is: roll back with a new deploy of the previous commit).
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
SAMCONFIG="${SAMCONFIG:-samconfig.toml}"

step "$SAMCONFIG [$STAGE]: placeholders, template.yaml's parameter patterns, the Cognito app client"
# It prints the stack this config-env deploys, and its region.
PREFLIGHT="$(python3 scripts/deploy_preflight.py "$STAGE" "$SAMCONFIG")"
read -r STACK REGION <<<"$PREFLIGHT"
[ -n "${STACK:-}" ] || { echo "deploy: no stack_name for $STAGE in $SAMCONFIG" >&2; exit 1; }
REGION_ARGS=()
if [ -n "$REGION" ]; then REGION_ARGS=(--region "$REGION"); fi

POLICY_TESTS="${POLICY_TESTS:-policy-tests.toml}"
step "policy tests: pusher-auth explain --check $POLICY_TESTS (every environment of $SAMCONFIG)"
if ! cargo run --quiet --locked --bin pusher-auth -- explain --check "$POLICY_TESTS" --samconfig "$SAMCONFIG"; then
  echo "deploy.sh: a policy test does not hold (above); nothing is built or deployed" >&2
  exit 1
fi

step "tools: cargo-lambda (scripts/setup.sh) and the SAM CLI"
CARGO_LAMBDA_BIN="$(bash scripts/setup.sh)"
if ! command -v sam >/dev/null 2>&1; then
  SAM_BIN="$(bash scripts/venv.sh deploy-sam tests/deploy/requirements-sam.txt)"
  export PATH="$SAM_BIN:$PATH"
fi
# cargo-lambda's venv first: `sam build` runs cargo-lambda, which finds zig through `python3`.
export PATH="$CARGO_LAMBDA_BIN:$PATH"

step "sam build --config-env $STAGE"
sam build --config-env "$STAGE" --config-file "$SAMCONFIG"

step "sam deploy --config-env $STAGE (stack $STACK)"
sam deploy --config-env "$STAGE" --config-file "$SAMCONFIG" "$@"

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

# SMOKE_TOKEN and SMOKE_SECRET reach the smoke check through the environment only.
SMOKE=("$BASE_URL")
if [ -n "${SMOKE_CHANNEL:-}" ]; then SMOKE+=(--channel "$SMOKE_CHANNEL"); fi
if [ -n "${SMOKE_ORIGIN:-}" ]; then SMOKE+=(--origin "$SMOKE_ORIGIN"); fi
if [ -n "${SMOKE_KEY:-}" ]; then SMOKE+=(--key "$SMOKE_KEY"); fi
step "smoke check: bash scripts/smoke.sh ${SMOKE[*]}${SMOKE_TOKEN:+ (SMOKE_TOKEN)}${SMOKE_SECRET:+ (SMOKE_SECRET)}"
if ! bash scripts/smoke.sh "${SMOKE[@]}"; then
  echo "deploy: $STAGE is deployed (stack $STACK) but the smoke check failed (the FAIL lines above)" >&2
  exit 1
fi
step "$STAGE deployed and smoke-checked: $BASE_URL"
