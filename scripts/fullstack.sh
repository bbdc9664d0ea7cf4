#!/usr/bin/env bash
# The whole stack on this machine, for trying it: PostgreSQL, a MongoDB-compatible store
# (FerretDB, or MONGODB_URL), Redis and RabbitMQ, then Parley as 1 API process, 2 WebSocket
# gateways and 1 worker, behind Nginx on http://localhost:${PORT:-8080}.
#
#   npm run start:fullstack              # or: bash scripts/fullstack.sh
#   PORT=9000 npm run start:fullstack
#
# Optional environment:
#   PORT          Nginx's port (default 8080). The processes listen on 127.0.0.1 only:
#                 API PORT+1, gateways PORT+2 and PORT+3, worker PORT+4, FerretDB PORT+5.
#   HOST          Nginx's listen address (default 0.0.0.0).
#   DATABASE_URL  PostgreSQL (default postgres://postgres@127.0.0.1:5432/parley, created if missing).
#   MONGODB_URL   MongoDB (default: FerretDB started here, its data in the database
#                 parley_ferretdb next to DATABASE_URL's; FERRETDB_HANDLER=sqlite: ./data/fullstack/ferretdb).
#   REDIS_URL     Redis (default redis://127.0.0.1:6379).
#   AMQP_URL      RabbitMQ (default amqp://guest:guest@127.0.0.1:5672).
#   FULLSTACK_STATE  State and logs (default ./data/fullstack).
#   Every other Parley setting (README, "Configuration") goes to every process as it is.
#
# PostgreSQL, Redis and RabbitMQ are started if they are installed and down, and installed
# from Debian's packages first if missing (as root); Nginx likewise (scripts/nginx.sh).
# State: ./data/fullstack (JWT secret, FerretDB data, media). Logs: ./data/fullstack/logs.
# Ctrl-C or SIGTERM stops everything this script started, gracefully. Like the systemd
# units, a Parley process or Nginx that dies is restarted (with backoff, logged to
# ./data/fullstack/logs/supervisor.log) while the others keep serving.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck disable=SC1091 # (shellcheck -x follows it)
source scripts/lib.sh

log() { echo "== $*"; }
die() {
  echo "fullstack.sh: $*" >&2
  exit 1
}

port=${PORT:-8080}
listen_host=${HOST:-0.0.0.0}
if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65530 ]; then
  die "PORT must be a port number (1-65530), got '$port'"
fi
api_port=$((port + 1))
ws_ports=($((port + 2)) $((port + 3)))
worker_port=$((port + 4))
ferretdb_port=$((port + 5))

state=${FULLSTACK_STATE:-$root/data/fullstack}
logs="$state/logs"
run="$state/run"
mkdir -p "$logs" "$run"

# ---------------------------------------------------------------- what runs, and stopping it

pids=()   # supervisors of the Parley processes and Nginx, in start order
names=()
ferretdb_pid=""
nginx_prefix=""

# shellcheck disable=SC2317 # called from the traps
stop_all() {
  trap - INT TERM EXIT
  local i
  if [ ${#pids[@]} -gt 0 ]; then
    echo "== stopping (graceful: requests finish, WebSockets close with 1012)"
    # Nginx first (stop taking traffic), then the Parley processes, together: each
    # supervisor stops its process gracefully (Nginx with QUIT, Parley with TERM).
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    for i in "${!pids[@]}"; do wait "${pids[i]}" 2>/dev/null || true; done
  fi
  # The store last: the processes close their connections to it on the way out.
  if [ -n "$ferretdb_pid" ]; then
    kill -TERM "$ferretdb_pid" 2>/dev/null || true
    wait "$ferretdb_pid" 2>/dev/null || true
  fi
  if [ -n "$nginx_prefix" ]; then rm -rf "$nginx_prefix"; fi
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# Like systemd's Restart=always with a growing RestartSec: runs "$@" as <name>, and when
# it dies restarts it after 1 s, 2 s, 4 s ... (at most 30 s; back to 1 s after a run of a
# minute or more), each exit and restart logged to $logs/supervisor.log and stderr. The
# others keep serving meanwhile (Nginx routes around a dead upstream). The live process's
# pid is in $run/<name>.pid. SIGTERM stops the process gracefully and the loop with it.
supervise() {
  local name=$1
  shift
  local stop_signal=TERM
  if [ "$name" = nginx ]; then stop_signal=QUIT; fi # nginx: graceful shutdown
  (
    child=""
    stopping=""
    # shellcheck disable=SC2317 # called from the trap
    stop_child() {
      stopping=1
      if [ -n "$child" ]; then
        kill "-$stop_signal" "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
      fi
      rm -f "$run/$name.pid"
      exit 0
    }
    trap stop_child TERM INT
    delay=1
    while [ -z "$stopping" ]; do
      started=$SECONDS
      setsid "$@" >>"$logs/$name.log" 2>&1 </dev/null &
      child=$!
      echo "$child" >"$run/$name.pid"
      status=0
      wait "$child" || status=$?
      # A trapped signal interrupts wait; the child may still be running.
      while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
      child=""
      if [ $((SECONDS - started)) -ge 60 ]; then delay=1; fi
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) fullstack: $name exited (status $status); restarting in ${delay}s" | tee -a "$logs/supervisor.log" >&2
      sleep "$delay" &
      wait $! || true
      delay=$((delay * 2 > 30 ? 30 : delay * 2))
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) fullstack: $name restarting" >>"$logs/supervisor.log"
    done
  ) &
  pids+=("$!")
  names+=("$name")
}

tail_log() {
  echo "---- last lines of $1" >&2
  tail -n 30 "$1" >&2 || true
}

# Waits until http://127.0.0.1:<port>/healthz answers, or the process dies.
wait_healthy() {
  local name=$1 pid=$2 port=$3 _
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log "$logs/$name.log"
      die "$name exited during startup (log: $logs/$name.log)"
    fi
    if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  tail_log "$logs/$name.log"
  die "$name did not answer on 127.0.0.1:$port within 120s"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A URL without its password, for printing.
redact() { sed -E 's#//([^:/@]+):[^@]*@#//\1:***@#' <<<"$1"; }

# Installs a Debian package when its command is missing (root only).
ensure_package() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "$cmd is missing: install $pkg (or point the matching *_URL at a server)"
  fi
  log "installing $pkg"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg"
}

# ---------------------------------------------------------------- services

command -v curl >/dev/null || ensure_package curl curl
command -v setsid >/dev/null || die "setsid not found (install util-linux)"

# Only what this machine is asked to run: a given *_URL means that service lives elsewhere.
[ -n "${DATABASE_URL:-}" ] || { ensure_package pg_ctlcluster postgresql && ensure_package psql postgresql-client; }
[ -n "${REDIS_URL:-}" ] || ensure_package redis-server redis-server
[ -n "${AMQP_URL:-}" ] || ensure_package rabbitmq-server rabbitmq-server
ensure_local_services

if [ -z "${DATABASE_URL:-}" ]; then
  pg_isready -h 127.0.0.1 -p 5432 -q || die "PostgreSQL is not answering on 127.0.0.1:5432 (set DATABASE_URL to use another server)"
  admin=postgres://postgres@127.0.0.1:5432/postgres
  exists=$(psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = 'parley'") ||
    die "cannot connect to PostgreSQL as postgres@127.0.0.1 (set DATABASE_URL)"
  if [ "$exists" != 1 ]; then
    log "creating database parley"
    psql "$admin" -qc 'CREATE DATABASE parley'
  fi
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/parley
fi
if [ -z "${REDIS_URL:-}" ]; then
  port_open 6379 || die "Redis is not answering on 127.0.0.1:6379 (set REDIS_URL to use another server)"
  REDIS_URL=redis://127.0.0.1:6379
fi
if [ -z "${AMQP_URL:-}" ]; then
  port_open 5672 || die "RabbitMQ is not answering on 127.0.0.1:5672 (set AMQP_URL to use another server)"
  AMQP_URL=amqp://guest:guest@127.0.0.1:5672
fi

nginx_bin=$(bash scripts/nginx.sh ensure)

if [ -z "${MONGODB_URL:-}" ]; then
  log "FerretDB (MongoDB wire protocol) on 127.0.0.1:$ferretdb_port"
  ferretdb_bin=$(bash scripts/ferretdb.sh path) || die "no MongoDB-compatible store: FerretDB could not be built (set MONGODB_URL to use a MongoDB server)"
  mkdir -p "$state/ferretdb/data"
  # FerretDB on its PostgreSQL handler (a database of its own next to Parley's): measured
  # faster than its SQLite handler with the full stack (npm run bench; bench/README.md).
  # FERRETDB_HANDLER=sqlite keeps the data in ./data/fullstack/ferretdb instead.
  ferretdb_storage=(--handler=sqlite --sqlite-url="file:$state/ferretdb/data/")
  if [ "${FERRETDB_HANDLER:-postgresql}" = postgresql ]; then
    # DATABASE_URL with its database name replaced (the query string kept).
    pg_base=${DATABASE_URL%%\?*}
    pg_query=${DATABASE_URL#"$pg_base"}
    ferretdb_db_url="${pg_base%/*}/parley_ferretdb$pg_query"
    ferretdb_admin="${pg_base%/*}/postgres$pg_query"
    if [ "$(psql "$ferretdb_admin" -tAc "SELECT 1 FROM pg_database WHERE datname = 'parley_ferretdb'")" != 1 ]; then
      log "creating database parley_ferretdb (FerretDB's)"
      psql "$ferretdb_admin" -qc 'CREATE DATABASE parley_ferretdb' || die "cannot create database parley_ferretdb (FERRETDB_HANDLER=sqlite avoids it)"
    fi
    ferretdb_storage=(--handler=postgresql --postgresql-url="$ferretdb_db_url")
  fi
  DO_NOT_TRACK=1 setsid "$ferretdb_bin" \
    "${ferretdb_storage[@]}" --state-dir="$state/ferretdb" \
    --listen-addr="127.0.0.1:$ferretdb_port" --debug-addr=- --telemetry=disable --log-format=text \
    >>"$logs/ferretdb.log" 2>&1 </dev/null &
  ferretdb_pid=$!
  for _ in $(seq 1 150); do
    port_open "$ferretdb_port" && break
    kill -0 "$ferretdb_pid" 2>/dev/null || { tail_log "$logs/ferretdb.log"; die "FerretDB exited during startup"; }
    sleep 0.2
  done
  port_open "$ferretdb_port" || die "FerretDB did not listen on 127.0.0.1:$ferretdb_port"
  MONGODB_URL="mongodb://127.0.0.1:$ferretdb_port/"
fi

# ---------------------------------------------------------------- Parley

ensure_node_modules
log "build"
npx tsc -p tsconfig.build.json
bash scripts/build-web.sh

# One JWT secret for every process (a token from the API must open a WebSocket anywhere).
if [ -z "${JWT_SECRET:-}" ]; then
  if [ ! -s "$state/jwt-secret" ]; then
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$state/jwt-secret")
  fi
  JWT_SECRET=$(cat "$state/jwt-secret")
fi

export DATABASE_URL MONGODB_URL REDIS_URL AMQP_URL JWT_SECRET
export TRUST_PROXY=${TRUST_PROXY:-127.0.0.1}
export DATA_DIR=${DATA_DIR:-$state/parley}
export PUBLIC_URL=${PUBLIC_URL:-http://localhost:$port}

log "migrate"
HOST=127.0.0.1 node dist/src/cli.js migrate >>"$logs/migrate.log" 2>&1 || { tail_log "$logs/migrate.log"; die "migrations failed"; }

log "1 API (:$api_port), 2 WebSocket gateways (:${ws_ports[0]}, :${ws_ports[1]}), 1 worker (:$worker_port)"
supervise api env PORT="$api_port" HOST=127.0.0.1 node dist/src/cli.js serve --roles api
supervise ws1 env PORT="${ws_ports[0]}" HOST=127.0.0.1 node dist/src/cli.js serve --roles ws
supervise ws2 env PORT="${ws_ports[1]}" HOST=127.0.0.1 node dist/src/cli.js serve --roles ws
supervise worker env PORT="$worker_port" HOST=127.0.0.1 node dist/src/cli.js serve --roles worker
wait_healthy api "${pids[0]}" "$api_port"
wait_healthy ws1 "${pids[1]}" "${ws_ports[0]}"
wait_healthy ws2 "${pids[2]}" "${ws_ports[1]}"
wait_healthy worker "${pids[3]}" "$worker_port"

log "nginx on $listen_host:$port"
# Pid and temp files in a directory of its own that nginx's workers can reach; the
# configuration rendered from deploy/nginx.conf is kept in ./data/fullstack for reading.
nginx_prefix=$(mktemp -d /tmp/parley-fullstack-nginx.XXXXXX)
chmod 755 "$nginx_prefix"
render=(--listen "$listen_host:$port" --api "127.0.0.1:$api_port" --ws "127.0.0.1:${ws_ports[0]},127.0.0.1:${ws_ports[1]}"
  --prefix "$nginx_prefix" --logs "$logs/nginx" --expose-upstream)
if [ -n "${BODY_LIMIT_BYTES:-}" ]; then render+=(--body-limit "$BODY_LIMIT_BYTES"); fi
bash scripts/nginx.sh render "${render[@]}" >"$state/nginx.conf"
"$nginx_bin" -t -q -p "$nginx_prefix/" -e "$logs/nginx/error.log" -c "$state/nginx.conf" || die "nginx rejected $state/nginx.conf"
supervise nginx "$nginx_bin" -p "$nginx_prefix/" -e "$logs/nginx/error.log" -c "$state/nginx.conf" -g 'daemon off;'
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  kill -0 "${pids[4]}" 2>/dev/null || { tail_log "$logs/nginx.log"; tail_log "$logs/nginx/error.log"; die "nginx exited during startup"; }
  sleep 0.1
done

cat <<EOF

Parley full stack: http://localhost:$port (REST; WebSocket ws://localhost:$port/v1/ws)
  nginx :$port -> API 127.0.0.1:$api_port, gateways 127.0.0.1:${ws_ports[0]} and :${ws_ports[1]}; worker :$worker_port
  PostgreSQL $(redact "$DATABASE_URL"), MongoDB $(redact "$MONGODB_URL"), Redis $(redact "$REDIS_URL"), RabbitMQ $(redact "$AMQP_URL")
  logs: $logs   (responses carry X-Upstream: the process that answered)
Ctrl-C stops everything.
EOF

# Runs until Ctrl-C/SIGTERM (the traps stop everything). The Parley processes restart
# themselves (supervise); if Nginx or a supervisor itself dies, nothing could route or
# restart, so the rest is stopped.
set +e
wait -n -p dead "${pids[@]}"
status=$?
set -e
for i in "${!pids[@]}"; do
  if [ "${pids[i]}" = "${dead:-}" ]; then
    tail_log "$logs/${names[i]}.log"
    echo "fullstack.sh: ${names[i]} exited (status $status); stopping the rest" >&2
  fi
done
exit 1
