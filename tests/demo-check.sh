#!/usr/bin/env bash
# make demo DEMO_PORT=<port>, then the last command make demo prints (make
# demo-down), on this very machine (where dockerd may be a plain process, as on
# CI runners): the demo registry must work in between, and /etc/docker must be
# exactly as it was afterwards (same paths, modes, contents).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-5443}
url=https://127.0.0.1:$port

if docker container inspect dockyard-demo >/dev/null 2>&1; then
  echo "demo-check: a demo is running here; run make demo-down first" >&2
  exit 1
fi
snapshot() {
  find /etc/docker -printf '%p %m\n' 2>/dev/null | sort
  find /etc/docker -type f -exec sha256sum {} + 2>/dev/null | sort
}
before=$(snapshot)

make demo DEMO_PORT="$port"
catalog=$(curl --fail --silent --show-error --cacert .demo/ca.crt -u "$(cat .demo/credentials)" "$url/v2/_catalog")
[[ $catalog == *'"demo/busybox"'* ]] || { echo "demo-check: the catalog lacks demo/busybox: $catalog" >&2; exit 1; }
status=$(curl --silent --output /dev/null --write-out '%{http_code}' --cacert .demo/ca.crt -u demo:wrong "$url/v2/")
[[ $status == 401 ]] || { echo "demo-check: a wrong password got $status, not 401" >&2; exit 1; }
down=$(tail -n 1 .demo/what-now.txt | xargs)
[[ $down == "make demo-down" ]] || { echo "demo-check: make demo's last line is not make demo-down: $down" >&2; exit 1; }
$down

if ! diff <(echo "$before") <(snapshot); then
  echo "demo-check: make demo and make demo-down changed /etc/docker (above)" >&2
  exit 1
fi
echo "demo-check: the demo registry answered, and /etc/docker is as it was before make demo"
