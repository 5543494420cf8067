#!/usr/bin/env bash
# A second PostgreSQL cluster of the machine's own version, its data and WAL in memory (/dev/shm),
# on 127.0.0.1:5433: a diagnostic for benchmarks, never a place for data. Its commits wait for no
# disk, so a run against it shows what the code does when the database's disk is not the limit
# (docs/benchmarks.md, "Stop 17"). Same settings as the packaged cluster otherwise (fsync stays on).
#
#   bench/pg_in_memory.sh start
#   TEST_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5433/postgres .venv/bin/python bench/redemption_ab.py ...
#   bench/pg_in_memory.sh stop
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"  # set -euo pipefail, postgres_major
DIR=/dev/shm/xym-bench-pg
PORT=5433
BIN="/usr/lib/postgresql/$(postgres_major)/bin"
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi; }

case "${1:-}" in
  start)
    if [ ! -d "$DIR/data" ]; then
      mkdir -p "$DIR" && chown postgres "$DIR"
      as_postgres "$BIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
    fi
    as_postgres "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
      -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$PORT/postgres" ;;
  stop)
    as_postgres "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null
    rm -rf "$DIR" ;;
  *)
    echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
