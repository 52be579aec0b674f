#!/usr/bin/env bash
# The journey "try it" (docs/journeys/try-it/commands.sh), as its guide shows
# it, on this very machine (where dockerd may be a plain process, as on CI
# runners), on a port of its own: make demo gets DEMO_PORT=<port>, the other
# commands the demo's address on it in place of 127.0.0.1:5443. Before the
# last command (make demo-down), the commands make demo printed must be the
# journey's, and the registry must hold both pushes and refuse a wrong
# password; after it, /etc/docker must be exactly as it was (same paths,
# modes, contents) and no image tag of the demo's address may be left. How
# long make demo took and what it holds on disk go to reports/timings/
# (make-demo), which the README shows from tests/timings.json.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-5443}
address=127.0.0.1:$port
url=https://$address
fail() { echo "demo-check: $*" >&2; exit 1; }

if docker container inspect dockyard-demo >/dev/null 2>&1; then
  fail "a demo is running here; run make demo-down first"
fi
snapshot() {
  find /etc/docker -printf '%p %m\n' 2>/dev/null | sort
  find /etc/docker -type f -exec sha256sum {} + 2>/dev/null | sort
}
tags() { docker image ls --format '{{.Repository}}:{{.Tag}}' | awk -v prefix="$address/" 'index($0, prefix) == 1 && !/:<none>$/'; }
before=$(snapshot)

mapfile -t typed < <(grep -v -e '^#' -e '^$' docs/journeys/try-it/commands.sh | sed "s/127\.0\.0\.1:5443/$address/g")
[[ ${typed[0]} == "make demo" && ${typed[-1]} == "make demo-down" ]] \
  || fail "the journey does not start with make demo and end with make demo-down"
export DEMO_PORT=$port
# make demo timed (its images are built already), for the README.
echo "demo-check: \$ ${typed[0]}"
python3 tests/timings.py run make-demo -- bash -euo pipefail -c "${typed[0]}"
for command in "${typed[@]:1:${#typed[@]}-2}"; do
  echo "demo-check: \$ $command"
  bash -euo pipefail -c "$command"
done
# What the demo holds on disk: its images (each with the layers it shares), their
# archives, the Python environment and the sandbox's own writes.
images=$(($(docker image inspect --format '{{.Size}}' dockyard-test/systemd:bookworm dockyard-test/registry:2 \
  dockyard-test/busybox:latest | paste -sd+)))
files=$(du -sb --total .venv .cache/images/registry-2.tar .cache/images/busybox.tar | tail -1 | cut -f1)
sandbox=$(docker container inspect --size --format '{{.SizeRw}}' dockyard-demo)
python3 tests/timings.py note make-demo disk_bytes=$((images + files + sandbox))

printed=$(grep -v -e '^$' .demo/what-now.txt | sed -n 's/^  //p' | grep -v -e '^ ' || true)
expected=$(printf '%s\n' "${typed[@]:1}")
[[ $printed == "$expected" ]] || fail "make demo printed other commands than the journey's: $printed"
catalog=$(curl --fail --silent --show-error --cacert .demo/ca.crt -u "$(cat .demo/credentials)" "$url/v2/_catalog")
[[ $catalog == *'"demo/busybox"'* && $catalog == *'"team/busybox"'* ]] \
  || fail "the catalog lacks demo/busybox or team/busybox: $catalog"
status=$(curl --silent --output /dev/null --write-out '%{http_code}' --cacert .demo/ca.crt -u demo:wrong "$url/v2/")
[[ $status == 401 ]] || fail "a wrong password got $status, not 401"

echo "demo-check: \$ ${typed[-1]}"
${typed[-1]}
if ! diff <(echo "$before") <(snapshot); then
  fail "make demo and make demo-down changed /etc/docker (above)"
fi
[[ -z $(tags) ]] || fail "make demo-down left image tags of $address: $(tags)"
echo "demo-check: the journey ran as its guide shows it, and /etc/docker is as it was before make demo"
