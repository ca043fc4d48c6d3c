#!/usr/bin/env bash
# A no-op sync on a PostgreSQL catalog whose drift check (the listing of the target) is shared:
# one `ferry sync` alone against three started together (one leads, two help), each listing one
# page after another (--scan-concurrency 1). The source is a folder of 50,000 files of 16 bytes
# in 8 folders of 6,250 (each folder more than one page of 5,000 blobs: the plan makes it a
# part), copied once to an in-memory Azurite. A delay proxy in front of Azurite adds 0 or 200 ms
# to every request (DELAYS). Times from the start to the end of every sync (the helpers end with
# the one they help); medians of REPEAT rounds.
#
#   bench/shared_drift.sh            # FILES=50000 REPEAT=3 DELAYS="0 200"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
files="${FILES:-50000}"
repeat="${REPEAT:-3}"
delays="${DELAYS:-0 200}"
work="$(mktemp -d /dev/shm/ferry-drift-XXXXXX)"
source "$root/bench/azurite.sh"
source "$root/bench/postgres.sh"
proxy_pid=""
cleanup() {
  stop_azurite
  stop_postgres
  [[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start_postgres
start_azurite
BENCH_CONNECTION_STRING="$AZURE_STORAGE_CONNECTION_STRING" node "$root/bench/azure.mjs" \
  create bench >/dev/null
node "$root/bench/delay_proxy.mjs" "$port" >"$work/proxy.json" 2>/dev/null &
proxy_pid=$!
for _ in $(seq 200); do [[ -s $work/proxy.json ]] && break; sleep 0.05; done
azproxy="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).port)' \
  "$work/proxy.json")"
export AZURE_STORAGE_CONNECTION_STRING="${AZURE_STORAGE_CONNECTION_STRING/:$port\//:$azproxy/}"

python3 - "$work/src" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"dept{i % 8}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.dat"), "w") as f:
        f.write(f"{i:015d}\n")
PY
m="postgresql://ferry@127.0.0.1:$pgport/postgres?migration=drift"
"$ferry" init "$m" --source "$work/src" \
  --target "http://127.0.0.1:$azproxy/devstoreaccount1/bench" >/dev/null
echo "copying $files files to Azurite" >&2
"$ferry" copy "$m" >/dev/null 2>&1

# Runs N syncs at once; prints the seconds until all ended (helpers end with their sync) and
# the parts the leading one checked itself (the one that printed its delta).
syncs() {
  local n=$1 pids=() start parts=all
  start=$(date +%s.%N)
  for i in $(seq "$n"); do
    "$ferry" sync "$m" --scan-concurrency 1 >"$work/sync.$i" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  printf '%.2f ' "$(echo "$(date +%s.%N) - $start" | bc)"
  for i in $(seq "$n"); do
    if grep -q '^delta: ' "$work/sync.$i"; then
      parts="$(grep -o 'target in [0-9]* parts: [0-9]*' "$work/sync.$i" | sed 's/.*: //' || true)"
    fi
  done
  echo "${parts:-all}"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| delay per request | no-op sync alone | parts it checked | three syncs together | parts the leader checked |"
echo "|---|---|---|---|---|"
for delay in $delays; do
  curl -s "http://127.0.0.1:$azproxy/__delay/$delay" >/dev/null
  alone=() together=() parts1="" parts3=""
  for _ in $(seq "$repeat"); do
    read -r s p < <(syncs 1); alone+=("$s"); parts1+="$p "
    read -r s p < <(syncs 3); together+=("$s"); parts3+="$p "
  done
  echo "| $delay ms | $(median "${alone[@]}") | $parts1| $(median "${together[@]}") | $parts3|"
done
# Every sync changed nothing, and found nothing.
"$ferry" status "$m" --json 2>/dev/null | node -e '
  const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const moved = s.sync_deltas.filter((d) => d.new || d.changed || d.deleted);
  console.error(`copied files: ${s.states.copied.files}; sync passes with a delta: ${moved.length}`);
  if (s.states.copied.files !== Number(process.argv[1]) || moved.length) process.exit(1);' "$files"
