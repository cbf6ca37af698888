#!/usr/bin/env bash
# Build the bootstrap and the echo baseline (release), then run the process
# benchmark with pusher-auth's demo configuration.  Extra arguments go to
# run-process-bench.py (e.g. --count 5000 --repeats 5 --json /tmp/bench.json).
#
#   perf/run-process-bench.sh                 # build + run
#   NO_BUILD=1 perf/run-process-bench.sh      # run against existing binaries
#   EVENT=path/to/event.json perf/run-process-bench.sh
#
# Exit status: non-zero only if a function failed (init error, error response,
# non-200 proxy response, crash or hang); timing goals are only reported.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENT=${EVENT:-tests/fixtures/events/apigw-v2-jsonp-private.json}
if [[ ! -f $EVENT ]]; then
    echo "note: $EVENT not found, using perf/events/http-api-v2-jsonp.json" >&2
    EVENT=perf/events/http-api-v2-jsonp.json
fi

if [[ -z ${NO_BUILD:-} ]]; then
    cargo build --release --quiet
    cargo build --release --quiet --example echo
fi

exec python3 perf/run-process-bench.py \
    --function target/release/pusher-auth \
    --echo target/release/examples/echo \
    --event "$EVENT" \
    --env AUTH_MODE=demo \
    --env PUSHER_KEY=3e294278b9dd9a0ab486 \
    --env PUSHER_SECRET=5b31d8b6ca557775afc4 \
    --env PUSHER_APP_ID=1 \
    --env PUSHER_CLUSTER=mt1 \
    --env "CHANNEL_RULES=private-* presence-* private-encrypted-*" \
    "$@"
