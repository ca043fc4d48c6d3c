#!/usr/bin/env bash
# The scan of S5 (20,000 files in 200 folders) read through slowfs at several latencies per
# metadata call: wall time, items per second and peak RSS of `ferry scan` into a fresh catalog,
# one call at a time (--scan-concurrency 1, the walk before parallel listing) and with the
# default (auto: 32 on a FUSE mount).
#   bench/share_scan.sh [DELAY_US...]     (default: 0 500 1000 2000)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
data="${BENCH_DATA:-/tmp/ferry-bench-data}"
work="$(mktemp -d /tmp/ferry-bench-XXXXXX)"
share="$work/share"
cleanup() {
  mountpoint -q "$share" 2>/dev/null && fusermount3 -u -z "$share"
  rm -rf "$work"
}
trap cleanup EXIT
delays=("$@")
((${#delays[@]})) || delays=(0 500 1000 2000)
node "$root/bench/datasets.mjs" S5 "$data/S5"
mkdir -p "$share"

printf '%-9s %-12s %9s %10s %12s\n' delay_us concurrency seconds items_s peak_rss_kb
for delay in "${delays[@]}"; do
  "$root/build/slowfs" "$data/S5" "$share" --delay-us "$delay"
  # The first lookup of each name on a fresh mount is serialised within its folder (a FUSE
  # artifact a NAS does not have): look every name up once, in parallel, before measuring.
  find "$share" -type f -print0 | xargs -0 -P 32 -n 50 stat --format= >/dev/null
  for concurrency in 1 auto; do
    mig="$work/mig-$delay-$concurrency"
    "$ferry" init "$mig" --source "$share" --target "$work/target" >/dev/null
    read -r seconds rss < <({ /usr/bin/time -f '%e %M' "$ferry" scan "$mig" \
      --scan-concurrency "$concurrency" >/dev/null; } 2>&1)
    awk -v d="$delay" -v c="$concurrency" -v s="$seconds" -v r="$rss" \
      'BEGIN { printf "%-9s %-12s %9.2f %10.0f %12s\n", d, c, s, 20200 / s, r }'
    rm -rf "$mig"
  done
  fusermount3 -u "$share"
done
