#!/usr/bin/env bash
# ferry against AzCopy, rclone and raw curl on the same data, each tool with a fresh in-memory
# Azurite of its own: wall time, CPU seconds (user + system) and peak RSS of the tool's process,
# and what landed in the target (blobs, bytes, blobs with an MD5), counted with
# @azure/storage-blob.
#
#   bench/setup.sh                       # once: ferry, rclone, AzCopy, GNU time
#   bench/throughput.sh [DATASET...]     # S1 S2 S3 (default), S4
#
#   S1  5,000 files of 1-64 KiB in 50 folders            copy
#   S2  4 files of 256 MiB                               copy
#   S3  50,000 tiny files                                copy, then a no-op sync
#   S4  1,000,000 empty files (ferry only, local target) copy, then no-op syncs of 250k/500k/1M
#   S5  20,000 files of 1-8 KiB in 200 folders, read through slowfs (a network share with
#       DELAY_US microseconds, default 1000, before every metadata call and open)
#                                                        copy, then a no-op sync (ferry: and a scan)
#
# TOOLS="ferry curl azcopy rclone" picks the tools; REPEAT=3 rounds (medians are printed at the
# end, with ferry's ratio to raw curl and to the faster peer); FERRY_ARGS adds options to ferry;
# BENCH_DATA keeps the generated datasets between runs (default /tmp/ferry-bench-data).
# Every tool uses its defaults except what makes it comparable: MD5 on (AzCopy --put-md5;
# rclone and ferry store it by default), curl uploads with at most 16 transfers in parallel.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
azcopy="$root/bench/node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64"
data="${BENCH_DATA:-/tmp/ferry-bench-data}"
read -r -a tools <<<"${TOOLS:-ferry curl azcopy rclone}"
read -r -a ferry_args <<<"${FERRY_ARGS:-}"
repeat="${REPEAT:-3}"
datasets=("$@")
((${#datasets[@]})) || datasets=(S1 S2 S3)
work="$(mktemp -d /tmp/ferry-bench-XXXXXX)"
source "$root/bench/azurite.sh"
share="$work/share"
# The first lookup of each name on a fresh slowfs mount is serialised within its folder (a
# FUSE artifact a NAS does not have): every name is looked up once, in parallel, before any
# tool runs, so all of them see the same warm mount (each call still waits DELAY_US).
warm_share() {
  find "$share" -type f -print0 | xargs -0 -P 32 -n 50 stat --format= >/dev/null
}
cleanup() {
  stop_azurite
  mountpoint -q "$share" 2>/dev/null && fusermount3 -u -z "$share"
  rm -rf "$work"
}
trap cleanup EXIT

container=bench

# A fresh emulator with the benchmark's container, its URL and a SAS for the peers.
start_target() {
  start_azurite "$work/azurite.log"
  export BENCH_CONNECTION_STRING="$AZURE_STORAGE_CONNECTION_STRING"
  url="http://127.0.0.1:$port/devstoreaccount1/$container"
  node "$root/bench/azure.mjs" create "$container"
  sas="$(node "$root/bench/azure.mjs" sas "$container")"
}

# timed NAME COMMAND...: runs the command under GNU time and prints one result row.
timed() {
  local name="$1"
  shift
  if ! /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >"$work/out" 2>&1; then
    echo "bench: $name failed:" >&2
    tail -20 "$work/out" >&2
    exit 1
  fi
  read -r wall user sys rss <"$work/time"
  local summary="- - -"
  [[ -n "$azurite_pid" ]] && summary="$(node "$root/bench/azure.mjs" summary "$container")"
  read -r blobs bytes md5s <<<"$summary"
  local row
  row="$(awk -v d="$dataset" -v n="$name" -v w="$wall" -v u="$user" -v y="$sys" -v r="$rss" \
    -v b="$blobs" -v s="$bytes" -v m="$md5s" \
    'BEGIN { printf "%s\t%s\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s", d, n, w, u + y, r / 1024, b, s, m }')"
  echo "$row" >>"$work/results"
  echo "$row" | awk -F'\t' '{ printf "%-4s %-18s %8s %8s %9s %8s %12s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
}

run_ferry() {
  local src="$1" mig="$work/ferry-$dataset"
  rm -rf "$mig"
  "$ferry" init "$mig" --source "$src" --target "$url" >/dev/null
  timed "ferry copy" "$ferry" copy "$mig" "${ferry_args[@]}"
  if [[ "$dataset" == S3 || "$dataset" == S5 ]]; then
    timed "ferry sync" "$ferry" sync "$mig" "${ferry_args[@]}"
  fi
  if [[ "$dataset" == S5 ]]; then  # the walk alone, into a fresh catalog
    "$ferry" init "$mig-scan" --source "$src" --target "$work/unused-target" >/dev/null
    timed "ferry scan" "$ferry" scan "$mig-scan" "${ferry_args[@]}"
    rm -rf "$mig-scan"
  fi
}

run_curl() {
  local src="$1" cfg="$work/curl.cfg"
  (cd "$src" && find . -type f -printf '%P\n') | awk -v url="$url" -v sas="$sas" -v src="$src" \
    '{ printf "url = \"%s/%s?%s\"\nupload-file = \"%s/%s\"\noutput = \"/dev/null\"\n", url, $0, sas, src, $0 }' \
    >"$cfg"
  timed "curl --parallel" curl --parallel --parallel-max 16 -sS --fail -K "$cfg" \
    -H "x-ms-blob-type: BlockBlob" -H "x-ms-version: 2025-11-05"
}

run_azcopy() {
  local src="$1"
  export AZCOPY_LOG_LOCATION="$work/azcopy" AZCOPY_JOB_PLAN_LOCATION="$work/azcopy"
  export AZCOPY_DISABLE_SYSLOG=true
  timed "azcopy copy" "$azcopy" copy "$src/*" "$url?$sas" --recursive --put-md5 \
    --from-to LocalBlob --log-level ERROR --output-level quiet
  if [[ "$dataset" == S3 || "$dataset" == S5 ]]; then
    timed "azcopy sync" "$azcopy" sync "$src" "$url?$sas" --recursive --put-md5 \
      --from-to LocalBlob --log-level ERROR --output-level quiet
  fi
}

run_rclone() {
  local src="$1"
  export RCLONE_CONFIG="$work/rclone.conf" RCLONE_CONFIG_BENCH_TYPE=azureblob
  export RCLONE_CONFIG_BENCH_SAS_URL="$url?$sas"
  : >"$RCLONE_CONFIG"
  timed "rclone copy" rclone copy "$src" "bench:$container"
  if [[ "$dataset" == S3 || "$dataset" == S5 ]]; then
    timed "rclone sync" rclone sync "$src" "bench:$container"
  fi
}

# S4: a catalog of a million items. The target is a local folder on tmpfs (the point is the
# catalog, not the network, and a million fsyncs on a disk would take an hour); the no-op sync
# at three sizes shows whether its time is linear and its memory flat.
run_s4() {
  local src="$data/S4" target
  target="$(mktemp -d /dev/shm/ferry-bench-s4-XXXXXX)/target"
  for n in 250000 500000 1000000; do
    local mig="$work/ferry-s4-$n" exclude=()
    for ((t = n / 50000; t < 20; ++t)); do exclude+=(--exclude "top$t"); done
    "$ferry" init "$mig" --source "$src" --target "$target-$n" "${exclude[@]}" >/dev/null
    azurite_pid=""
    timed "ferry copy $((n / 1000))k" "$ferry" copy "$mig" "${ferry_args[@]}"
    timed "ferry sync $((n / 1000))k" "$ferry" sync "$mig" "${ferry_args[@]}"
    rm -rf "$target-$n" "$mig"
  done
  rm -rf "$(dirname "$target")"
}

printf '%-4s %-18s %8s %8s %9s %8s %12s %8s\n' set tool wall_s cpu_s rss_MB blobs bytes md5
for dataset in "${datasets[@]}"; do
  [[ -f "$data/$dataset.complete" ]] ||
    echo "bench: generating $dataset in $data/$dataset (kept for later runs)" >&2
  node "$root/bench/datasets.mjs" "$dataset" "$data/$dataset"
  if [[ "$dataset" == S4 ]]; then
    run_s4
    continue
  fi
  src="$data/$dataset"
  if [[ "$dataset" == S5 ]]; then  # the same tree, behind network round trips
    mkdir -p "$share"
    "$root/build/slowfs" "$data/S5" "$share" --delay-us "${DELAY_US:-1000}"
    warm_share
    src="$share"
  fi
  # Rounds of every tool in turn, so a drift of the machine touches all tools alike.
  for ((round = 1; round <= repeat; ++round)); do
    for tool in "${tools[@]}"; do
      # Every tool reads the dataset from the page cache: the disk is not what is measured.
      find "$data/$dataset" -type f -exec cat {} + >/dev/null
      start_target
      "run_$tool" "$src"
      stop_azurite
    done
  done
  if [[ "$dataset" == S5 ]]; then fusermount3 -u "$share"; fi
done

# Medians over the rounds, and ferry's ratios to raw curl and to the faster peer.
echo
awk -F'\t' -v repeat="$repeat" '
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  { key = $1 "\t" $2; if (!(key in wall)) order[++keys] = key
    wall[key] = wall[key] " " $3; cpu[key] = cpu[key] " " $4; rss[key] = rss[key] " " $5 }
  END {
    printf "median of %d round(s)\n%-4s %-18s %8s %8s %9s\n", repeat, "set", "tool", "wall_s", "cpu_s", "rss_MB"
    for (k = 1; k <= keys; ++k) {
      key = order[k]; split(key, part, "\t")
      w[key] = median(wall[key])
      printf "%-4s %-18s %8.2f %8.2f %9.1f\n", part[1], part[2], w[key], median(cpu[key]), median(rss[key])
    }
    for (k = 1; k <= keys; ++k) {
      key = order[k]; split(key, part, "\t"); set = part[1]
      if (part[2] !~ /^ferry (copy|sync)$/) continue
      verb = part[2] == "ferry copy" ? "copy" : "sync"
      curl = set "\tcurl --parallel"; az = set "\tazcopy " verb; rc = set "\trclone " verb
      if (verb == "copy" && (curl in w)) printf "%s ferry %s / raw curl: %.2f\n", set, verb, w[key] / w[curl]
      best = ""; if (az in w) best = az; if ((rc in w) && (best == "" || w[rc] < w[best])) best = rc
      for (p = 1; p <= 2; ++p) {
        peer = p == 1 ? az : rc
        if (!(peer in w)) continue
        split(peer, b, "\t")
        printf "%s ferry %s / %s: %.2f%s\n", set, verb, b[2], w[key] / w[peer], peer == best ? " (the faster peer)" : ""
      }
    }
  }' "$work/results"
