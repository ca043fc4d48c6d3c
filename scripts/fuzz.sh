#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time from
# its checked-in seed corpus (tests/fuzz/corpus/TARGET). A crash fails the script and leaves the
# input in build-fuzz/; add it to the corpus and a unit test once fixed.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 15)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-15}"
targets=(blob_xml connection_string endpoint glob limits names redact)

if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFERRY_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j 2 --target "${targets[@]/#/fuzz_}"

# Two targets at a time, one per core; each for its full time.
fuzz() {
  local target="$1" work rc=0
  work="$(mktemp -d)"
  (cd "$build" && "./fuzz_$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
     -print_final_stats=0 "$work" "$root/tests/fuzz/corpus/$target" 2>"$build/fuzz_$target.log") ||
    rc=$?
  rm -rf "$work"
  return $rc
}
failed=()
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pids=()
  for target in "${targets[@]:i:2}"; do
    echo "fuzz: $target for ${seconds}s"
    fuzz "$target" &
    pids+=("$!:$target")
  done
  for entry in "${pids[@]}"; do
    wait "${entry%%:*}" || failed+=("${entry#*:}")
  done
done
for target in "${targets[@]}"; do
  grep -E "^#[0-9]+.*DONE" "$build/fuzz_$target.log" | tail -1 | sed "s/^/$target: /" || true
done
for target in "${failed[@]}"; do
  tail -40 "$build/fuzz_$target.log"
  echo "fuzz: $target FAILED (the input is saved in $build)"
done
((${#failed[@]} == 0)) || exit 1
echo "fuzz: all targets ran clean"
