# shellcheck shell=bash
# PostgreSQL, Redis and Mosquitto as local processes under a directory of ours,
# on loopback only. Source this file; every function returns non-zero on failure.
#
#   servers_start_all DIR MODE [PG_PORT REDIS_PORT MQTT_PORT]   MODE: run | test
#   servers_stop_all DIR
#
# A port given and free is used; a port given but busy, or none given, gets a free
# one. Data under DIR is reused when present. After start these are exported:
#   PEREGRINE_PG_URL, PEREGRINE_REDIS_URL, PEREGRINE_MQTT_URL (what peregrine uses)
#   SERVERS_PG_PORT, SERVERS_REDIS_PORT, SERVERS_MQTT_PORT, SERVERS_PG_DATA,
#   SERVERS_PG_ADMIN_URL (superuser postgres), SERVERS_PG_CTL (pg_ctl args line)
# In run mode Mosquitto requires a login (scripts/lib/mosquitto_auth.sh): the
# accounts live in SERVERS_MQTT_AUTH_DIR (passwords kept there, reused by later
# runs) and these are exported too:
#   SERVERS_MQTT_USER, SERVERS_MQTT_PASSWORD          Peregrine's own account
#   SERVERS_MQTT_SIM_USER, SERVERS_MQTT_SIM_PASSWORD  the simulator (gateway)
# Test mode stays anonymous: the integration tests share that broker.
# Logs go to SERVERS_LOG_DIR if set, else next to each server's data.
# System services of the same servers (default ports 5432/6379/1883) are ignored.

SERVERS_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVERS_REPO_DIR="$(cd "$SERVERS_LIB_DIR/../.." && pwd)"
# shellcheck source=scripts/lib/mosquitto_auth.sh
source "$SERVERS_LIB_DIR/mosquitto_auth.sh"
SERVERS_TIMEOUT="${SERVERS_TIMEOUT:-30}"

servers_is_root() { [[ $(id -u) -eq 0 ]]; }

# True when something accepts connections on 127.0.0.1:PORT.
servers_port_busy() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Prints a port nobody listens on: PREFERRED when given and free, else a free one.
servers_pick_port() {
  local preferred="${1:-}" port
  if [[ -n "$preferred" ]] && ! servers_port_busy "$preferred"; then
    echo "$preferred"
    return 0
  fi
  if port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) &&
    [[ "$port" =~ ^[0-9]+$ ]]; then
    echo "$port"
    return 0
  fi
  for _ in $(seq 1 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if ! servers_port_busy "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "servers: no free port found" >&2
  return 1
}

# servers_wait NAME LOGFILE COMMAND...: retries COMMAND until it succeeds or
# SERVERS_TIMEOUT seconds pass; then prints the end of LOGFILE.
servers_wait() {
  local name="$1" log="$2" deadline=$((SECONDS + SERVERS_TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "servers: $name did not answer within ${SERVERS_TIMEOUT}s; end of $log:" >&2
      tail -n 40 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.2
  done
}

# servers_kill_pidfile PIDFILE COMM: SIGTERM the process named COMM whose pid is
# in PIDFILE, wait for it to end (SIGKILL after 15 s).
servers_kill_pidfile() {
  local pidfile="$1" comm="$2" pid
  [[ -s "$pidfile" ]] || return 0
  pid=$(head -n1 "$pidfile")
  if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm"* ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}

servers_log_file() { # NAME DATA_DIR
  local dir="${SERVERS_LOG_DIR:-$2}"
  mkdir -p "$dir"
  echo "$dir/$1.log"
}

# ---------------------------------------------------------------- PostgreSQL

servers_pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [[ -z "$bin" ]]; then
    bin=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
  fi
  [[ -x "$bin/pg_ctl" ]] || { echo "servers: PostgreSQL binaries not found" >&2; return 1; }
  echo "$bin"
}

# PostgreSQL refuses to run as root: as root, run its tools as user postgres.
servers_as_pg() {
  if servers_is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Prints the data directory to use for DIR: DIR itself, or (as root, when user
# postgres cannot reach DIR, e.g. a checkout under /root) a directory under
# /var/tmp that DIR becomes a symlink to.
servers_pg_datadir() {
  local dir="$1" parent alt
  parent=$(dirname "$dir")
  mkdir -p "$parent"
  if [[ -L "$dir" ]]; then
    readlink -f "$dir"
    return 0
  fi
  if servers_is_root && ! runuser -u postgres -- test -x "$parent"; then
    alt="/var/tmp/peregrine-pg-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)/data"
    mkdir -p "$alt"
    chmod 755 "$(dirname "$alt")"
    [[ -e "$dir" ]] || ln -s "$alt" "$dir"
    echo "$alt"
    return 0
  fi
  mkdir -p "$dir"
  echo "$dir"
}

# pg_start DIR PORT MODE: initdb if needed, start, create role and database
# peregrine. MODE test turns fsync off (throwaway data only).
pg_start() {
  local dir="$1" port="$2" mode="${3:-run}" bin data log sock opts
  bin=$(servers_pg_bin) || return 1
  pg_stop "$dir"
  port=$(servers_pick_port "$port") || return 1
  data=$(servers_pg_datadir "$dir") || return 1
  # initdb wants an empty directory: the log lives next to the data, not in it.
  log=$(servers_log_file postgresql "$(dirname "$data")")
  if servers_is_root && ! runuser -u postgres -- test -x "$(dirname "$log")"; then
    ln -sfn "$(dirname "$data")/postgresql.log" "$log"
    log="$(dirname "$data")/postgresql.log"
  fi
  touch "$log"
  servers_is_root && chown postgres: "$data" "$log"
  chmod 700 "$data"
  if [[ ! -s "$data/PG_VERSION" ]]; then
    local sync=()
    [[ "$mode" == test ]] && sync=(--no-sync)
    if ! LC_ALL=C.UTF-8 servers_as_pg "$bin/initdb" -D "$data" -A trust -U postgres \
      -E UTF8 --locale=C.UTF-8 "${sync[@]}" >"$log.initdb" 2>&1; then
      echo "servers: initdb failed:" >&2
      cat "$log.initdb" >&2
      return 1
    fi
    rm -f "$log.initdb"
  fi
  # Unix sockets have a ~107 byte path limit; fall back to /tmp for deep paths.
  sock="$data"
  if ((${#sock} > 80)); then
    sock=$(mktemp -d /tmp/peregrine-pgsock.XXXXXX)
    servers_is_root && chown postgres: "$sock"
  fi
  opts="-p $port -k $sock -c listen_addresses=127.0.0.1"
  [[ "$mode" == test ]] && opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  # setsid: a Ctrl-C in the terminal must not reach PostgreSQL before Peregrine
  # has drained its readings into it.
  if ! servers_as_pg setsid "$bin/pg_ctl" -D "$data" -l "$log" -o "$opts" -w \
    -t "$SERVERS_TIMEOUT" start >/dev/null 2>&1; then
    echo "servers: PostgreSQL failed to start; end of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
  servers_wait PostgreSQL "$log" "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || return 1
  local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -tAc)
  if [[ -z "$("${psql[@]}" "SELECT 1 FROM pg_roles WHERE rolname = 'peregrine'")" ]]; then
    "${psql[@]}" "CREATE ROLE peregrine LOGIN" || return 1
  fi
  # What a DBA does once: the role the server runs as (owns nothing, so
  # row-level security holds; see docs/security.md), granted to the owner.
  if [[ -z "$("${psql[@]}" "SELECT 1 FROM pg_roles WHERE rolname = 'peregrine_app'")" ]]; then
    "${psql[@]}" "CREATE ROLE peregrine_app NOLOGIN" || return 1
  fi
  "${psql[@]}" "GRANT peregrine_app TO peregrine" || return 1
  # The read-only role of Grafana and other SQL readers (migrations/0012, docs/grafana/).
  if [[ -z "$("${psql[@]}" "SELECT 1 FROM pg_roles WHERE rolname = 'peregrine_reader'")" ]]; then
    "${psql[@]}" "CREATE ROLE peregrine_reader NOLOGIN" || return 1
  fi
  "${psql[@]}" "ALTER ROLE peregrine_reader SET default_transaction_read_only = on" || return 1
  if [[ -z "$("${psql[@]}" "SELECT 1 FROM pg_database WHERE datname = 'peregrine'")" ]]; then
    "${psql[@]}" "CREATE DATABASE peregrine OWNER peregrine" || return 1
  fi
  export SERVERS_PG_PORT="$port" SERVERS_PG_DATA="$data"
  export SERVERS_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  export SERVERS_PG_CTL="$bin/pg_ctl -D $data -l $log -w -t $SERVERS_TIMEOUT -o '$opts'"
  export PEREGRINE_PG_URL="postgresql://peregrine@127.0.0.1:$port/peregrine"
}

pg_stop() {
  local dir="$1" bin data
  [[ -e "$dir" ]] || return 0
  data=$(readlink -f "$dir")
  [[ -f "$data/postmaster.pid" ]] || return 0
  bin=$(servers_pg_bin) || return 1
  servers_as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# --------------------------------------------------------------------- Redis

# redis_start DIR PORT MODE: MODE run persists (append-only file), test doesn't.
redis_start() {
  local dir="$1" port="$2" mode="${3:-run}" log persist
  redis_stop "$dir"
  port=$(servers_pick_port "$port") || return 1
  mkdir -p "$dir"
  log=$(servers_log_file redis "$dir")
  if [[ "$mode" == test ]]; then
    persist=(--save "" --appendonly no)
  else
    persist=(--save "" --appendonly yes --appendfsync everysec)
  fi
  if ! redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$log" "${persist[@]}" >/dev/null 2>&1; then
    echo "servers: Redis failed to start; end of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
  servers_wait Redis "$log" redis_ping "$port" || return 1
  export SERVERS_REDIS_PORT="$port"
  export PEREGRINE_REDIS_URL="redis://127.0.0.1:$port/0"
}

redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

redis_stop() { servers_kill_pidfile "$1/redis.pid" redis-server; }

# ----------------------------------------------------------------- Mosquitto

# servers_secret FILE: prints the secret kept in FILE, creating it (random
# letters and digits, readable by us only) when missing.
servers_secret() {
  local file="$1" s=""
  if [[ ! -s "$file" ]]; then
    while ((${#s} < 24)); do
      s+=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    done
    (umask 077 && echo "${s:0:24}" >"$file") || return 1
  fi
  head -n1 "$file"
}

# mqtt_start DIR PORT MODE: config generated from config/mosquitto.conf.template.
# MODE run turns authentication and the per-device ACL on; test stays anonymous.
mqtt_start() {
  local dir="$1" port="$2" mode="${3:-run}" log template="$SERVERS_REPO_DIR/config/mosquitto.conf.template"
  local probe=()
  mqtt_stop "$dir"
  port=$(servers_pick_port "$port") || return 1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  log=$(servers_log_file mosquitto "$dir")
  sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@LOG@|$log|g" \
    -e "s|@USER@|$(id -un)|g" "$template" >"$dir/mosquitto.conf"
  if [[ "$mode" == run ]]; then
    local auth="$dir/auth" user=peregrine sim_user=peregrine-sim password sim_password
    mkdir -p "$auth"
    password=$(servers_secret "$auth/peregrine-password") &&
      sim_password=$(servers_secret "$auth/sim-password") &&
      mosquitto_auth_setup "$auth" "$user" "$password" "$sim_user" "$sim_password" || return 1
    sed -i -e '/^allow_anonymous /d' "$dir/mosquitto.conf"
    mosquitto_auth_conf "$auth" >>"$dir/mosquitto.conf"
    probe=(-u "$user" -P "$password")
    export SERVERS_MQTT_AUTH_DIR="$auth"
    export SERVERS_MQTT_USER="$user" SERVERS_MQTT_PASSWORD="$password"
    export SERVERS_MQTT_SIM_USER="$sim_user" SERVERS_MQTT_SIM_PASSWORD="$sim_password"
  fi
  if ! mosquitto -c "$dir/mosquitto.conf" -d >>"$log" 2>&1; then
    echo "servers: Mosquitto failed to start; end of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
  # The ACL drops this publish in run mode; the broker still acknowledges it,
  # which is all the probe needs (listening, and the login accepted).
  servers_wait Mosquitto "$log" mosquitto_pub -h 127.0.0.1 -p "$port" "${probe[@]}" -q 1 \
    -t peregrine/ready -m 1 || return 1
  export SERVERS_MQTT_PORT="$port"
  export PEREGRINE_MQTT_URL="tcp://127.0.0.1:$port"
}

mqtt_stop() { servers_kill_pidfile "$1/mosquitto.pid" mosquitto; }

# ---------------------------------------------------------------------- all

servers_start_all() {
  local dir="$1" mode="${2:-run}"
  mkdir -p "$dir"
  pg_start "$dir/pg" "${3:-}" "$mode" &&
    redis_start "$dir/redis" "${4:-}" "$mode" &&
    mqtt_start "$dir/mosquitto" "${5:-}" "$mode"
}

servers_stop_all() {
  local dir="$1"
  mqtt_stop "$dir/mosquitto"
  redis_stop "$dir/redis"
  pg_stop "$dir/pg"
}
