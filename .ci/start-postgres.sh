#!/usr/bin/env bash
# Make a throwaway PostgreSQL server available for the store tests.
#
#   eval "$(bash .ci/start-postgres.sh)"      # exports DASKBENCH_TEST_POSTGRES_URL
#   bash .ci/start-postgres.sh --stop         # stop it (the data directory is kept)
#
# Idempotent: a second call finds the running server and prints the same export line.
# Installs PostgreSQL with apt-get if no server binaries are found (needs root). As root the
# cluster belongs to the `postgres` system user, because postgres refuses to run as root.
# stdout carries only the export line; progress goes to stderr.
#
# Environment: DASKBENCH_PG_DIR (default /tmp/daskbench-postgres), DASKBENCH_PG_PORT (first
# port tried, default 55432), DASKBENCH_PG_DB (default daskbench_test).
set -euo pipefail

DIR=${DASKBENCH_PG_DIR:-/tmp/daskbench-postgres}
FIRST_PORT=${DASKBENCH_PG_PORT:-55432}
DB=${DASKBENCH_PG_DB:-daskbench_test}
PGUSER_NAME=postgres
DATA=$DIR/data

log() { echo "start-postgres: $*" >&2; }

find_bindir() {
    local dir
    # The newest versioned Debian install, then whatever is on PATH.
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $dir && -x $dir/pg_ctl && -x $dir/initdb ]]; then
        echo "$dir"
    elif command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
    fi
}

BINDIR=$(find_bindir)
if [[ -z $BINDIR && ${1:-} != --stop ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        log "PostgreSQL binaries not found and not root: install the 'postgresql' package"
        exit 1
    fi
    log "installing postgresql with apt-get"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
    BINDIR=$(find_bindir)
    [[ -n $BINDIR ]] || { log "postgresql installed but pg_ctl/initdb not found"; exit 1; }
fi

# Run a server binary as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$PGUSER_NAME" -- "$@"
    else
        "$@"
    fi
}

if [[ ${1:-} == --stop ]]; then
    if [[ -f $DATA/postmaster.pid ]]; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        log "no server running in $DATA"
    fi
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    PGUSER_NAME=$(id -un)
elif ! id "$PGUSER_NAME" >/dev/null 2>&1; then
    log "creating system user $PGUSER_NAME"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_NAME"
fi

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ ! -f $DATA/PG_VERSION ]]; then
    log "creating a cluster in $DATA with $BINDIR"
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    chown "$PGUSER_NAME" "$DIR"
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    as_owner bash -c "umask 077; printf '%s\n' '$password' > '$DIR/password'"
    as_owner "$BINDIR/initdb" -D "$DATA" -U "$PGUSER_NAME" --pwfile="$DIR/password" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2
fi
password=$(cat "$DIR/password")

if as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    port=$(cat "$DIR/port")
    log "server already running on port $port"
else
    port=$FIRST_PORT
    while port_in_use "$port"; do
        port=$((port + 1))
    done
    echo "$port" >"$DIR/port"
    log "starting the server on 127.0.0.1:$port"
    # fsync off: a throwaway test cluster trades durability for speed.
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$DIR' \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 ||
        { log "server failed to start; see $DIR/server.log"; tail -n 20 "$DIR/server.log" >&2; exit 1; }
fi

if [[ -z $(as_owner env PGPASSWORD="$password" "$BINDIR/psql" -h 127.0.0.1 -p "$port" \
    -U "$PGUSER_NAME" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'") ]]; then
    log "creating database $DB"
    as_owner env PGPASSWORD="$password" "$BINDIR/createdb" -h 127.0.0.1 -p "$port" \
        -U "$PGUSER_NAME" "$DB" >&2
fi

log "ready; stop with: bash .ci/start-postgres.sh --stop"
echo "export DASKBENCH_TEST_POSTGRES_URL=postgresql://$PGUSER_NAME:$password@127.0.0.1:$port/$DB"
