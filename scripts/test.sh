#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, Azurite integration, end to end).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh" "$build"
cd "$build"
ctest --output-on-failure -j 2 --timeout 900

# The parsers of outside input under libFuzzer (with ASan and UBSan), from the seed corpus.
"$root/scripts/fuzz.sh" "${FUZZ_SECONDS:-10}"
