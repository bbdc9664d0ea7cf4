#!/usr/bin/env bash
# Ensure a cached FerretDB binary (MongoDB wire-protocol server, used by the
# MongoDB adapter's tests) exists, building it from the Go module proxy.
#
#   bash scripts/ferretdb.sh          # ensure the binary; log to stderr
#   bash scripts/ferretdb.sh path     # ensure the binary; print its path on stdout
#
# Cache: ${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/bin/ferretdb-v1.24.2
# Idempotent and safe to run concurrently (flock + atomic rename).
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

FERRETDB_VERSION=v1.24.2
FERRETDB_MODULE=github.com/FerretDB/FerretDB

mode=${1:-ensure}
case "$mode" in
  ensure | path) ;;
  -h | --help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "ferretdb.sh: unknown argument '$mode' (expected: path)" >&2
    exit 2
    ;;
esac

log() { echo "ferretdb.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

cache_dir=${PARLEY_CACHE_DIR:-${HOME:-/root}/.cache/parley}
bin_dir="$cache_dir/bin"
bin="$bin_dir/ferretdb-$FERRETDB_VERSION"

# A usable binary starts and reports the expected version.
# (Output captured first: `| grep -q` + pipefail could fail on SIGPIPE.)
reports_version() {
  local out
  out=$("$1" --version 2>/dev/null) || return 1
  [[ $'\n'"$out"$'\n' == *$'\n'"version: $FERRETDB_VERSION"$'\n'* ]]
}
valid() {
  [ -f "$bin" ] && [ -x "$bin" ] && reports_version "$bin"
}

done_() {
  if [ "$mode" = path ]; then
    printf '%s\n' "$bin"
  else
    log "ready: $bin"
  fi
  exit 0
}

valid && done_

mkdir -p "$bin_dir" || die "cannot create cache dir $bin_dir"

command -v flock >/dev/null 2>&1 || die "flock not found (install util-linux)"
exec 9>"$bin_dir/.ferretdb-$FERRETDB_VERSION.lock"
flock 9

# Another run may have built it while we waited for the lock.
valid && done_

if ! command -v go >/dev/null 2>&1; then
  for d in /usr/local/go/bin "${HOME:-/root}/go/bin" "${HOME:-/root}/sdk/go/bin"; do
    if [ -x "$d/go" ]; then
      PATH="$d:$PATH"
      break
    fi
  done
fi
command -v go >/dev/null 2>&1 || die "cannot build FerretDB $FERRETDB_VERSION: Go toolchain not found (looked on PATH and /usr/local/go/bin)"

# Leftovers of builds that were killed (builds only happen under the lock).
for old in "$bin_dir"/.build-ferretdb.*; do
  [ -e "$old" ] || continue
  chmod -R u+w "$old" 2>/dev/null || true
  rm -rf "$old"
done
work=$(mktemp -d "$bin_dir/.build-ferretdb.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

start=$(date +%s)
log "building FerretDB $FERRETDB_VERSION with $(go version) (cold builds take 2-4 min)..."

# Module-mode download from the Go module proxy; prints the extracted dir.
moddir=$(cd "$work" && go mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') ||
  die "go mod download $FERRETDB_MODULE@$FERRETDB_VERSION failed"
if [ -z "$moddir" ] || [ ! -f "$moddir/go.mod" ]; then
  die "go mod download $FERRETDB_MODULE@$FERRETDB_VERSION gave no module dir"
fi

cp -R "$moddir" "$work/src"
chmod -R u+w "$work/src"
echo "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
mkdir -p "$work/gobin"

# -trimpath keeps build-cache hits across different temp dirs;
# -buildvcs=false so a surrounding git repo never leaks into the binary.
if ! (cd "$work/src" &&
  GOBIN="$work/gobin" GOFLAGS="-buildvcs=false -mod=readonly" \
    go install -trimpath ./cmd/ferretdb); then
  die "cannot build FerretDB $FERRETDB_VERSION: go install failed"
fi

tmpbin="$work/gobin/ferretdb"
reports_version "$tmpbin" ||
  die "built FerretDB binary does not report version $FERRETDB_VERSION"

# $work is inside $bin_dir (same filesystem), so this rename is atomic.
mv -f "$tmpbin" "$bin"

log "built $bin in $(($(date +%s) - start))s"
valid || die "installed binary $bin is not usable"
done_
