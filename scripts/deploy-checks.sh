#!/usr/bin/env bash
# Deploy checks: everything short of an AWS account.
#   1. template.yaml: cfn-lint, the SAM transform and what it generates (tests/deploy/test_template.py),
#      and its parameters' constraints against the function's own parser (tests/deploy/test_parameter_parity.py)
#   2. the mapping templates rendered by a real Velocity engine (tests/deploy/test_mapping_templates.py)
#   3. end to end through the real function under `cargo lambda watch` (tests/deploy/test_function_e2e.py)
#   4. `sam build` (rust-cargolambda; once per FrontDoor) and `cargo lambda build --release --arm64 --output-format zip`
# Installs what it needs under ~/.cache/pusher-auth-lambda (pinned): two Python venvs
# (aws-sam-cli and localstack-core cannot share one) and, for the arm64 build, Debian's
# rustc-web with its aarch64 standard library, unpacked there (rustup's toolchain here has
# no aarch64 target and `rustup target add` needs a download host this machine cannot reach).
# Set DEPLOY_CHECKS_SKIP_BUILD=1 to skip step 4. `--install-only`: install those and stop
# (scripts/prefetch.sh). `--prebuild`: only step 4's arm64 release build, into the same cache,
# so the checks later find it built (scripts/test.sh runs it while the browser suite runs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
START=$(date +%s)

source scripts/cache.sh
mkdir -p "$CACHE"
export SAM_CLI_TELEMETRY=0 PYTHONDONTWRITEBYTECODE=1
PYTHON="${PYTHON:-python3}"

# Debian bookworm(-security) packages for the arm64 build: one rustc and the
# standard library for both targets, all of the same version.
RUST_DEB_VERSION="1.96.0+dfsg1-1~deb12u2"
LLVM_DEB_VERSION="1:22.1.8-1~deb12u1"

step() { echo "==> $*"; }

# pinned_venv NAME REQUIREMENTS -> venv-NAME's bin dir (the one helper, scripts/venv.sh)
source scripts/venv.sh

rust_arm64_toolchain() { # -> prints a dir holding a `rustc` wrapper
  local base="$CACHE/rust-web-${RUST_DEB_VERSION//[~:+]/_}"
  if [ ! -f "$base/.complete" ]; then
    echo "deploy-checks: unpacking Debian rustc-web $RUST_DEB_VERSION (+ aarch64 std) into $base" >&2
    rm -rf "$base"
    mkdir -p "$base/lists/partial" "$base/cache/archives/partial" "$base/debs" "$base/root" "$base/bin"
    # A private apt state that also knows arm64 packages; the system's apt is left alone.
    local apt_opts=(-o "Dir::State::Lists=$base/lists" -o "Dir::Cache=$base/cache"
                    -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64"
                    -o "APT::Sandbox::User=root")
    apt-get -qq "${apt_opts[@]}" update >&2
    (cd "$base/debs" && apt-get -qq "${apt_opts[@]}" download \
      "rustc-web=$RUST_DEB_VERSION" "libstd-rust-web-1.96=$RUST_DEB_VERSION" \
      "libstd-rust-web-dev=$RUST_DEB_VERSION" "libstd-rust-web-dev:arm64=$RUST_DEB_VERSION" \
      "libllvm22=$LLVM_DEB_VERSION" >&2)
    local deb
    for deb in "$base"/debs/*.deb; do dpkg-deb -x "$deb" "$base/root"; done
    rm -rf "$base/lists" "$base/cache" "$base/debs"
    cat > "$base/bin/rustc" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$base/root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$base/root/usr/bin/rustc" "\$@"
EOF
    chmod +x "$base/bin/rustc"
    if LD_LIBRARY_PATH="$base/root/usr/lib/x86_64-linux-gnu" ldd "$base/root/usr/bin/rustc" \
        "$base"/root/usr/lib/x86_64-linux-gnu/libLLVM.so.* | grep -q 'not found'; then
      # libLLVM's own dependencies (normally already on the machine).
      apt-get install -y -qq --no-install-recommends libedit2 libffi8 libxml2 libz3-4 libzstd1 >&2
    fi
    "$base/bin/rustc" --version >&2
    test -d "$base/root/usr/lib/rustlib/aarch64-unknown-linux-gnu/lib"
    touch "$base/.complete"
  fi
  echo "$base/bin"
}

arm64_build_env() { # the arm64 toolchain, cargo-lambda and the deploy target dir, exported
  local rust_bin bin_dir
  rust_bin="$(rust_arm64_toolchain)"
  bin_dir="$(bash scripts/setup.sh)" # cargo-lambda (+ zig) from PyPI
  export PATH="$bin_dir:$PATH"
  export RUSTC="$rust_bin/rustc"
  # No rustup target check: the aarch64 std comes with the rustc above.
  export RUSTUP="$CACHE/no-rustup"
  # A target dir of its own: release arm64 builds never hold the lock of the
  # repository's target/ that the other builds and tests use.
  export CARGO_TARGET_DIR="$CACHE/target-deploy"
}

if [ "${1:-}" = --prebuild ]; then
  arm64_build_env
  cargo lambda build --release --arm64 --bin pusher-auth
  exit 0
fi

if [ "${1:-}" = --install-only ]; then
  pinned_venv deploy-sam tests/deploy/requirements-sam.txt >/dev/null &
  sam_job=$!
  pinned_venv deploy-vtl tests/deploy/requirements-vtl.txt >/dev/null
  rust_arm64_toolchain >/dev/null
  wait "$sam_job"
  exit 0
fi

step "Python venvs (tests/deploy/requirements-*.txt)"
SAM_BIN="$(pinned_venv deploy-sam tests/deploy/requirements-sam.txt)"
VTL_BIN="$(pinned_venv deploy-vtl tests/deploy/requirements-vtl.txt)"
PYTEST=(-m pytest -q -p no:cacheprovider --rootdir=tests/deploy)

step "template.yaml: cfn-lint, SAM transform, samconfig.toml"
"$SAM_BIN/python" "${PYTEST[@]}" tests/deploy/test_template.py

step "template parameters against the function's parser (pusher-auth --check-config)"
# Built here so the test never runs a stale binary; the test builds it itself only when missing.
cargo build --quiet --bin pusher-auth
PUSHER_AUTH_BIN="$(cargo metadata --format-version 1 --no-deps | "$SAM_BIN/python" -c \
  'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/pusher-auth" \
  "$SAM_BIN/python" "${PYTEST[@]}" tests/deploy/test_parameter_parity.py

step "mapping templates through Velocity (airspeed) with AWS's \$util"
"$VTL_BIN/python" "${PYTEST[@]}" tests/deploy/test_mapping_templates.py

step "end to end: rendered event -> the function (cargo lambda watch) -> integration response"
"$VTL_BIN/python" "${PYTEST[@]}" tests/deploy/test_function_e2e.py

if [ "${DEPLOY_CHECKS_SKIP_BUILD:-0}" = 1 ]; then
  step "builds skipped (DEPLOY_CHECKS_SKIP_BUILD=1)"
else
  step "arm64 toolchain and cargo-lambda"
  # sam before the rest, cargo-lambda's venv before sam's: cargo-lambda finds zig through the
  # first `python3` on PATH (its venv's, which has ziglang).
  export PATH="$SAM_BIN:$PATH"
  arm64_build_env

  step "sam build (BuildMethod rust-cargolambda, arm64)"
  # aws-lambda-builders copies <cargo metadata target_directory>/lambda/pusher-auth/bootstrap,
  # so CARGO_TARGET_DIR above is honoured; the build and cache dirs stay out of the repository.
  sam build --template-file template.yaml --build-dir "$CACHE/sam-build" --cache-dir "$CACHE/sam-cache"
  "$VTL_BIN/python" - "$CACHE/sam-build" <<'EOF'
import os, sys
build = sys.argv[1]
bootstrap = os.path.join(build, "PusherAuthFunction", "bootstrap")
with open(bootstrap, "rb") as f:
    head = f.read(20)
assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 0xB7, "bootstrap is not an aarch64 ELF"
assert os.access(bootstrap, os.X_OK), "bootstrap is not executable"
assert os.path.isfile(os.path.join(build, "template.yaml"))
print("sam build: %s (%d bytes, aarch64)" % (bootstrap, os.path.getsize(bootstrap)))
EOF

  # The same template builds with every front door (and the guard rails and alarms on): the
  # function is the only thing built, the parameters only choose what else the stack creates.
  for door in http-api function-url rest-api; do
    step "sam build with FrontDoor=$door"
    sam build --template-file template.yaml --build-dir "$CACHE/sam-build-$door" --cache-dir "$CACHE/sam-cache" \
      --parameter-overrides FrontDoor=$door ReservedConcurrency=10 EnableWaf=$([ $door = rest-api ] && echo true || echo false) \
      AlarmTopicArn=arn:aws:sns:us-east-1:123456789012:pusher-auth-alarms >/dev/null
    cmp "$CACHE/sam-build/PusherAuthFunction/bootstrap" "$CACHE/sam-build-$door/PusherAuthFunction/bootstrap"
  done

  step "cargo lambda build --release --arm64 --bin pusher-auth --output-format zip"
  cargo lambda build --release --arm64 --bin pusher-auth --output-format zip
  "$VTL_BIN/python" - "$CARGO_TARGET_DIR/lambda/pusher-auth/bootstrap.zip" <<'EOF'
import os, sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as z:
    names = z.namelist()
    assert names == ["bootstrap"], names
    info = z.getinfo("bootstrap")
    binary = z.read("bootstrap")
    head = binary[:20]
# Cargo.toml's [package.metadata.lambda.build] leaves the `explain` feature (and its TOML
# reader) out of the function: the deployed binary only knows to say so.
assert b"left out of this build" in binary and b"samconfig is not TOML" not in binary, "explain is in the function"
assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 0xB7, "not an aarch64 ELF"
assert (info.external_attr >> 16) & 0o111, "bootstrap in the zip is not executable"
print("deployment package: %s: %d bytes (bootstrap %d bytes unzipped)" % (path, os.path.getsize(path), info.file_size))
EOF
fi

step "deploy checks passed in $(( $(date +%s) - START )) s"
