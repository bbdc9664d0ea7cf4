#!/usr/bin/env bash
# Ensure a cached Versity S3 Gateway binary (a real S3 API server over a POSIX
# directory, used by the Media service's tests; see test/support/s3-server.ts),
# building it from the Go module proxy.
#
#   bash scripts/s3-server.sh          # ensure the binary; log to stderr
#   bash scripts/s3-server.sh path     # ensure the binary; print its path on stdout
#
# Cache: ${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/bin/versitygw-v1.8.0
# Idempotent and safe to run concurrently (flock + atomic rename).
#
# Why versitygw: it verifies SigV4 header and presigned-URL signatures and
# X-Amz-Expires, and accepts what the current AWS SDK v3 sends (CRC32 request
# checksums, aws-chunked trailers). The other candidates were worse here: s3rver
# (npm) was last released in 2021; gofakes3 does no auth by default; MinIO is a
# pseudo-versioned module that takes far longer to build.
#
# A cold build (downloading modules + compiling) takes about 4 minutes on a
# 2-core machine; with a warm Go module/build cache it is much faster.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
VERSITYGW_MODULE=github.com/versity/versitygw

mode=${1:-ensure}
case "$mode" in
  ensure | path) ;;
  -h | --help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "s3-server.sh: unknown argument '$mode' (expected: path)" >&2
    exit 2
    ;;
esac

log() { echo "s3-server.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

cache_dir=${PARLEY_CACHE_DIR:-${HOME:-/root}/.cache/parley}
bin_dir="$cache_dir/bin"
bin="$bin_dir/versitygw-$VERSITYGW_VERSION"

# A usable binary starts and reports the version we stamp into it at build time.
# (Output is captured first: `| grep -q` could SIGPIPE the binary and, with pipefail,
# fail the check.)
reports_version() {
  local out
  [ -x "$1" ] && out=$("$1" --version 2>/dev/null) &&
    grep -q "^Version *: $VERSITYGW_VERSION\$" <<<"$out"
}
valid() { reports_version "$bin"; }

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
exec 9>"$bin_dir/.versitygw-$VERSITYGW_VERSION.lock"
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
command -v go >/dev/null 2>&1 || die "cannot build versitygw $VERSITYGW_VERSION: Go toolchain not found (looked on PATH and /usr/local/go/bin)"

work=$(mktemp -d "$bin_dir/.build-versitygw.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

start=$(date +%s)
log "building versitygw $VERSITYGW_VERSION with $(go version) (cold builds take ~4 min)..."

# `go install module/cmd@version` builds in module mode, outside any go.mod
# (run from $work so the repo never matters). -trimpath keeps build-cache hits
# across temp dirs; the version is stamped so `valid` can check it.
if ! (cd "$work" &&
  GOBIN="$work" GOFLAGS="-buildvcs=false" \
    go install -trimpath \
    -ldflags "-s -w -X main.Version=$VERSITYGW_VERSION -X main.Build=goproxy" \
    "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION" >&2); then
  die "cannot build versitygw $VERSITYGW_VERSION: go install failed"
fi

tmpbin="$work/versitygw"
reports_version "$tmpbin" ||
  die "built versitygw binary does not report version $VERSITYGW_VERSION"

# $work is inside $bin_dir (same filesystem), so this rename is atomic.
mv -f "$tmpbin" "$bin"

log "built $bin in $(($(date +%s) - start))s"
valid || die "installed binary $bin is not usable"
done_
