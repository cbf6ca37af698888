# Sourced by the scripts (never run): sets CACHE, the directory outside the repository that
# holds what they install and build once (venvs, npm packages, sockudo's build, cargo-mutants,
# the fuzz builds, the arm64 toolchain and build, logs): $PUSHER_AUTH_CACHE if set, else
# $XDG_CACHE_HOME/pusher-auth-lambda, else ~/.cache/pusher-auth-lambda. It creates nothing.
#   source scripts/cache.sh                              # from the repository root
#   source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"     # from a script in scripts/, anywhere
CACHE="${PUSHER_AUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pusher-auth-lambda}"
