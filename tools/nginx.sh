#!/usr/bin/env bash
# Debian's nginx, for the ingress-nginx oracle's real nginx (tests/integration/nginx_oracle.py):
# installed once when missing (needs root and Debian's package mirror). Only the binary is used;
# the package's own service is not started (policy-rc.d) and is left disabled.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "nginx: nginx is missing; install Debian's nginx package (apt-get install nginx)" >&2
  exit 1
fi
echo "nginx: installing Debian's nginx package"
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
/usr/sbin/nginx -v
