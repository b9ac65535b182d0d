#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the store tests and print its URL (empty when it cannot start).
# Used by .ci/run: `SALESCAST_TEST_DATABASE_URL=$(.ci/postgres.sh)`, then `.ci/postgres.sh stop`. Uses Debian's postgresql binaries;
# initdb refuses root, so as root the cluster belongs to the `postgres` user.
set -uo pipefail
state=/tmp/salescast-ci-pg.current
runas=()
[ "$(id -u)" = 0 ] && runas=(runuser -u postgres --)
if [ "${1:-start}" = stop ]; then   # `.ci/postgres.sh stop`: stop the cluster started before and remove it
  [ -f "$state" ] || exit 0
  base=$(cat "$state"); bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  "${runas[@]}" "$bin/pg_ctl" -D "$base/data" -m immediate stop >/dev/null 2>&1; rm -rf "$base" "$state"; exit 0
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "warning: no PostgreSQL binaries; PostgreSQL store tests will skip" >&2; exit 0; }
base=$(mktemp -d /tmp/salescast-ci-pg.XXXXXX)
run=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd -r -m postgres
  chown postgres "$base"
  run=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if "${run[@]}" "$bin/initdb" -D "$base/data" -A trust -U salescast --no-sync -E UTF8 >"$base/initdb.log" 2>&1 &&
   "${run[@]}" "$bin/pg_ctl" -D "$base/data" -l "$base/log" -w -t 60 \
      -o "-p $port -k $base -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
  echo "$base" > "$state"
  echo "postgresql+psycopg://salescast@127.0.0.1:$port/postgres"
else
  echo "warning: could not start PostgreSQL (see $base); PostgreSQL store tests will skip" >&2
fi
