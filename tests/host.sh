#!/usr/bin/env bash
# Bring this Debian or Ubuntu machine to what `make demo` (tests/host.sh demo)
# or `make test` (tests/host.sh test) needs, saying what it installs:
#   - Docker Engine (Debian's docker.io) when there is none, started when none
#     answers: by systemd where it runs the machine, else dockerd in the
#     background (containers, CI runners, WSL);
#   - debootstrap, which makes the Debian base of every test image;
#   - Python's venv module, for .venv;
#   - test only: Go new enough for distribution 3.x and the test programs. A Go
#     older than 1.21 (Debian 12 ships 1.19) cannot switch toolchains by itself:
#     the toolchain GO_TOOLCHAIN is then fetched from the Go module proxy into
#     .cache/go-toolchain, which the Makefile puts first on PATH.
# Nothing is installed or started that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
[[ $what == demo || $what == test ]] || { echo "usage: tests/host.sh demo|test" >&2; exit 2; }
GO_TOOLCHAIN=go1.26.8

packages=()
command -v dockerd >/dev/null || packages+=(docker.io)
command -v debootstrap >/dev/null || packages+=(debootstrap)
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
[[ $what == demo ]] || command -v go >/dev/null || packages+=(golang-go)
if ((${#packages[@]})); then
  echo "Installing from the distribution's archive: ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [[ -d /run/systemd/system ]] && systemctl cat docker.service >/dev/null 2>&1; then
    echo "Starting Docker Engine: systemctl start docker"
    systemctl start docker
  else
    echo "Starting Docker Engine: dockerd in the background, log in /var/log/dockerd.log"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  if ! docker info >/dev/null 2>&1; then
    echo "Docker Engine did not answer within a minute:" >&2
    tail -n 20 /var/log/dockerd.log >&2 2>/dev/null || true
    exit 1
  fi
fi

if [[ $what == test && ! -x .cache/go-toolchain/bin/go ]]; then
  minor=$(go version | sed -nE 's/^go version go1\.([0-9]+).*/\1/p')
  if ((${minor:-0} < 21)); then
    echo "Go $(go version | cut -d' ' -f3) cannot switch toolchains: fetching $GO_TOOLCHAIN from the Go module proxy"
    module="golang.org/toolchain@v0.0.1-$GO_TOOLCHAIN.$(go env GOOS)-$(go env GOARCH)"
    dir=$(cd /tmp && GOFLAGS=-modcacherw go mod download -json "$module" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')
    mkdir -p .cache
    ln -sfn "$dir" .cache/go-toolchain
    chmod +x .cache/go-toolchain/bin/* .cache/go-toolchain/pkg/tool/*/*
  fi
fi
