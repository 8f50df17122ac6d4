#!/usr/bin/env bash
# Headless Chromium for the fleet report's browser test: Debian's chromium package, installed
# once when missing (needs root and Debian's package mirror).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "browser: chromium is missing; install Debian's chromium package (apt-get install chromium)" >&2
  exit 1
fi
echo "browser: installing Debian's chromium package"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
