#!/usr/bin/env bash
# Debian's headless Chromium, used by the test that opens a provenance report like a user would.
# Idempotent.  Usage: chromium.sh start|status
set -euo pipefail
case "${1:-start}" in
  start)
    if ! command -v chromium >/dev/null; then
      if [ "$(id -u)" != 0 ]; then echo "chromium.sh: need root to install chromium" >&2; exit 1; fi
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
      }
    fi
    chromium --version ;;
  status) command -v chromium && chromium --version ;;
  *) echo "usage: $0 start|status" >&2; exit 2 ;;
esac
