# Sourced by the benchmarks: Debian's PostgreSQL, initdb into a temporary folder, on a free
# loopback port (as the postgres user when run as root).
#   start_postgres   sets $pgport and $pgdir; the role is "ferry", trusted, database "postgres"
#   stop_postgres    stops it and removes its folder
start_postgres() {
  pgdir="$(mktemp -d /tmp/ferry-pg-XXXXXX)"
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  pg_bin="$bin"
  [[ $(id -u) -eq 0 ]] && chown postgres "$pgdir"
  pgport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  as_pg_owner "$bin/initdb" -D "$pgdir/data" -A trust -U ferry -E UTF8 --locale=C >/dev/null
  as_pg_owner "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
    -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
}

stop_postgres() {
  [[ -n "${pgdir:-}" ]] || return 0
  as_pg_owner "$pg_bin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdir"
  pgdir=""
}

as_pg_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
