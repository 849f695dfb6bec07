#!/usr/bin/env bash
# Debian's headless Chromium, used by the tests that open the site and the provenance reports like
# a user would, and axe-core (npm) for the web tests' accessibility checks.
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
    chromium --version
    # axe-core (the accessibility checker the web tests run in the page), from the npm registry
    root="$(cd "$(dirname "$0")/../.." && pwd)"
    if command -v npm >/dev/null && [ ! -f "$root/tests/web/node_modules/axe-core/axe.min.js" ]; then
      (cd "$root/tests/web" && npm install --no-audit --no-fund >/dev/null) \
        || echo "chromium.sh: axe-core not installed; the accessibility checks will be skipped" >&2
    fi ;;
  status) command -v chromium && chromium --version ;;
  *) echo "usage: $0 start|status" >&2; exit 2 ;;
esac
