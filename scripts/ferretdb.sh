#!/usr/bin/env bash
# Ensure a cached FerretDB binary (MongoDB wire-protocol server, used by the
# MongoDB adapter's tests) exists, building it from the Go module proxy.
#
#   bash scripts/ferretdb.sh          # ensure the binary; log to stderr
#   bash scripts/ferretdb.sh path     # ensure the binary; print its path on stdout
#
# Cache: ${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/bin/ferretdb-v1.24.2
# Idempotent and safe to run concurrently (scripts/go-binary.sh: flock + atomic rename).
#
# Why not a bare `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`:
# the module zip on the proxy lacks the generated build/version/version.txt, so
# that binary panics at start-up ("Invalid build/version/version.txt file
# content"), and `go install -overlay` refuses to patch files in GOMODCACHE.
# So we `go mod download` the same module, copy it, write version.txt, and
# `go install ./cmd/ferretdb` from the copy with GOBIN pointing at a temp dir.
#
# A cold build (downloading modules + compiling) takes about 2-4 minutes on a
# 2-core machine; with a warm Go module/build cache it is much faster.
set -euo pipefail

TOOL=ferretdb.sh LABEL=FerretDB NAME=ferretdb VERSION=v1.24.2 HELP_LINES=2,8 BUILD_TIME='2-4 min'
MODULE=github.com/FerretDB/FerretDB

# A usable binary starts and reports the expected version.
# (Output captured first: `| grep -q` + pipefail could fail on SIGPIPE.)
binary_ok() {
  local out
  [ -f "$1" ] && [ -x "$1" ] && out=$("$1" --version 2>/dev/null) || return 1
  [[ $'\n'"$out"$'\n' == *$'\n'"version: $VERSION"$'\n'* ]]
}

binary_build() {
  local work=$1 moddir
  # Module-mode download from the Go module proxy; prints the extracted dir.
  moddir=$(cd "$work" && go mod download -json "$MODULE@$VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || {
    log "go mod download $MODULE@$VERSION failed"
    return 1
  }
  if [ -z "$moddir" ] || [ ! -f "$moddir/go.mod" ]; then
    log "go mod download $MODULE@$VERSION gave no module dir"
    return 1
  fi
  cp -R "$moddir" "$work/src" && chmod -R u+w "$work/src" || return 1
  echo "$VERSION" >"$work/src/build/version/version.txt" || return 1
  mkdir -p "$work/gobin" || return 1
  # -trimpath keeps build-cache hits across different temp dirs;
  # -buildvcs=false so a surrounding git repo never leaks into the binary.
  (cd "$work/src" && GOBIN="$work/gobin" GOFLAGS="-buildvcs=false -mod=readonly" \
    go install -trimpath ./cmd/ferretdb >&2) || return 1
  printf '%s\n' "$work/gobin/ferretdb"
}

source "$(dirname "$0")/go-binary.sh"
go_binary_main "$@"
