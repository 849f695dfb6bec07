#!/usr/bin/env bash
# A real two-node SLURM on this one machine, for the tests (tests/slurm): Debian's slurm-wlm and
# munge, slurmctld plus two slurmd emulating node1 (port 17001) and node2 (port 17002); no systemd.
#
#   scripts/system/slurm.sh start [--accounting|--no-accounting]   install if needed, start, wait
#   scripts/system/slurm.sh stop                                   stop what this script started
#   scripts/system/slurm.sh status                                 exit 0 when both nodes answer
#
# --accounting adds slurmdbd on a private MariaDB (sacct works, as on real clusters); the choice is
# remembered for later starts. Idempotent: a second start only waits for the nodes; a changed
# configuration restarts the SLURM daemons (running jobs survive). stop kills only the daemons
# whose pid files this script wrote. Needs root (slurmd runs jobs as their users).
#
# Environment: PZFORGE_SLURM_STATE (state, logs, pid files; /var/tmp/pzforge-slurm), SLURM_CONF
# (/etc/slurm/slurm.conf), PZFORGE_SLURM_CTLD_PORT (16817), PZFORGE_SLURM_NODE_PORT (17001; node2
# gets +1), PZFORGE_SLURM_DBD_PORT (16819), PZFORGE_SLURM_DB_PORT (13306), PZFORGE_SLURM_TIMEOUT
# (seconds to wait for the nodes, 90), PZFORGE_SLURM_ACCOUNTING (1/0, default: the last choice).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STATE="${PZFORGE_SLURM_STATE:-/var/tmp/pzforge-slurm}"
export SLURM_CONF="${SLURM_CONF:-/etc/slurm/slurm.conf}"
CONF_DIR="$(dirname "$SLURM_CONF")"
DBD_CONF="$CONF_DIR/slurmdbd.conf"
CTLD_PORT="${PZFORGE_SLURM_CTLD_PORT:-16817}"
NODE_PORT="${PZFORGE_SLURM_NODE_PORT:-17001}"
DBD_PORT="${PZFORGE_SLURM_DBD_PORT:-16819}"
DB_PORT="${PZFORGE_SLURM_DB_PORT:-13306}"
TIMEOUT="${PZFORGE_SLURM_TIMEOUT:-90}"
NODES=(node1 node2)

say() { echo "slurm.sh: $*"; }
die() { echo "slurm.sh: error: $*" >&2; exit 1; }

# --- helpers ---------------------------------------------------------------------------------
# alive PIDFILE NAME: the pid file names a running process whose command is NAME (a recycled pid
# of another program does not count).
alive() {
  local pid
  [ -f "$1" ] || return 1
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ -z "${2:-}" ] || grep -q -- "$2" "/proc/$pid/comm" 2>/dev/null
}

# stop_pidfile PIDFILE NAME: SIGTERM, wait up to 15 s, then SIGKILL; removes the pid file.
stop_pidfile() {
  local f="$1" name="$2" pid
  if alive "$f" "$name"; then
    pid="$(cat "$f")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { say "$name ($pid) ignored SIGTERM, killing"; kill -9 "$pid" 2>/dev/null || true; }
  fi
  rm -f "$f"
}

# need_port PORT WHAT VAR: fail clearly when another program (another SLURM?) listens on PORT.
need_port() {
  command -v ss >/dev/null || return 0
  if [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; then
    die "port $1 ($2) is taken by another program: $(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:.*' | head -1); set $3 to another port"
  fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]}"
  command -v apt-get >/dev/null || die "${missing[*]} missing and no apt-get (install them yourself)"
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their own daemons (no systemd here; we start what we own).
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1; fi
  say "installing ${missing[*]}"
  local rc=0
  apt-get install -y -q --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 || {
    # the package lists are missing or stale: update once, then retry
    apt-get update -q >>"$STATE/apt.log" 2>&1 &&
      apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$STATE/apt.log" 2>&1
  } || rc=$?
  [ "$own_policy" = 1 ] && rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed (see $STATE/apt.log)"
}

# --- munge -----------------------------------------------------------------------------------
start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge; chown munge:munge /run/munge
  # an earlier version of this script marked its munged this way
  if [ -f "$STATE/started-munge" ]; then cp /run/munge/munged.pid "$STATE/munged.pid" 2>/dev/null || true; rm -f "$STATE/started-munge"; fi
  # A munged that someone else runs is used as it is (and never stopped by us).
  if munge -n </dev/null >/dev/null 2>&1; then return 0; fi
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.25; done
  cp /run/munge/munged.pid "$STATE/munged.pid"
}

# --- accounting: a private MariaDB + slurmdbd ---------------------------------------------------
DB_DIR="$STATE/mysql"  # owned by the mysql user: data, socket, pid file and log
DB_SOCK="$DB_DIR/mysqld.sock"
DB_PID="$DB_DIR/mysqld.pid"

start_db() {
  local pass="$1"
  if [ ! -d "$DB_DIR/mysql" ]; then
    mkdir -p "$DB_DIR"; chown mysql:mysql "$DB_DIR"
    mariadb-install-db --user=mysql --datadir="$DB_DIR" --skip-test-db >"$STATE/mysql-init.log" 2>&1 ||
      die "mariadb-install-db failed (see $STATE/mysql-init.log)"
  fi
  if ! alive "$DB_PID" mariadbd; then
    need_port "$DB_PORT" MariaDB PZFORGE_SLURM_DB_PORT
    # mariadbd does not daemonize: detach it; it writes its own pid file
    setsid runuser -u mysql -- /usr/sbin/mariadbd --datadir="$DB_DIR" --socket="$DB_SOCK" \
      --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$DB_PID" \
      --log-error="$DB_DIR/mysqld.log" --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 60); do
      mariadb --socket="$DB_SOCK" -u root -e "select 1" >/dev/null 2>&1 && break; sleep 0.5
    done
  fi
  mariadb --socket="$DB_SOCK" -u root >/dev/null <<SQL || die "MariaDB not answering (see $DB_DIR/mysqld.log)"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL
}

start_dbd() {
  [ -s "$STATE/db.pass" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$STATE/db.pass"; chmod 600 "$STATE/db.pass"; }
  local pass; pass="$(cat "$STATE/db.pass")"
  start_db "$pass"
  sed -e "s|@STATE@|$STATE|g" -e "s|@DBD_PORT@|$DBD_PORT|g" -e "s|@DB_PORT@|$DB_PORT|g" \
    -e "s|@DB_PASS@|$pass|g" "$here/slurm/slurmdbd.conf.in" > "$DBD_CONF.new"
  chmod 600 "$DBD_CONF.new"; mv "$DBD_CONF.new" "$DBD_CONF"
  if ! alive "$STATE/slurmdbd.pid" slurmdbd; then
    need_port "$DBD_PORT" slurmdbd PZFORGE_SLURM_DBD_PORT
    slurmdbd
    for _ in $(seq 1 40); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  sacctmgr -n list cluster format=cluster 2>/dev/null | grep -qw pzforge || sacctmgr -i add cluster pzforge >/dev/null
  sacctmgr -n list account format=account 2>/dev/null | grep -qw pzforge || sacctmgr -i add account pzforge Description=tests Organization=pzforge >/dev/null
  # every local user that submits in the tests (root; SUDO_USER if any) gets the account
  for user in root ${SUDO_USER:-}; do
    sacctmgr -n list assoc user="$user" account=pzforge format=account 2>/dev/null | grep -qw pzforge ||
      sacctmgr -i add user "$user" Account=pzforge >/dev/null
    sacctmgr -i modify user "$user" set DefaultAccount=pzforge >/dev/null 2>&1 || true
  done
}

# --- SLURM -------------------------------------------------------------------------------------
write_conf() {
  local acct
  if [ "$ACCOUNTING" = 1 ]; then
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
  else
    acct="# No accounting: sacct fails; the Snakemake plugin must use squeue (slurm-status-command).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
  fi
  mkdir -p "$CONF_DIR"
  sed -e "s|@STATE@|$STATE|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
    -e "s|@NODE1_PORT@|$NODE_PORT|g" -e "s|@NODE2_PORT@|$((NODE_PORT + 1))|g" \
    "$here/slurm/slurm.conf.in" | awk -v acct="$acct" '$0 == "@ACCOUNTING@" {print acct; next} {print}' \
    > "$SLURM_CONF.new"
  if cmp -s "$SLURM_CONF.new" "$SLURM_CONF"; then rm "$SLURM_CONF.new"; return 1; fi
  mv "$SLURM_CONF.new" "$SLURM_CONF"
  return 0
}

nodes_up() {
  # every node answers: idle, or busy with jobs (mix/alloc/completing); not down/drained/unknown
  local n
  n=$(sinfo -h -N -o "%N %t" 2>/dev/null | awk '$2 ~ /^(idle|mix|alloc|comp)$/ {print $1}' | sort -u | wc -l)
  [ "$n" -ge "${#NODES[@]}" ]
}

start() {
  mkdir -p "$STATE/ctld"
  apt_install slurm-wlm munge
  [ "$ACCOUNTING" = 1 ] && apt_install mariadb-server slurmdbd
  [ "$(id -u)" = 0 ] || die "need root to run slurmctld and slurmd"
  echo "$ACCOUNTING" > "$STATE/accounting"
  local changed=0
  write_conf && changed=1
  start_munge
  if [ "$ACCOUNTING" = 1 ]; then
    start_dbd
  else
    stop_pidfile "$STATE/slurmdbd.pid" slurmdbd
    stop_pidfile "$DB_PID" mariadbd
  fi
  if [ "$changed" = 1 ] && alive "$STATE/slurmctld.pid" slurmctld; then
    say "configuration changed: restarting slurmctld and slurmd (jobs keep running)"
    for n in "${NODES[@]}"; do stop_pidfile "$STATE/slurmd-$n.pid" slurmd; done
    stop_pidfile "$STATE/slurmctld.pid" slurmctld
    slurmctld
  elif ! alive "$STATE/slurmctld.pid" slurmctld; then
    need_port "$CTLD_PORT" slurmctld PZFORGE_SLURM_CTLD_PORT
    slurmctld -c  # a fresh start forgets jobs of an earlier life of this test cluster
  fi
  for n in "${NODES[@]}"; do
    mkdir -p "$STATE/d-$n"
    if ! alive "$STATE/slurmd-$n.pid" slurmd; then
      need_port "$(sed -n "s/^NodeName=$n .*Port=\([0-9]*\).*/\1/p" "$SLURM_CONF")" "slurmd $n" PZFORGE_SLURM_NODE_PORT
      slurmd -N "$n"
    fi
  done
  local deadline=$((SECONDS + TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if nodes_up; then
      say "up: $(sinfo -h -N -o '%N=%t' | sort -u | tr '\n' ' ')(accounting: $([ "$ACCOUNTING" = 1 ] && echo slurmdbd || echo none))"
      return 0
    fi
    # a node that was down in an earlier life of the cluster comes back here
    for n in "${NODES[@]}"; do scontrol update nodename="$n" state=resume >/dev/null 2>&1 || true; done
    sleep 1
  done
  echo "slurm.sh: error: nodes not up after $TIMEOUT s: $(sinfo -h -N -o '%N=%t(%E)' 2>&1 | tr '\n' ' ')" >&2
  for f in "$STATE/slurmctld.log" "$STATE"/slurmd-node*.log; do
    [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 5 "$f" >&2; }
  done
  exit 1
}

stop() {
  for n in "${NODES[@]}"; do stop_pidfile "$STATE/slurmd-$n.pid" slurmd; done
  stop_pidfile "$STATE/slurmctld.pid" slurmctld
  stop_pidfile "$STATE/slurmdbd.pid" slurmdbd
  stop_pidfile "$DB_PID" mariadbd
  stop_pidfile "$STATE/munged.pid" munged
  say "stopped"
}

status() {
  local ok=0
  for f in "$STATE/slurmctld.pid" "$STATE"/slurmd-node*.pid "$STATE/slurmdbd.pid" "$DB_PID"; do
    [ -f "$f" ] || continue
    name="$(basename "$f" .pid)"
    if alive "$f"; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: dead (stale pid file)"; fi
  done
  if nodes_up; then
    sinfo -h -N -o "%N %t %c cpus %m MB" | sort -u
    echo "accounting: $(cat "$STATE/accounting" 2>/dev/null | sed 's/1/slurmdbd/; s/0/none/')"
  else
    echo "SLURM test cluster not up (scripts/system/slurm.sh start)"; ok=3
  fi
  return "$ok"
}

cmd="${1:-}"; shift || true
ACCOUNTING="${PZFORGE_SLURM_ACCOUNTING:-$(cat "$STATE/accounting" 2>/dev/null || echo 0)}"
for arg in "$@"; do
  case "$arg" in
    --accounting) ACCOUNTING=1 ;;
    --no-accounting) ACCOUNTING=0 ;;
    *) die "unknown option $arg" ;;
  esac
done
case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start [--accounting|--no-accounting] | stop | status" >&2; exit 2 ;;
esac
