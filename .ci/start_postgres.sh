#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the store's PostgreSQL tests and print the line that points them at it:
#
#     eval "$(bash .ci/start_postgres.sh)"   # -> export FMA_TEST_PG_URL=postgresql+psycopg://...
#
# The cluster lives in /tmp/fma-pg-ci (trust auth, 127.0.0.1 only, fsync off: test data only). Running the
# script again reuses the running server. When no server can be started, nothing is printed on stdout (the
# PostgreSQL tests then skip), the reason goes to stderr, and the exit status is still 0.
set -uo pipefail

DATA=/tmp/fma-pg-ci/data
LOG=/tmp/fma-pg-ci/server.log
PORT_FILE=/tmp/fma-pg-ci/port
DB=fma_test
SUPERUSER=fma
DEFAULT_PORT=54329

skip() {
  echo "start_postgres: $*; the PostgreSQL tests will be skipped" >&2
  exit 0
}

find_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null)"
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return; }
  fi
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return; }
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
  fi
}

BINDIR="$(find_bindir)"
if [[ -z "$BINDIR" && $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "start_postgres: installing postgresql with apt-get" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1
  BINDIR="$(find_bindir)"
fi
[[ -n "$BINDIR" ]] || skip "no PostgreSQL server binaries (initdb, pg_ctl) found"

# The server refuses to run as root: use the postgres account (or create an unprivileged one).
as_user() { "$@"; }
if [[ $EUID -eq 0 ]]; then
  RUN_AS=postgres
  if ! id "$RUN_AS" >/dev/null 2>&1; then
    RUN_AS=fma-pg
    id "$RUN_AS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS" \
      || skip "cannot create an unprivileged user to run the server"
  fi
  if command -v runuser >/dev/null 2>&1; then
    as_user() { runuser -u "$RUN_AS" -- "$@"; }
  else
    as_user() { su -s /bin/sh "$RUN_AS" -c "$(printf '%q ' "$@")"; }
  fi
fi

port_is_free() {
  python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

psql_() { as_user "$BINDIR/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$@"; }

if as_user "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && [[ -s "$PORT_FILE" ]]; then
  PORT="$(cat "$PORT_FILE")"  # already running (second call): reuse it
else
  mkdir -p "$(dirname "$DATA")" || skip "cannot create $(dirname "$DATA")"
  [[ $EUID -eq 0 ]] && chown "$RUN_AS" "$(dirname "$DATA")"
  chmod 700 "$(dirname "$DATA")" 2>/dev/null
  if [[ ! -s "$DATA/PG_VERSION" ]]; then
    rm -rf "$DATA"
    as_user "$BINDIR/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null 2>&1 \
      || as_user "$BINDIR/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C >/dev/null 2>&1 \
      || skip "initdb failed in $DATA"
  fi
  PORT=$DEFAULT_PORT
  port_is_free "$PORT" || PORT="$(free_port)" || skip "no free TCP port"
  as_user "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 2>&1 || skip "the server did not start (see $LOG)"
  echo "$PORT" >"$PORT_FILE"
fi

# Like a team's server rather than a bare one: a linguistic collation (ICU en-US, PostgreSQL 15+) and a
# session time zone that is not UTC, so that tests catch SQL that depends on either.
if [[ "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" 2>/dev/null)" != 1 ]]; then
  psql_ -d postgres -c "CREATE DATABASE $DB TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'" \
    >/dev/null 2>&1 || psql_ -d postgres -c "CREATE DATABASE $DB" >/dev/null 2>&1 \
    || skip "cannot create the database $DB"
  psql_ -d postgres -c "ALTER DATABASE $DB SET timezone TO 'Asia/Taipei'" >/dev/null 2>&1
fi
echo "export FMA_TEST_PG_URL=postgresql+psycopg://$SUPERUSER@127.0.0.1:$PORT/$DB"
