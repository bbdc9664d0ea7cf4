#!/usr/bin/env bash
# Ensure a cached Centrifugo binary (the real-time server bench/fanout.ts compares Parley
# with), built with `go install` from the Go module proxy.
#
#   bash scripts/centrifugo.sh          # ensure the binary; log to stderr
#   bash scripts/centrifugo.sh path     # ensure the binary; print its path on stdout
#
# Cache: ${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/bin/centrifugo-v6.9.1
# Idempotent and safe to run concurrently (scripts/go-binary.sh: flock + atomic rename).
# A cold build (modules + compile) takes several minutes on a 2-core machine.
set -euo pipefail

TOOL=centrifugo.sh LABEL=Centrifugo NAME=centrifugo VERSION=v6.9.1 HELP_LINES=2,9 BUILD_TIME='several minutes'
MODULE=github.com/centrifugal/centrifugo/v6

# A usable binary starts and prints its version (`centrifugo version`).
binary_ok() {
  local out
  [ -f "$1" ] && [ -x "$1" ] && out=$("$1" version 2>/dev/null) || return 1
  [[ "$out" == *"${VERSION#v}"* ]]
}

binary_build() {
  local work=$1
  # The version is stamped the way Centrifugo's release build does, so `centrifugo version`
  # reports it (the module zip has no VCS data).
  (cd "$work" && GOBIN="$work" GOFLAGS="-buildvcs=false" \
    go install -trimpath -ldflags "-s -w -X $MODULE/internal/build.Version=${VERSION#v}" \
    "$MODULE@$VERSION" >&2) || return 1
  printf '%s\n' "$work/centrifugo"
}

source "$(dirname "$0")/go-binary.sh"
go_binary_main "$@"
