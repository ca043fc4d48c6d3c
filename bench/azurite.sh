# Sourced by the benchmarks: a fresh in-memory Azurite on a free loopback port.
#   start_azurite [LOG]   stops the previous one, starts one, sets $port, $azurite_pid and
#                         AZURE_STORAGE_CONNECTION_STRING (the emulator's public key)
#   stop_azurite          kills it: in memory there is nothing to save, and a graceful shutdown
#                         holding gigabytes takes minutes
# Needs $root (the checkout).
azurite_key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
azurite_pid=""

start_azurite() {
  stop_azurite
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  "$root/node_modules/.bin/azurite-blob" --inMemoryPersistence --blobHost 127.0.0.1 \
    --blobPort "$port" --silent >"${1:-/dev/null}" 2>&1 &
  azurite_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$azurite_key;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
}

stop_azurite() {
  [[ -n "$azurite_pid" ]] || return 0
  kill -KILL "$azurite_pid" 2>/dev/null || true
  wait "$azurite_pid" 2>/dev/null || true
  azurite_pid=""
}
