#!/usr/bin/env bash
# Builds ferry, its unit tests and the PostgreSQL catalog's with clang's AddressSanitizer and UndefinedBehaviorSanitizer
# (LeakSanitizer included) in the fuzzers' build folder, runs the unit tests, then the whole demo
# migration (init, scan, copy, sync, verify, status, errors against Azurite) with that binary.
# Any finding aborts the program that made it and fails this script.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"

if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFERRY_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j 2 --target ferry unit_tests postgres_tests

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "sanitize: unit tests"
"$build/unit_tests" --gtest_brief=1
echo "sanitize: the PostgreSQL catalog"
"$build/postgres_tests" --gtest_brief=1
echo "sanitize: the demo migration"
log="$build/sanitize-demo.log"
FERRY="$build/ferry" "$root/scripts/demo.sh" >"$log" 2>&1 || {
  tail -60 "$log"
  echo "sanitize: the demo migration FAILED under the sanitizers (whole output in $log)"
  exit 1
}
if grep -E "runtime error|AddressSanitizer|LeakSanitizer" "$log"; then
  echo "sanitize: findings in the demo migration (whole output in $log)"
  exit 1
fi
if grep -q $'\033' "$log"; then
  echo "sanitize: the demo wrote terminal colour codes into a log (whole output in $log)"
  exit 1
fi
echo "sanitize: unit tests and the demo migration ran clean"
