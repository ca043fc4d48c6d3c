#!/usr/bin/env bash
# A Blob source's listing shared by the scans of three processes on a PostgreSQL catalog: one
# `ferry scan` alone against three started together (one scans, two help list the source), then
# a no-op `ferry sync` alone against three (the source's listing and the target's drift check
# both shared), each process listing one page after another (--scan-concurrency 1). The source is
# a container of 50,000 blobs of 16 bytes in 8 folders of 6,250 (each folder more than one page
# of 5,000: the plan makes it a part), in an in-memory Azurite, copied once to another container
# of it. A delay proxy in front of Azurite adds 0, 200 or 1000 ms to every request (DELAYS).
# Seconds from the start to the end of every process; medians of REPEAT rounds. For comparison,
# the same scan alone on a SQLite catalog: one flat listing of the container, as a scan was on
# PostgreSQL too before its listing was shared; and the scan alone on PostgreSQL with
# --split-listing never (the catalog's own cost). Then the same with --scan-concurrency auto (a
# shared listing's parts 4 at once). --split-listing is auto throughout: whether the listing is
# split is the plan's choice (the helpers' "parts listed" say whether it was). Any process that
# fails, and any scan that finds the source changed, fails the benchmark.
#
#   bench/shared_object_listing.sh   # FILES=50000 REPEAT=3 DELAYS="0 200 1000"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
files="${FILES:-50000}"
repeat="${REPEAT:-3}"
delays="${DELAYS:-0 200 1000}"
work="$(mktemp -d /dev/shm/ferry-objlist-XXXXXX)"
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
for c in source copy; do
  BENCH_CONNECTION_STRING="$AZURE_STORAGE_CONNECTION_STRING" node "$root/bench/azure.mjs" \
    create "$c" >/dev/null
done
node "$root/bench/delay_proxy.mjs" "$port" >"$work/proxy.json" 2>/dev/null &
proxy_pid=$!
for _ in $(seq 200); do [[ -s $work/proxy.json ]] && break; sleep 0.05; done
azproxy="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).port)' \
  "$work/proxy.json")"
export AZURE_STORAGE_CONNECTION_STRING="${AZURE_STORAGE_CONNECTION_STRING/:$port\//:$azproxy/}"
export FERRY_SOURCE_CONNECTION_STRING="$AZURE_STORAGE_CONNECTION_STRING"

python3 - "$work/src" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"dept{i % 8}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.dat"), "w") as f:
        f.write(f"{i:015d}\n")
PY
echo "putting $files blobs in the source container" >&2
"$ferry" init "$work/fill" --source "$work/src" \
  --target "http://127.0.0.1:$azproxy/devstoreaccount1/source" >/dev/null
"$ferry" copy "$work/fill" >/dev/null 2>&1
m="postgresql://ferry@127.0.0.1:$pgport/postgres?migration=objlist"
"$ferry" init "$m" --source "http://127.0.0.1:$azproxy/devstoreaccount1/source" \
  --target "http://127.0.0.1:$azproxy/devstoreaccount1/copy" >/dev/null
echo "copying them to another container" >&2
"$ferry" copy "$m" >/dev/null 2>&1
"$ferry" init "$work/flat" --source "http://127.0.0.1:$azproxy/devstoreaccount1/source" \
  --target "http://127.0.0.1:$azproxy/devstoreaccount1/copy" >/dev/null
"$ferry" scan "$work/flat" >/dev/null 2>&1

# Runs N `ferry COMMAND` at once on migration MIG (with --scan-concurrency CONC, 1 unless
# given); prints the seconds until all ended, and the
# parts of the source's listing the helpers listed ("listed N parts"). Fails if any process
# failed, or a scan found the source changed.
together() {
  local command=$1 n=$2 mig=$3 conc=${4:-1} pids=() start helped=0
  start=$(date +%s.%N)
  for i in $(seq "$n"); do
    "$ferry" "$command" "$mig" --scan-concurrency "$conc" >"$work/out.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "ferry $command failed:" >&2
      cat "$work/out.$((i + 1))" >&2
      return 1
    fi
  done
  printf '%.2f ' "$(echo "$(date +%s.%N) - $start" | bc)"
  for i in $(seq "$n"); do
    if [[ $command == scan ]] && grep -q '^catalog entries' "$work/out.$i" &&
      ! grep -q ': 0 new, 0 changed, 0 vanished' "$work/out.$i"; then
      echo "the scan found the source changed:" >&2
      cat "$work/out.$i" >&2
      return 1
    fi
    local listed
    listed="$(grep -o '^listed [0-9]* part' "$work/out.$i" | grep -o '[0-9]*' || true)"
    helped=$((helped + ${listed:-0}))
  done
  echo "$helped"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| delay per request | scan alone, SQLite (flat) | scan alone, never split | scan alone | three scans | parts the helpers listed | scan alone, auto | three scans, auto | parts the helpers listed | no-op sync alone | three syncs | sync alone, auto | three syncs, auto | parts the helpers listed |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for delay in $delays; do
  curl -s "http://127.0.0.1:$azproxy/__delay/$delay" >/dev/null
  flat=() never=() scan1=() scan3=() auto1=() auto3=() sync1=() sync3=() async1=() async3=()
  hs="" ha="" hy=""
  for _ in $(seq "$repeat"); do
    r=$(together scan 1 "$work/flat"); read -r s _ <<<"$r"; flat+=("$s")
    r=$(FERRY_SPLIT_LISTING=never together scan 1 "$m"); read -r s _ <<<"$r"; never+=("$s")
    r=$(together scan 1 "$m"); read -r s _ <<<"$r"; scan1+=("$s")
    r=$(together scan 3 "$m"); read -r s h <<<"$r"; scan3+=("$s"); hs+="$h "
    r=$(together scan 1 "$m" auto); read -r s _ <<<"$r"; auto1+=("$s")
    r=$(together scan 3 "$m" auto); read -r s h <<<"$r"; auto3+=("$s"); ha+="$h "
    r=$(together sync 1 "$m"); read -r s _ <<<"$r"; sync1+=("$s")
    r=$(together sync 3 "$m"); read -r s _ <<<"$r"; sync3+=("$s")
    r=$(together sync 1 "$m" auto); read -r s _ <<<"$r"; async1+=("$s")
    r=$(together sync 3 "$m" auto); read -r s h <<<"$r"; async3+=("$s"); hy+="$h "
  done
  echo "| $delay ms | $(median "${flat[@]}") | $(median "${never[@]}") | $(median "${scan1[@]}") | $(median "${scan3[@]}") | $hs| $(median "${auto1[@]}") | $(median "${auto3[@]}") | $ha| $(median "${sync1[@]}") | $(median "${sync3[@]}") | $(median "${async1[@]}") | $(median "${async3[@]}") | $hy|"
done
# Every sync changed nothing.
"$ferry" status "$m" --json 2>/dev/null | node -e '
  const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const moved = s.sync_deltas.filter((d) => d.new || d.changed || d.deleted);
  console.error(`copied files: ${s.states.copied.files}; sync passes with a delta: ${moved.length}`);
  if (s.states.copied.files !== Number(process.argv[1]) || moved.length) process.exit(1);' "$files"
