#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the parsers of outside input under
# libFuzzer (ASan + UBSan, from the seed corpus), the unit tests and the demo migration under
# the same sanitizers, then unit, Azurite integration and end-to-end
# tests under ctest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh" "$build"
"$root/scripts/fuzz.sh" "${FUZZ_SECONDS:-10}"
"$root/scripts/sanitize.sh"
cd "$build"
ctest --output-on-failure -j 2 --timeout 900
