#!/usr/bin/env bash
# Peak RSS and wall time of `ferry scan` (first scan, then a no-op rescan) over generated trees
# of empty files, to show that scan memory does not grow with the item count.
#   bench/scan_memory.sh [COUNTS...]     (default: 30000 300000)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
work="$(mktemp -d /tmp/ferry-bench-XXXXXX)"
trap 'rm -rf "$work"' EXIT
counts=("$@")
((${#counts[@]})) || counts=(30000 300000)

printf '%-10s %-8s %10s %12s\n' items scan seconds peak_rss_kb
for n in "${counts[@]}"; do
  src="$work/src-$n"
  node -e '
    const fs = require("fs"); const [root, n] = [process.argv[1], +process.argv[2]];
    for (let i = 0; i < n; i++) {
      const e = Math.floor(i / 1000), dir = `${root}/d${e % 30}/e${e}`;
      if (i % 1000 === 0) fs.mkdirSync(dir, { recursive: true });
      fs.closeSync(fs.openSync(`${dir}/f${i}`, "w"));
    }' "$src" "$n"
  "$ferry" init "$work/mig-$n" --source "$src" --target "$work/target-$n" >/dev/null
  for pass in first no-op; do
    out="$( { /usr/bin/time -f '%e %M' "$ferry" scan "$work/mig-$n" >/dev/null; } 2>&1 )"
    printf '%-10s %-8s %10s %12s\n' "$n" "$pass" $out
  done
done
