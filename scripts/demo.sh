#!/usr/bin/env bash
# Installs what is missing, builds ferry, starts a local Azurite (in memory) and shows ferry
# working against it. Azurite is stopped when the demo ends.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh" "$build"
ferry="$build/ferry"

work="$(mktemp -d /tmp/ferry-demo-XXXXXX)"
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"$root/node_modules/.bin/azurite-blob" --inMemoryPersistence --blobHost 127.0.0.1 \
  --blobPort "$port" --silent >"$work/azurite.log" 2>&1 &
azurite=$!
trap 'kill $azurite 2>/dev/null; wait $azurite 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# The emulator's well-known development account (public; never use it for real data).
export AZURE_STORAGE_CONNECTION_STRING="UseDevelopmentStorage=true"
target="http://127.0.0.1:$port/devstoreaccount1/demo"

echo "== ferry --version"; "$ferry" --version
echo; echo "== ferry --help"; "$ferry" --help
mkdir -p "$work/share"; echo "hello" >"$work/share/hello.txt"
echo; echo "== ferry check $work/share"; "$ferry" check "$work/share"
echo; echo "== ferry check --write $target"; "$ferry" check --write "$target"
echo
echo "The storage layer works against Azurite on port $port."
echo "Next: the migration stages (init, scan, copy) arrive with the catalog."
