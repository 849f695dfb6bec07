#!/usr/bin/env bash
# Install and start the system services the tests use (PostgreSQL, a local SLURM).
# Idempotent; run as root on Debian. Each service script skips itself with a reason when it cannot run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for svc in postgres slurm chromium; do
  if [ -x "$here/$svc.sh" ]; then
    "$here/$svc.sh" start || echo "warning: $svc could not be started; its tests will be skipped" >&2
  fi
done
