#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on loopback for the test suite.
#   scripts/pg_throwaway.sh start   -> prints the DATABASE_URL to use
#   scripts/pg_throwaway.sh stop
# As root (CI, these machines) it runs the server as the 'postgres' user, because initdb
# refuses to run as root. The data directory lives under /tmp and is deleted on stop.
set -euo pipefail
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PORT=${CSP_TEST_PG_PORT:-54329}
DIR=${CSP_TEST_PG_DIR:-/tmp/csp-test-pg-$PORT}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    [ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (set PGBIN)" >&2; exit 1; }
    if [ -f "$DIR/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      echo "postgresql://csp@127.0.0.1:$PORT/csp"; exit 0
    fi
    rm -rf "$DIR"; mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
    as_pg "$PGBIN/initdb" -D "$DIR" -A trust -U csp --no-sync >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w start \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on \
          -c shared_buffers=512MB -c max_wal_size=4GB -c wal_buffers=32MB \
          -c checkpoint_timeout=30min" >/dev/null
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U csp csp
    echo "postgresql://csp@127.0.0.1:$PORT/csp"
    ;;
  stop)
    if [ -d "$DIR" ]; then
      as_pg "$PGBIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null 2>&1 || true
      rm -rf "$DIR"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
