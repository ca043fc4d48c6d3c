#!/usr/bin/env bash
# Installs what ferry needs (Debian packages, then the pinned Node test tools) and builds it.
# Idempotent and quick when everything is present.
# Usage: scripts/setup.sh [BUILD_DIR [TARGET...]]   (the targets to build; all of them by default)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
targets=("${@:2}")

packages=(
  g++ cmake ninja-build pkg-config git clang libclang-rt-14-dev
  libcurl4-openssl-dev libssl-dev libsqlite3-dev sqlite3
  libcli11-dev nlohmann-json3-dev libpugixml-dev libfmt-dev libspdlog-dev
  liburing-dev  # many stats in flight on a network share
  libgtest-dev libgmock-dev libbenchmark-dev
  chromium  # headless, for the HTML report test
  openssl   # a self-signed certificate for the https test
  libfuse3-dev fuse3  # slowfs: a source mount with network latency, for tests and benchmarks
  libpq-dev postgresql  # a shared catalog for many machines; the tests start their own server
  prometheus-cpp-dev    # live metrics (--metrics-listen)
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test tools pinned in package.json / package-lock.json (Azurite, @azure/storage-blob).
stamp="$root/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$root/package-lock.json" -nt "$stamp" ]]; then
  echo "setup: npm ci" >&2
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j 2 ${targets[@]:+--target "${targets[@]}"}
