#!/usr/bin/env bash
# The demo migration: installs what is missing, builds ferry, starts Azurite (in memory) on a
# free port, generates a sample file share and migrates it: init, scan, copy, then a change, a
# sync and a verify, and the status and errors at the end.
# Azurite is stopped when the demo ends; the migration folder is kept for you to look at.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
if [[ -n "${FERRY:-}" ]]; then
  ferry="$FERRY"  # a ferry built elsewhere (scripts/sanitize.sh runs the demo with its own)
else
  "$root/scripts/setup.sh" "$build" ferry  # only ferry: the tests are built by scripts/test.sh
  ferry="$build/ferry"
fi

work="$(mktemp -d /tmp/ferry-demo-XXXXXX)"
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
"$root/node_modules/.bin/azurite-blob" --inMemoryPersistence --blobHost 127.0.0.1 \
  --blobPort "$port" --silent >"$work/azurite.log" 2>&1 &
azurite=$!
# In memory there is nothing to save: a kill -9 spares Azurite's slow shutdown, up to minutes.
trap 'kill -KILL $azurite 2>/dev/null; wait $azurite 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# The emulator's well-known development account (public; never use it for real data).
export AZURE_STORAGE_CONNECTION_STRING="UseDevelopmentStorage=true"
target="http://127.0.0.1:$port/devstoreaccount1/demo/share"
migration="$work/migration"

# Bold headings on a terminal; plain text in a log or a pipe.
if [[ -t 1 ]]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "generating a sample share in $work/share"
node "$root/scripts/sample_tree.mjs" "$work/share"

step "ferry init $migration --source $work/share --target $target --exclude scratch"
"$ferry" init "$migration" --source "$work/share" --target "$target" --exclude scratch

step "ferry scan $migration"
"$ferry" scan "$migration"

step "ferry copy $migration"
"$ferry" copy "$migration"

step "changing the share: one file edited, one added, one deleted"
echo "revised" >>"$(find "$work/share/finance" -type f | head -1)"
echo "new" >"$work/share/finance/new-file.txt"
rm "$(find "$work/share/hr" -type f | head -1)"

step "ferry sync $migration --dry-run"
"$ferry" sync "$migration" --dry-run

step "ferry sync $migration"
"$ferry" sync "$migration"

step "ferry verify $migration"
"$ferry" verify "$migration"

step "ferry status $migration"
"$ferry" status "$migration"

step "ferry errors $migration"
"$ferry" errors "$migration"

cat <<EOT

The demo migration is done. Where to look:
  $migration/catalog.db   the catalog (SQLite): items, runs, and the hash-chained event log
  ferry status $migration [--json]
  ferry errors $migration [--json]
  ferry sync $migration    (another pass: nothing changed, nothing sent)
  ferry cutover $migration --quiet-window 10s --accept-skipped
      (the final step: closes the migration; the share's skipped link and bad names are
      accepted as left behind)
Azurite has been stopped; run scripts/demo.sh again for a fresh one.
EOT
