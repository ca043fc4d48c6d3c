#!/usr/bin/env bash
# How closely ferry's throttles hold their caps over a long run: a copy of the S2 dataset (1 GiB)
# capped in bytes per second, and of S1 (5,000 files) capped in requests per second, each
# against a fresh in-memory Azurite; the achieved rate over the whole copy is compared with the
# cap. The target: within 10% averaged over 30 s or more.
#
#   bench/throttle_accuracy.sh [RATE] [OPS]     (default 25MiB/s and 150/s: about 40 s and 33 s)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
data="${BENCH_DATA:-/tmp/ferry-bench-data}"
rate="${1:-25MiB/s}"
ops="${2:-150/s}"
work="$(mktemp -d /tmp/ferry-throttle-XXXXXX)"
source "$root/bench/azurite.sh"
trap 'stop_azurite; rm -rf "$work"' EXIT

# copy_capped DATASET OPTION VALUE: prints the copy's wall time in seconds.
copy_capped() {
  node "$root/bench/datasets.mjs" "$1" "$data/$1"
  start_azurite
  "$ferry" init "$work/$1" --source "$data/$1" \
    --target "http://127.0.0.1:$port/devstoreaccount1/throttle" >/dev/null
  "$ferry" scan "$work/$1" >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  "$ferry" copy "$work/$1" "$2" "$3" >"$work/$1.out"
  t1=$(date +%s.%N)
  stop_azurite  # this runs in a command substitution: the script's trap cannot see the emulator
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

seconds=$(copy_capped S2 --max-bandwidth "$rate")
bytes=$((4 * 256 * 1024 * 1024))
cap=$(node -e '
  const m = /^([\d.]+)\s*(B|KiB|MiB|GiB|KB|MB|GB)\/s$/i.exec(process.argv[1]);
  const unit = {b:1,kib:1024,mib:1048576,gib:1073741824,kb:1e3,mb:1e6,gb:1e9}[m[2].toLowerCase()];
  console.log(m[1] * unit)' "$rate")
awk -v s="$seconds" -v b="$bytes" -v c="$cap" -v r="$rate" 'BEGIN {
  printf "bandwidth cap %s: 1 GiB in %.2f s = %.2f MiB/s, %.1f%% of the cap\n", r, s, b / s / 1048576, 100 * b / s / c }'
tail -1 "$work/S2.out"

seconds=$(copy_capped S1 --max-ops "$ops")
# Each file is one request (Put Blob); the copy also makes a handful of others.
awk -v s="$seconds" -v o="${ops%/s}" 'BEGIN {
  printf "operation cap %s/s: 5,000 files in %.2f s = %.1f files/s, %.1f%% of the cap\n", o, s, 5000 / s, 100 * 5000 / s / o }'
tail -1 "$work/S1.out"
