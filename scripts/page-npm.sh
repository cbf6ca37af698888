#!/usr/bin/env bash
# The page's npm package (demo/package.json: pusher-js, pinned by demo/package-lock.json),
# installed with `npm ci` under ~/.cache/pusher-auth-lambda/page-npm (or $PUSHER_AUTH_CACHE),
# outside the repository: `cargo lambda watch` watches the tree. Reinstalled when the
# lockfile changes. Prints the path of the pusher-js file the page loads; progress goes to
# stderr. Used by scripts/run-local.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/cache.sh
DIR="$CACHE/page-npm"
LIB="$DIR/node_modules/pusher-js/dist/web/pusher-with-encryption.js"

mkdir -p "$DIR"
if [ ! -f "$LIB" ] || ! cmp -s demo/package-lock.json "$DIR/package-lock.json"; then
  echo "page: npm ci (demo/package.json: pusher-js) into $DIR" >&2
  cp demo/package.json demo/package-lock.json "$DIR/"
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "$LIB"
