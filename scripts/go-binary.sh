# The part every script that builds a test or bench peer from the Go module proxy shares
# (scripts/ferretdb.sh, scripts/s3-server.sh, scripts/centrifugo.sh): sourced, not run.
#
# The sourcing script sets
#   TOOL        its own name, for messages (ferretdb.sh)
#   LABEL       what it builds, for messages (FerretDB)
#   NAME        the cached binary's name (ferretdb): the cache holds $NAME-$VERSION
#   VERSION     the version to build (v1.24.2)
#   HELP_LINES  the line range of its header comment that --help prints (2,8)
#   BUILD_TIME  how long a cold build takes, for the log (2-4 min)
# defines
#   binary_ok PATH      true when PATH is an executable that reports VERSION
#   binary_build WORK   builds into the empty directory WORK (stdout: only the built binary's
#                       path). It runs in a command substitution, where `set -e` does not
#                       apply: it checks each step itself (`|| return 1`).
# and ends with `go_binary_main "$@"`, which takes `path` (print the binary's path on
# stdout) or nothing (log to stderr), and exits.
#
# Cache: ${PARLEY_CACHE_DIR:-$HOME/.cache/parley}/bin. Idempotent and safe to run
# concurrently: builds happen under a lock, in a directory beside the cache, and the binary
# is moved into place with one rename.

log() { echo "$TOOL: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# The build's directory; global, so the EXIT trap still sees it.
GO_BINARY_WORK=

go_binary_main() {
  local mode=${1:-ensure}
  case "$mode" in
    ensure | path) ;;
    -h | --help)
      sed -n "${HELP_LINES}p" "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "$TOOL: unknown argument '$mode' (expected: path)" >&2
      exit 2
      ;;
  esac

  local bin_dir="${PARLEY_CACHE_DIR:-${HOME:-/root}/.cache/parley}/bin"
  local bin="$bin_dir/$NAME-$VERSION"
  binary_ok "$bin" && go_binary_done "$mode" "$bin"

  mkdir -p "$bin_dir" || die "cannot create cache dir $bin_dir"
  command -v flock >/dev/null 2>&1 || die "flock not found (install util-linux)"
  exec 9>"$bin_dir/.$NAME-$VERSION.lock"
  flock 9
  # Another run may have built it while this one waited for the lock.
  binary_ok "$bin" && go_binary_done "$mode" "$bin"

  if ! command -v go >/dev/null 2>&1; then
    local d
    for d in /usr/local/go/bin "${HOME:-/root}/go/bin" "${HOME:-/root}/sdk/go/bin"; do
      if [ -x "$d/go" ]; then
        PATH="$d:$PATH"
        break
      fi
    done
  fi
  command -v go >/dev/null 2>&1 || die "cannot build $LABEL $VERSION: Go toolchain not found (looked on PATH and /usr/local/go/bin)"

  # Leftovers of builds that were killed (builds only happen under the lock). Go leaves
  # its module copies read-only, hence the chmod.
  local old
  for old in "$bin_dir/.build-$NAME".*; do
    [ -e "$old" ] || continue
    chmod -R u+w "$old" 2>/dev/null || true
    rm -rf "$old"
  done
  GO_BINARY_WORK=$(mktemp -d "$bin_dir/.build-$NAME.XXXXXX")
  trap 'chmod -R u+w "$GO_BINARY_WORK" 2>/dev/null || true; rm -rf "$GO_BINARY_WORK"' EXIT

  local start built
  start=$(date +%s)
  log "building $LABEL $VERSION with $(go version) (cold builds take $BUILD_TIME)..."
  built=$(binary_build "$GO_BINARY_WORK") || die "cannot build $LABEL $VERSION: go install failed"
  [ -n "$built" ] && [ -x "$built" ] || die "the build of $LABEL $VERSION produced no binary"
  binary_ok "$built" || die "the built $LABEL binary does not report version $VERSION"
  # The build directory is inside $bin_dir (same filesystem), so this rename is atomic.
  mv -f "$built" "$bin"
  log "built $bin in $(($(date +%s) - start))s"
  binary_ok "$bin" || die "installed binary $bin is not usable"
  go_binary_done "$mode" "$bin"
}

go_binary_done() {
  if [ "$1" = path ]; then
    printf '%s\n' "$2"
  else
    log "ready: $2"
  fi
  exit 0
}
