#!/usr/bin/env bash
# Ensure a cached Centrifugo binary (the real-time server bench/fanout.ts compares Parley
# with), built with `go install` from the Go module proxy.
#
#   bash scripts/centrifugo.sh          # ensure the binary; log to stderr
#   bash scripts/centrifugo.sh path     # ensure the binary; print its path on stdout
#
# Cache: ${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/bin/centrifugo-v6.9.1
# Idempotent and safe to run concurrently (flock + atomic rename), like scripts/ferretdb.sh.
# A cold build (modules + compile) takes several minutes on a 2-core machine.
set -euo pipefail

CENTRIFUGO_VERSION=v6.9.1
CENTRIFUGO_MODULE=github.com/centrifugal/centrifugo/v6

mode=${1:-ensure}
case "$mode" in
  ensure | path) ;;
  -h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "centrifugo.sh: unknown argument '$mode' (expected: path)" >&2
    exit 2
    ;;
esac

log() { echo "centrifugo.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

cache_dir=${PARLEY_CACHE_DIR:-${HOME:-/root}/.cache/parley}
bin_dir="$cache_dir/bin"
bin="$bin_dir/centrifugo-$CENTRIFUGO_VERSION"

# A usable binary starts and prints its version (`centrifugo version`).
valid() {
  [ -f "$bin" ] && [ -x "$bin" ] || return 1
  local out
  out=$("$bin" version 2>/dev/null) || return 1
  [[ "$out" == *"${CENTRIFUGO_VERSION#v}"* || "$out" == *"Centrifugo"* ]]
}

done_() {
  if [ "$mode" = path ]; then printf '%s\n' "$bin"; else log "ready: $bin"; fi
  exit 0
}

valid && done_

mkdir -p "$bin_dir" || die "cannot create cache dir $bin_dir"
command -v flock >/dev/null 2>&1 || die "flock not found (install util-linux)"
exec 9>"$bin_dir/.centrifugo-$CENTRIFUGO_VERSION.lock"
flock 9
valid && done_

if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin "${HOME:-/root}/go/bin" "${HOME:-/root}/sdk/go/bin"; do
    if [ -x "$d/go" ]; then
      PATH="$d:$PATH"
      break
    fi
  done
fi
command -v go >/dev/null 2>&1 || die "cannot build Centrifugo $CENTRIFUGO_VERSION: Go toolchain not found (looked on PATH and /usr/local/go/bin)"

for old in "$bin_dir"/.build-centrifugo.*; do
  [ -e "$old" ] || continue
  rm -rf "$old"
done
work=$(mktemp -d "$bin_dir/.build-centrifugo.XXXXXX")
trap 'rm -rf "$work"' EXIT

start=$(date +%s)
log "building Centrifugo $CENTRIFUGO_VERSION with $(go version) (cold builds take several minutes)..."
# The version is stamped the way Centrifugo's release build does, so `centrifugo version`
# reports it (the module zip has no VCS data).
if ! (cd "$work" && GOBIN="$work" GOFLAGS="-buildvcs=false" \
  go install -trimpath -ldflags "-s -w -X $CENTRIFUGO_MODULE/internal/build.Version=${CENTRIFUGO_VERSION#v}" \
  "$CENTRIFUGO_MODULE@$CENTRIFUGO_VERSION"); then
  die "cannot build Centrifugo $CENTRIFUGO_VERSION: go install failed"
fi
[ -x "$work/centrifugo" ] || die "go install produced no centrifugo binary"
mv -f "$work/centrifugo" "$bin"
log "built $bin in $(($(date +%s) - start))s"
valid || die "installed binary $bin is not usable"
done_
