#!/usr/bin/env bash
# Installs what the throughput benchmark needs on top of scripts/setup.sh: the peers it runs on
# the same data (rclone from Debian; AzCopy from the npm registry, whose binary needs Debian's
# libsecret-1-0), GNU time for peak RSS, and curl for the raw-upload baseline. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" "${1:-$root/build}"

packages=(rclone libsecret-1-0 time curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench setup: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$root/bench/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$root/bench/package-lock.json" -nt "$stamp" ]]; then
  echo "bench setup: npm ci (AzCopy)" >&2
  (cd "$root/bench" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The package ships AzCopy without the execute bit.
chmod +x "$root/bench/node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64"
