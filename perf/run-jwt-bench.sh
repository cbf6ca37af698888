#!/usr/bin/env bash
# The process benchmark in AUTH_MODE=jwt (issue 11), all in one run so the
# ratios are measured side by side: pusher-auth with RS256 and ES256 tokens
# (a different user and token on every invocation, and one token repeated),
# the Node.js 20 equivalent (perf/node: npm jsonwebtoken 9 + the official
# pusher package, keys from the same JWKS) in the same three rows, and the
# bare lambda_runtime echo floor. Extra arguments go to run-process-bench.py.
#
#   perf/run-jwt-bench.sh                      # build, mint, run (about 3 minutes)
#   NO_BUILD=1 perf/run-jwt-bench.sh --repeats 3
#   BASELINE=/path/to/an/older/pusher-auth perf/run-jwt-bench.sh   # + that build's rows
#
# Keys and tokens are made afresh by perf/node/mint.mjs (jose) in the work
# directory; nothing minted is committed. Needs node >= 20 and npm (the
# pinned packages of perf/node/package-lock.json are installed with `npm ci`).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
EVENT=tests/fixtures/events/apigw-v2-jsonp-private.json
COUNT=3000
WORK=$(mktemp -d /tmp/lambda-jwt-bench.XXXXXX)
ISSUER=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_BENCH
AUDIENCE=pusher-auth-bench

if [[ -z ${NO_BUILD:-} ]]; then
    cargo build --release --quiet --workspace --bins
fi
[[ -d perf/node/node_modules ]] || (cd perf/node && npm ci --no-audit --no-fund --silent)
echo "minting $COUNT RS256 and $COUNT ES256 tokens in $WORK ..." >&2
node perf/node/mint.mjs "$WORK" "$EVENT" "$COUNT" "$ISSUER" "$AUDIENCE"

exec python3 - "$TARGET" "$WORK" "$COUNT" "$ISSUER" "$AUDIENCE" "${BASELINE:-}" "$@" <<'PY'
import json, os, sys
target, work, count, issuer, audience, baseline, *extra = sys.argv[1:]
jwks = open(f"{work}/jwks.json").read()
pusher = {"PUSHER_KEY": "3e294278b9dd9a0ab486", "PUSHER_SECRET": "5b31d8b6ca557775afc4",
          "PUSHER_APP_ID": "1", "PUSHER_CLUSTER": "mt1"}
ours = dict(pusher, AUTH_MODE="jwt", JWT_ALGORITHMS="RS256,ES256", JWT_JWKS=jwks, JWT_ISSUER=issuer,
            JWT_AUDIENCE=audience, CHANNEL_RULES="private-* presence-* private-encrypted-*")
node = dict(pusher, JWT_ALGORITHMS="RS256,ES256", JWT_JWKS=jwks, JWT_ISSUER=issuer, JWT_AUDIENCE=audience,
            CHANNEL_PREFIXES="private- presence- private-encrypted-")
fn = f"{target}/release/pusher-auth"
rows = [
    ("es256-distinct", fn, [], {"events": f"{work}/es256.jsonl"}, ours),
    ("rs256-repeated", fn, [], {"event": f"{work}/rs256-one.json"}, ours),
    ("node-rs256-distinct", "/usr/bin/node", ["perf/node/bootstrap.mjs"], {"events": f"{work}/rs256.jsonl"}, node),
    ("node-es256-distinct", "/usr/bin/node", ["perf/node/bootstrap.mjs"], {"events": f"{work}/es256.jsonl"}, node),
    ("node-rs256-repeated", "/usr/bin/node", ["perf/node/bootstrap.mjs"], {"event": f"{work}/rs256-one.json"}, node),
]
# The limit: the echo floor plus one ring signature check of the same tokens, in a process.
limit_env = {"ECHO_JWKS": jwks}
rows += [
    ("limit-rs256", f"{target}/release/echo-verify", [], {"events": f"{work}/rs256.jsonl", "expect": "any"}, limit_env),
    ("limit-es256", f"{target}/release/echo-verify", [], {"events": f"{work}/es256.jsonl", "expect": "any"}, limit_env),
]
if baseline:
    rows += [
        ("base-rs256-distinct", baseline, [], {"events": f"{work}/rs256.jsonl"}, ours),
        ("base-es256-distinct", baseline, [], {"events": f"{work}/es256.jsonl"}, ours),
        ("base-rs256-repeated", baseline, [], {"event": f"{work}/rs256-one.json"}, ours),
    ]
argv = ["python3", "perf/run-process-bench.py", "--function", fn, "--label", "rs256-distinct",
        "--events", f"{work}/rs256.jsonl", "--event", f"{work}/rs256-one.json",
        "--echo", f"{target}/release/echo", "--count", count, "--workdir", work,
        "--json", f"{work}/results.json"]
for k, v in ours.items():
    argv += ["--env", f"{k}={v}"]
for label, path, args, events, env in rows:
    argv += ["--also", json.dumps({"label": label, "path": path, "argv": args, "env": env, **events})]
os.execvp("python3", argv + extra)
PY
