#!/usr/bin/env bash
# A real two-node SLURM on this machine for tests: Debian slurm-wlm + munge, slurmctld and two
# slurmd (node1, node2), no systemd. Stops only the daemons it started (pid files).
# Usage: slurm.sh start|stop|status
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STATE="${PZFORGE_SLURM_STATE:-/var/tmp/pzforge-slurm}"
CONF_DIR=/etc/slurm
NODES=(node1 node2)

install() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ]; then echo "slurm.sh: need root to install slurm-wlm and munge" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null 2>&1 || {
      apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null
    }
  fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
  [ -f /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  mkdir -p /run/munge; chown munge:munge /run/munge
  if ! alive /run/munge/munged.pid && ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
    touch "$STATE/started-munge"
  fi
}

start() {
  install
  mkdir -p "$STATE/ctld" "$CONF_DIR"
  sed "s|@STATE@|$STATE|g" "$here/slurm/slurm.conf.in" > "$CONF_DIR/slurm.conf"
  start_munge
  alive "$STATE/slurmctld.pid" || slurmctld -c
  for n in "${NODES[@]}"; do
    mkdir -p "$STATE/d-$n"
    alive "$STATE/slurmd-$n.pid" || slurmd -N "$n"
  done
  for _ in $(seq 1 60); do
    idle=$(sinfo -h -N -o "%N %t" 2>/dev/null | awk '$2 ~ /^(idle|mix|alloc)/' | wc -l)
    if [ "$idle" -ge "${#NODES[@]}" ]; then
      echo "slurm.sh: SLURM up: $(sinfo -h -N -o '%N:%t' | tr '\n' ' ')"
      return 0
    fi
    for n in "${NODES[@]}"; do scontrol update nodename="$n" state=resume >/dev/null 2>&1 || true; done
    sleep 1
  done
  echo "slurm.sh: nodes not idle after 60 s: $(sinfo -N 2>&1 | tr '\n' ' '); logs in $STATE" >&2
  exit 1
}

stop() {
  for f in "$STATE"/slurmd-*.pid "$STATE/slurmctld.pid"; do
    [ -f "$f" ] || continue
    alive "$f" && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  if [ -f "$STATE/started-munge" ]; then
    pkill -x munged 2>/dev/null || true
    rm -f "$STATE/started-munge"
  fi
}

status() {
  alive "$STATE/slurmctld.pid" && sinfo -h -N -o "%N %t" && return 0
  echo stopped; return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
