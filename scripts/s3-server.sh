#!/usr/bin/env bash
# Ensure a cached Versity S3 Gateway binary (a real S3 API server over a POSIX
# directory, used by the Media service's tests; see test/support/s3-server.ts),
# building it from the Go module proxy.
#
#   bash scripts/s3-server.sh          # ensure the binary; log to stderr
#   bash scripts/s3-server.sh path     # ensure the binary; print its path on stdout
#
# Cache: ${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/bin/versitygw-v1.8.0
# Idempotent and safe to run concurrently (scripts/go-binary.sh: flock + atomic rename).
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

TOOL=s3-server.sh LABEL=versitygw NAME=versitygw VERSION=v1.8.0 HELP_LINES=2,10 BUILD_TIME='~4 min'
MODULE=github.com/versity/versitygw

# A usable binary starts and reports the version stamped into it at build time.
# (Output is captured first: `| grep -q` could SIGPIPE the binary and, with pipefail,
# fail the check.)
binary_ok() {
  local out
  [ -f "$1" ] && [ -x "$1" ] && out=$("$1" --version 2>/dev/null) || return 1
  grep -q "^Version *: $VERSION\$" <<<"$out"
}

binary_build() {
  local work=$1
  # `go install module/cmd@version` builds in module mode, outside any go.mod
  # (run from $work so the repo never matters). -trimpath keeps build-cache hits
  # across temp dirs; the version is stamped so `binary_ok` can check it.
  (cd "$work" && GOBIN="$work" GOFLAGS="-buildvcs=false" \
    go install -trimpath \
    -ldflags "-s -w -X main.Version=$VERSION -X main.Build=goproxy" \
    "$MODULE/cmd/versitygw@$VERSION" >&2) || return 1
  printf '%s\n' "$work/versitygw"
}

source "$(dirname "$0")/go-binary.sh"
go_binary_main "$@"
