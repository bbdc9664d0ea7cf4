#!/usr/bin/env bash
# Nginx for Parley: make sure it is installed, and render deploy/nginx.conf for other ports.
#
#   bash scripts/nginx.sh ensure       # print the nginx binary's path; install Debian's
#                                      # package first if it is missing (needs root)
#   bash scripts/nginx.sh render [options] > nginx.conf
#       --listen ADDR        the server's listen address, e.g. 127.0.0.1:8080
#       --api HOST:PORT,...  the servers of upstream parley_api
#       --ws HOST:PORT,...   the servers of upstream parley_ws
#       --prefix DIR         pid file, temp dirs (and logs) under DIR (made if missing), for
#                            an instance of its own:
#                            nginx -p DIR/ -e DIR/logs/error.log -c DIR/nginx.conf -g 'daemon off;'
#       --logs DIR           log directory (default: DIR/logs of --prefix)
#       --body-limit BYTES   client_max_body_size of the API (= BODY_LIMIT_BYTES)
#       --expose-upstream    add an X-Upstream response header naming the server that
#                            answered (tries and tests; not for production)
#
# deploy/nginx.conf is the one source: rendering only swaps the lines named above; the
# upstream parameters (max_fails, fail_timeout...) are those of the template's first
# `server` line of each upstream.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
template="$root/deploy/nginx.conf"

die() {
  echo "nginx.sh: $*" >&2
  exit 1
}

find_nginx() {
  command -v nginx 2>/dev/null && return 0
  [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx && return 0
  return 1
}

ensure() {
  find_nginx && return 0
  [ "$(id -u)" = 0 ] || die "nginx is not installed and installing it needs root (apt-get install nginx)"
  command -v apt-get >/dev/null || die "nginx is not installed and apt-get is not available"
  command -v flock >/dev/null || die "flock not found (install util-linux)"
  (
    flock 9
    if ! find_nginx >/dev/null; then
      echo "nginx.sh: installing nginx (Debian package)" >&2
      # Debian starts the default site (port 80, every address) on install; Parley runs
      # its own instances, so keep the package's service from starting, unless this
      # machine already has a policy about that.
      guard=""
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        guard=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$guard"
        chmod 755 "$guard"
      fi
      status=0
      { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; } >&2 || status=$?
      if [ -n "$guard" ]; then rm -f "$guard"; fi
      [ "$status" = 0 ] || exit "$status"
    fi
  ) 9>/tmp/parley-nginx-install.lock || die "could not install nginx (apt-get failed)"
  find_nginx || die "nginx still not found after installing it"
}

render() {
  local listen="" api="" ws="" prefix="" logs="" body="" expose=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --listen) listen=${2:?--listen needs a value}; shift 2 ;;
      --api) api=${2:?--api needs a value}; shift 2 ;;
      --ws) ws=${2:?--ws needs a value}; shift 2 ;;
      --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
      --logs) logs=${2:?--logs needs a value}; shift 2 ;;
      --body-limit) body=${2:?--body-limit needs a value}; shift 2 ;;
      --expose-upstream) expose=1; shift ;;
      *) die "render: unknown option '$1'" ;;
    esac
  done
  if [ -n "$prefix" ]; then
    case "$prefix" in /*) ;; *) die "render: --prefix must be an absolute path" ;; esac
    prefix=${prefix%/}
    logs=${logs:-$prefix/logs}
  fi
  if [ -n "$logs" ]; then
    case "$logs" in /*) ;; *) die "render: --logs must be an absolute path" ;; esac
    logs=${logs%/}
  fi
  if [ -n "$body" ] && ! [[ "$body" =~ ^[0-9]+$ ]]; then die "render: --body-limit must be a number of bytes"; fi
  [ -f "$template" ] || die "missing $template"
  # nginx makes the last component of a path, not its parents.
  if [ -n "$prefix" ]; then mkdir -p "$prefix/tmp"; fi
  if [ -n "$logs" ]; then mkdir -p "$logs"; fi

  awk -v listen="$listen" -v api="$api" -v ws="$ws" -v prefix="$prefix" -v logs="$logs" \
    -v body="$body" -v expose="$expose" '
    function servers(list, line,    n, a, i, out) {
      n = split(list, a, ",")
      for (i = 1; i <= n; i++) {
        out = line
        sub(/server[ \t]+[^ \t;]+/, "server " a[i], out)
        print out
      }
    }
    /^[ \t]*upstream[ \t]+parley_api[ \t]*\{/ { up = "api"; done = 0; print; next }
    /^[ \t]*upstream[ \t]+parley_ws[ \t]*\{/ { up = "ws"; done = 0; print; next }
    up != "" && /^[ \t]*\}/ { up = ""; print; next }
    up != "" && /^[ \t]*server[ \t]/ {
      list = (up == "api") ? api : ws
      if (list == "") { print; next }
      if (!done) { servers(list, $0); done = 1 }
      next
    }
    /^[ \t]*listen[ \t]/ && listen != "" {
      if (listened) next
      listened = 1
      sub(/listen[ \t]+[^ \t;]+/, "listen " listen)
      print; next
    }
    /^[ \t]*client_max_body_size[ \t].*BODY_LIMIT_BYTES/ && body != "" {
      sub(/client_max_body_size[ \t]+[^ \t;]+/, "client_max_body_size " body)
      print; next
    }
    {
      if (prefix != "") {
        sub(/^[ \t]*pid[ \t]+[^;]+;/, "pid " prefix "/nginx.pid;")
        gsub(/\/var\/lib\/nginx\//, prefix "/tmp/")
        if ($0 ~ /^[ \t]*(access_log|error_log)[ \t]/) gsub(/\/var\/log\/nginx\//, logs "/")
      } else if (logs != "") {
        gsub(/\/var\/log\/nginx\//, logs "/")
      }
      print
      if (expose == 1 && $0 ~ /^[ \t]*proxy_pass[ \t]/) {
        match($0, /^[ \t]*/)
        print substr($0, 1, RLENGTH) "add_header X-Upstream $upstream_addr always;"
      }
    }
  ' "$template" | if [ -n "$prefix" ]; then
    # The compiled-in temp paths (/var/lib/nginx/...) are not this instance's to write:
    # its own ones, right after the opening of the http block.
    awk -v prefix="$prefix" '
      { print }
      /^[ \t]*http[ \t]*\{/ && !done {
        print "    client_body_temp_path " prefix "/tmp/body;"
        print "    proxy_temp_path " prefix "/tmp/proxy;"
        print "    fastcgi_temp_path " prefix "/tmp/fastcgi;"
        print "    uwsgi_temp_path " prefix "/tmp/uwsgi;"
        print "    scgi_temp_path " prefix "/tmp/scgi;"
        done = 1
      }
    '
  else
    cat
  fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  ensure) ensure ;;
  render) render "$@" ;;
  -h | --help | "")
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    [ -n "$cmd" ]
    ;;
  *) die "unknown command '$cmd' (ensure, render)" ;;
esac
