#!/usr/bin/env bash
# What a PostgreSQL catalog costs against SQLite, with a target that is not the bottleneck:
# S1's shape (5,000 files of 1-64 KiB in 50 folders) copied to a folder on tmpfs, scan and copy
# timed separately, for each catalog in turn; then the same copy shared by 1, 2 and 4 workers
# (ferry copy processes at once on one PostgreSQL migration): items recorded per second. Starts
# its own PostgreSQL (Debian's, initdb into a temporary folder, on a free loopback port; as the
# postgres user when run as root).
#
#   bench/catalog_overhead.sh            # REPEAT=3 rounds, medians printed
#   WORKERS="1 2 4" bench/catalog_overhead.sh
#   TARGET=azurite bench/catalog_overhead.sh   # S1 to a fresh in-memory Azurite per copy instead
#                                              # of tmpfs (WORKERS="" to skip the workers)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
repeat="${REPEAT:-3}"
work="$(mktemp -d /dev/shm/ferry-catalog-XXXXXX)"
source "$root/bench/postgres.sh"
cleanup() {
  stop_postgres
  rm -rf "$work"
}
trap cleanup EXIT
start_postgres

# S1's shape, generated once.
src="$work/src"
python3 - "$src" <<'PY'
import os, random, sys
random.seed(1)
for i in range(5000):
    d = os.path.join(sys.argv[1], f"d{i % 50:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(random.randint(1024, 65536)))
PY

seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
target_kind="${TARGET:-tmpfs}"
if [[ $target_kind == azurite ]]; then
  source "$root/bench/azurite.sh"
  trap 'stop_azurite; cleanup' EXIT
fi
# Sets $target to a new, empty target for the next copy (an Azurite restarted in memory: it is
# the bottleneck). Not in a subshell: the emulator's pid and credentials stay with this shell.
new_target() {
  if [[ $target_kind == azurite ]]; then
    start_azurite
    BENCH_CONNECTION_STRING="$AZURE_STORAGE_CONNECTION_STRING" node "$root/bench/azure.mjs" \
      create bench >/dev/null
    target="http://127.0.0.1:$port/devstoreaccount1/bench/s1"
  else
    rm -rf "$work/target"
    target="$work/target"
  fi
}
declare -A scan copy
for round in $(seq "$repeat"); do
  for catalog in sqlite postgres; do
    rm -rf "$work/mig"
    new_target
    if [[ $catalog == sqlite ]]; then mig="$work/mig"; else
      mig="postgresql://ferry@127.0.0.1:$pgport/postgres?migration=r$round"; fi
    "$ferry" init "$mig" --source "$src" --target "$target" >/dev/null
    scan[$catalog]+="$(seconds "$ferry" scan "$mig") "
    copy[$catalog]+="$(seconds "$ferry" copy "$mig") "
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-9s %10s %10s\n' catalog "scan (s)" "copy (s)"
for catalog in sqlite postgres; do
  printf '%-9s %10.2f %10.2f\n' "$catalog" "$(median "${scan[$catalog]}")" "$(median "${copy[$catalog]}")"
done

# Workers: N copy processes at once on one migration; the scan is made first, alone.
workers_list="${WORKERS-1 2 4}"
declare -A fleet
for round in $(seq "$repeat"); do
  for n in $workers_list; do
    new_target
    mig="postgresql://ferry@127.0.0.1:$pgport/postgres?migration=w$n-r$round"
    "$ferry" init "$mig" --source "$src" --target "$target" >/dev/null
    "$ferry" scan "$mig" >/dev/null
    start=$(date +%s.%N)
    pids=()
    for _ in $(seq "$n"); do "$ferry" copy "$mig" >/dev/null & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid"; done
    fleet[$n]+="$(echo "$(date +%s.%N) - $start" | bc) "
    if [[ $target_kind == tmpfs ]]; then
      copied=$(find "$work/target" -type f | wc -l)
      [[ $copied -eq 5000 ]] || { echo "workers=$n copied $copied of 5000" >&2; exit 1; }
    fi
  done
done
printf '\n%-9s %10s %14s\n' workers "copy (s)" "items/s"
for n in $workers_list; do
  t="$(median "${fleet[$n]}")"
  printf '%-9s %10.2f %14.0f\n' "$n" "$t" "$(echo "5050 / $t" | bc -l)"
done
