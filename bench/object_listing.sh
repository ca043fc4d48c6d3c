#!/usr/bin/env bash
# A no-op sync of an S3 source (s3rver) of 50,000 objects into Azurite, against the time of one
# sequential listing of the bucket: the sync lists the source and the target, each split by
# folder across parallel requests (auto: 8 streams) or one page after another
# (--scan-concurrency 1). Run with no added latency (the emulators on loopback) and with a delay
# proxy in front of both (DELAYS, milliseconds per request: a WAN round trip).
#
#   bench/object_listing.sh                 # OBJECTS=50000 REPEAT=3 DELAYS="0 20" LAYOUT=flat
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ferry="${FERRY:-$root/build/ferry}"
objects="${OBJECTS:-50000}"
repeat="${REPEAT:-3}"
delays="${DELAYS:-0 20}"
work="$(mktemp -d /dev/shm/ferry-listing-XXXXXX)"
source "$root/bench/azurite.sh"
pids=()
cleanup() {
  stop_azurite
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `node ARGS...` in the background and prints the port it announces ({"port": N}).
start_node() {
  local out="$work/announce.$RANDOM"
  node "$@" >"$out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 200); do
    [[ -s $out ]] && break
    sleep 0.05
  done
  node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).port)' "$out"
}

mkdir -p "$work/s3"
s3port="$(start_node --openssl-legacy-provider "$root/tests/support/s3_server.mjs" \
  --dir "$work/s3" --bucket bench)"
start_azurite
BENCH_CONNECTION_STRING="$AZURE_STORAGE_CONNECTION_STRING" node "$root/bench/azure.mjs" \
  create bench >/dev/null
s3proxy="$(start_node "$root/bench/delay_proxy.mjs" "$s3port")"
azproxy="$(start_node "$root/bench/delay_proxy.mjs" "$port")"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3proxy" AWS_ACCESS_KEY_ID=S3RVER \
  AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AZURE_STORAGE_CONNECTION_STRING="${AZURE_STORAGE_CONNECTION_STRING/:$port\//:$azproxy/}"

# LAYOUT=nested: 10 sites x 50 projects x N files; flat (default): 50 folders x N files (s3rver
# leaves a level's prefixes out when keys lie deeper below them, so only this layout splits
# there). 16 bytes each.
python3 - "$objects" "${LAYOUT:-flat}" >"$work/spec.json" <<'PY'
import json, sys
n, layout = int(sys.argv[1]), sys.argv[2]
key = (lambda i: f"site{i % 10}/proj{i // 10 % 50:02d}/f{i:06d}.dat") if layout == "nested" \
    else (lambda i: f"dept{i % 50:02d}/f{i:06d}.dat")
print(json.dumps([{"key": key(i), "size": 16} for i in range(n)]))
PY
echo "filling s3://bench with $objects objects" >&2
S3_ENDPOINT="http://127.0.0.1:$s3port" node "$root/tests/support/s3_client.mjs" fill bench \
  "$work/spec.json" >/dev/null

m="$work/migration"
"$ferry" init "$m" --source s3://bench --target "http://127.0.0.1:$azproxy/devstoreaccount1/bench" \
  >/dev/null 2>&1
echo "copying them to Azurite" >&2
"$ferry" copy "$m" >/dev/null 2>&1

seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null 2>&1; printf "%.2f\n" "$(echo "$(date +%s.%N) - $s" | bc)"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# One sequential listing of the bucket by AWS's SDK (ListObjectsV2, 1,000 keys a page).
sdk_list() {
  (cd "$root" && node --input-type=module -e '
    import { S3Client, ListObjectsV2Command } from "@aws-sdk/client-s3";
    process.removeAllListeners("warning");
    const s3 = new S3Client({ endpoint: process.env.AWS_ENDPOINT_URL_S3, region: "us-east-1",
      forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    let token, n = 0;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: "bench", ContinuationToken: token }));
      n += (page.Contents ?? []).length;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    if (n !== Number(process.argv[1])) { console.error(`listed ${n}`); process.exit(1); }
  ' "$objects")
}

echo "| delay per request | one sequential listing (SDK) | scan (S3 only), 1 stream | scan, auto (8) | no-op sync, 1 stream | no-op sync, auto (8) |"
echo "|---|---|---|---|---|---|"
for delay in $delays; do
  curl -s "http://127.0.0.1:$s3proxy/__delay/$delay" >/dev/null
  curl -s "http://127.0.0.1:$azproxy/__delay/$delay" >/dev/null
  list=() scan1=() scan8=() seq=() par=()
  for _ in $(seq "$repeat"); do
    list+=("$(seconds sdk_list)")
    scan1+=("$(seconds "$ferry" scan "$m" --scan-concurrency 1)")
    scan8+=("$(seconds "$ferry" scan "$m")")
    seq+=("$(seconds "$ferry" sync "$m" --scan-concurrency 1)")
    par+=("$(seconds "$ferry" sync "$m")")
  done
  echo "| $delay ms | $(median "${list[@]}") s | $(median "${scan1[@]}") s | $(median "${scan8[@]}") s | $(median "${seq[@]}") s | $(median "${par[@]}") s |"
done
# Every sync changed nothing: the objects are all copied, no pass had a delta.
"$ferry" status "$m" --json 2>/dev/null | node -e '
  const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const moved = s.sync_deltas.filter((d) => d.new || d.changed || d.deleted);
  console.error(`copied files: ${s.states.copied.files}; sync passes with a delta: ${moved.length}`);
  if (s.states.copied.files !== Number(process.argv[1]) || moved.length) process.exit(1);' "$objects"
