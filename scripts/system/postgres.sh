#!/usr/bin/env bash
# A PostgreSQL server for the registry tests: Debian's postgresql, a project-owned cluster on
# 127.0.0.1:54329, no systemd. Idempotent.  Usage: postgres.sh start|stop|url|status
set -euo pipefail
PORT="${PZFORGE_PG_PORT:-54329}"
DATA="${PZFORGE_PG_DATA:-/var/tmp/pzforge-pg}"
USER_NAME=pzforge
PASSWORD=pzforge
DB=pzforge_test
URL="postgresql+psycopg://${USER_NAME}:${PASSWORD}@127.0.0.1:${PORT}/${DB}"

pg_bin() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$v" ] && echo "/usr/lib/postgresql/$v/bin"
}

install() {
  if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    if [ "$(id -u)" != 0 ]; then echo "postgres.sh: need root to install postgresql" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql >/dev/null
    }
  fi
}

running() { as_pg "$(pg_bin)/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

as_pg() { runuser -u postgres -- "$@"; }

start() {
  install
  local bin; bin=$(pg_bin)
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"; chown postgres:postgres "$DATA"; chmod 700 "$DATA"
    local pw; pw=$(mktemp); echo postgres > "$pw"; chown postgres "$pw"
    as_pg "$bin/initdb" -D "$DATA" -A scram-sha-256 --pwfile="$pw" -U postgres >/dev/null
    rm -f "$pw"
  fi
  if ! as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
      -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
  fi
  PGPASSWORD=postgres "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${USER_NAME}') THEN
    CREATE ROLE ${USER_NAME} LOGIN CREATEDB PASSWORD '${PASSWORD}';
  END IF;
END \$\$;
SQL
  if ! PGPASSWORD=postgres "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='${DB}'" | grep -q 1; then
    PGPASSWORD=postgres "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -q -c "CREATE DATABASE ${DB} OWNER ${USER_NAME}"
  fi
  echo "postgres.sh: PostgreSQL running: $URL"
}

stop() {
  local bin; bin=$(pg_bin) || true
  if [ -n "$bin" ] && [ -f "$DATA/PG_VERSION" ]; then
    as_pg "$bin/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  status) if [ -n "$(pg_bin)" ] && running; then echo running; else echo stopped; exit 1; fi ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
