#!/usr/bin/env bash
# Build the bootstrap, the echo baseline and the Runtime API stub (release,
# the whole workspace in one build), then run the process
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

if [[ -z ${NO_BUILD:-} ]]; then
    cargo build --release --quiet --workspace --bins
fi

# The demo configuration (scripts/demo.env), one --env per line.
DEMO_ENV=()
while IFS= read -r line; do
    case "$line" in ''|\#*) continue ;; esac
    value="${line#*=}"
    # 'a value' (single-quoted, for cargo lambda watch --env-file): the quotes are not part of it.
    if [[ "$value" == \'*\' && ${#value} -ge 2 ]]; then value="${value:1:${#value}-2}"; fi
    DEMO_ENV+=(--env "${line%%=*}=$value")
done < scripts/demo.env

exec python3 perf/run-process-bench.py \
    --function target/release/pusher-auth \
    --echo target/release/echo \
    --event "$EVENT" \
    "${DEMO_ENV[@]}" \
    "$@"
