#!/usr/bin/env bash
# Coverage-guided fuzzing of the endpoint's parsers and encoders (cargo fuzz,
# libFuzzer, on the nightly toolchain; the product itself builds on stable).
#
#   scripts/fuzz.sh [--short]        every target for FUZZ_SECONDS (default 20 s): the test command's run
#   scripts/fuzz.sh --long           every target until FUZZ_LONG_RUNS executions (default 10,000,000)
#                                    or FUZZ_LONG_SECONDS (default 3600 s), whichever comes first:
#                                    the run in docs/reliability.md
#   scripts/fuzz.sh --short event    only the named targets
#   FUZZ_JOBS=1 scripts/fuzz.sh      one target at a time (default: one per CPU for --short,
#                                    one at a time for --long)
#   FUZZ_SANITIZER=address scripts/fuzz.sh --short   under AddressSanitizer (5–20× fewer
#                                    executions; the crate forbids unsafe code, so ASan watches
#                                    only the dependencies' unsafe code; default: no sanitizer)
#
# Corpora live in fuzz/corpus/<target> (git-ignored), seeded from tests/fixtures
# by fuzz/seeds/make_seeds.py on every run; a finding is written to
# fuzz/artifacts/<target>/ and fails the script. Each run's final libFuzzer
# figures (executions, exec/s, cov, ft, corpus) are printed at the end and kept in
# fuzz/last-run-<mode>.txt (appended; git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=short
if [[ "${1:-}" == --short || "${1:-}" == --long ]]; then
  MODE="${1#--}"
  shift
fi
TARGETS=("$@")
if [[ ${#TARGETS[@]} -eq 0 ]]; then
  TARGETS=(event params policy token response shapes)
fi
if [[ "$MODE" == long ]]; then
  SECONDS_PER_TARGET="${FUZZ_LONG_SECONDS:-3600}"
  RUNS=(-runs="${FUZZ_LONG_RUNS:-10000000}")
else
  SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
  RUNS=()
fi

# cargo-fuzz, installed once into ~/.cargo/bin; the nightly toolchain.
export PATH="$HOME/.cargo/bin:$PATH"
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "==> installing the nightly toolchain (for cargo fuzz only)"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz > /dev/null; then
  echo "==> installing cargo-fuzz"
  # A command-line tool that only starts builds and runs: built without optimisation, to
  # shorten a first run.
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_LTO=false \
    cargo install cargo-fuzz --locked
fi

# The instrumented build takes minutes; it lives in the cache outside the repository so a
# fresh clone (CI) reuses it.
source scripts/cache.sh
# No sanitizer by default: the crate forbids unsafe code, so AddressSanitizer only watches the
# dependencies' unsafe code, and without it the targets run 5–20× more inputs in the same time
# and build in three quarters of the CPU (measured: 328 against 430 CPU-seconds).
# FUZZ_SANITIZER=address for an ASan run (docs/reliability.md records one).
SANITIZER="${FUZZ_SANITIZER:-none}"
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-$CACHE/fuzz-target-$SANITIZER}"
mkdir -p "$FUZZ_TARGET_DIR"
echo "==> cargo +nightly fuzz build --sanitizer $SANITIZER (fuzz/, its own workspace and Cargo.lock; build in $FUZZ_TARGET_DIR)"
(cd fuzz && cargo +nightly fuzz build --release --sanitizer "$SANITIZER" --target-dir "$FUZZ_TARGET_DIR" 2>&1 | tail -n 3)

python3 fuzz/seeds/make_seeds.py fuzz/corpus
STATS="fuzz/last-run-$MODE.txt"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $MODE run, ${SECONDS_PER_TARGET}s per target, sanitizer $SANITIZER, $(nproc) CPUs" >> "$STATS"
# One target per CPU at once (FUZZ_JOBS; each libFuzzer run is single-threaded, so every
# target still gets a whole CPU for its time); the long run keeps one at a time by default.
if [[ "$MODE" == long ]]; then JOBS="${FUZZ_JOBS:-1}"; else JOBS="${FUZZ_JOBS:-$(nproc)}"; fi
# The build above is done: each `cargo fuzz run` below only finds it up to date.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fuzz_one() { # target -> exit status; figures in $WORK/<target>.line, libFuzzer's log in $WORK/<target>.log
  local target="$1" max_len log done_line runs rate rss corpus started=$SECONDS
  case "$target" in
    event) max_len=16384 ;;
    *) max_len=4096 ;;
  esac
  log="$WORK/$target.log"
  (cd fuzz && cargo +nightly fuzz run --release --sanitizer "$SANITIZER" --target-dir "$FUZZ_TARGET_DIR" "$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" ${RUNS[@]+"${RUNS[@]}"} -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$target/") > "$log" 2>&1 || return 1
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  runs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')"
  rate="$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')"
  rss="$(grep -E '^stat::peak_rss_mb' "$log" | awk '{print $2}')"
  corpus="$(find "fuzz/corpus/$target" -type f | wc -l)"
  echo "$target ($SANITIZER): seconds=$((SECONDS - started)) runs=$runs exec/s=$rate peak_rss_mb=$rss corpus_files=$corpus | $done_line" > "$WORK/$target.line"
}

failed=()
running=() # "pid target", in start order
finish_oldest() { # waits for the run started first (all runs last as long) and reports it
  local pid="${running[0]%% *}" target="${running[0]#* }"
  running=("${running[@]:1}")
  if wait "$pid"; then
    echo "    $(cat "$WORK/$target.line")"
    cat "$WORK/$target.line" >> "$STATS"
  else
    tail -n 60 "$WORK/$target.log"
    echo "fuzz target $target FAILED; the input is in fuzz/artifacts/$target/" >&2
    failed+=("$target")
  fi
}
for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  while [[ ${#running[@]} -ge $JOBS ]]; do finish_oldest; done
  echo "==> fuzz $target for ${SECONDS_PER_TARGET}s"
  fuzz_one "$target" &
  running+=("$! $target")
done
while [[ ${#running[@]} -gt 0 ]]; do finish_oldest; done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzzing: findings in ${failed[*]}" >&2
  exit 1
fi
echo "==> fuzzing: every target ran without a finding ($MODE, ${SECONDS_PER_TARGET}s each); figures in $STATS"
