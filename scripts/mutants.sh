#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the code a change touched: each mutant is a small
# change to the code (an operator flipped, a body replaced by a default), and a mutant the
# tests let through ("missed") is a bug they would let through.
#
#   scripts/mutants.sh [BASE] [cargo-mutants options…]
#       mutants in the lines changed since BASE (`git diff BASE`, committed and not), default
#       origin/main if it exists, else the merge base with main, else HEAD~1
#   scripts/mutants.sh HEAD~1              the last commit only (what CI runs)
#   scripts/mutants.sh dc0da8a --list      the mutants, without running them
#   MUTANTS_JOBS=1 scripts/mutants.sh      fewer parallel builds (default: nproc)
#   MUTANTS_SCOPE=files scripts/mutants.sh BASE
#       every mutant of every src/ file the change touched, not only of the changed lines
#       (for a change that adds tests only: the lines it changed hold no mutant)
#
# Every mutant runs against the whole test suite except the slow tests, skipped by name:
# the Secrets Manager tests against moto (secrets_manager_against_moto,
# rotation_is_picked_up_after_the_ttl) and the 5,000-invocation soak (soak::soak).
# Re-run a missed mutant against the complete suite before calling it a gap.
# Mutants known to be equivalent (no test can tell them from the code) are listed, one
# reason each, in .cargo/mutants.toml (exclude_re) and skipped.
#
# cargo-mutants 27 is installed once from crates.io into the cache outside the repository.
# Results: mutants.out/ under the output directory (default target/mutants; caught.txt,
# missed.txt, timeout.txt, unviable.txt, outcomes.json). Exit status: 0 when no mutant was
# missed, 2 when some were missed, 3 on timeouts (cargo-mutants' own codes), 4 when the
# tree does not pass its tests unmutated.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=""
if [[ $# -gt 0 && "${1:-}" != -* ]]; then
  BASE="$1"
  shift
fi
if [[ -z "$BASE" ]]; then
  if git rev-parse --verify --quiet origin/main > /dev/null; then
    BASE=origin/main
  elif git rev-parse --verify --quiet main > /dev/null && BASE="$(git merge-base HEAD main)"; then
    :
  else
    BASE=HEAD~1
  fi
fi
git rev-parse --verify --quiet "$BASE^{commit}" > /dev/null || {
  echo "mutants.sh: base $BASE is not a commit" >&2
  exit 1
}

OUTPUT="${MUTANTS_OUTPUT:-target/mutants}"
mkdir -p "$OUTPUT"
DIFF="$OUTPUT/in.diff"
# The change: what the working tree holds against BASE (committed and not), Rust files only.
git diff --no-ext-diff "$BASE" -- '*.rs' > "$DIFF"
if [[ ! -s "$DIFF" ]]; then
  echo "==> no Rust change since $BASE: nothing to mutate"
  exit 0
fi
source scripts/cache.sh
ROOT="$CACHE/cargo-mutants"
MUTANTS="$ROOT/bin/cargo-mutants"
if ! [[ -x "$MUTANTS" ]] || ! "$MUTANTS" mutants --version | grep -q '^cargo-mutants 27\.'; then
  echo "==> installing cargo-mutants 27 into $ROOT"
  cargo install --locked --root "$ROOT" cargo-mutants --version '^27'
fi

SCOPE=(--in-diff "$DIFF")
if [[ "${MUTANTS_SCOPE:-lines}" == files ]]; then
  SCOPE=()
  while IFS= read -r file; do SCOPE+=(--file "$file"); done < <(git diff --name-only "$BASE" -- 'src/*.rs')
  if [[ ${#SCOPE[@]} -eq 0 ]]; then
    echo "==> no src/ file changed since $BASE: nothing to mutate"
    exit 0
  fi
  echo "==> cargo-mutants on every mutant of the $((${#SCOPE[@]} / 2)) src/ files changed since $BASE"
else
  echo "==> cargo-mutants on the lines changed since $BASE ($(git diff --name-only "$BASE" -- '*.rs' | wc -l) Rust files)"
fi

JOBS="${MUTANTS_JOBS:-$(nproc)}"
STARTED="$OUTPUT/started"
touch "$STARTED" # results older than this are an earlier run's
status=0
"$MUTANTS" mutants \
  "${SCOPE[@]}" \
  --jobs "$JOBS" \
  --output "$OUTPUT" \
  --no-shuffle \
  "$@" \
  -- --locked \
  -- --skip secrets_manager::secrets_manager_against_moto \
  --skip secrets_manager::rotation_is_picked_up_after_the_ttl \
  --skip soak::soak || status=$?

if [[ "$OUTPUT/mutants.out/outcomes.json" -nt "$STARTED" ]]; then
  for outcome in caught missed timeout unviable; do
    printf '    %-8s %s\n' "$outcome" "$(wc -l < "$OUTPUT/mutants.out/$outcome.txt" 2> /dev/null || echo 0)"
  done
  if [[ -s "$OUTPUT/mutants.out/missed.txt" ]]; then
    echo "==> missed (a test should catch each, or it goes in .cargo/mutants.toml with its reason):"
    sed 's/^/    /' "$OUTPUT/mutants.out/missed.txt"
  fi
elif [[ $status -eq 0 && "${MUTANTS_SCOPE:-lines}" != files && " $* " != *" --list "* ]]; then
  echo "==> no mutant in the lines changed since $BASE (tests only?); MUTANTS_SCOPE=files mutates the whole files"
fi
exit "$status"
