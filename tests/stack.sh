#!/usr/bin/env bash
# Brings the local aigw stack up and down: private PostgreSQL under $VAR,
# migrations, the mock provider, and lighttpd spawning aigw-fcgi.
# Used by `make run` and `make test` (with other ports and another $VAR).
#
#   stack.sh deps | pg-start | pg-stop | migrate | demo-key | mock-start |
#            gw-start | up | down | psql [args]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${VAR:-$ROOT/var}
case "$VAR" in /*) ;; *) VAR=$ROOT/$VAR ;; esac
PG_PORT=${PG_PORT:-54329}
GW_PORT=${GW_PORT:-8080}
MOCK_PORT=${MOCK_PORT:-8099}
PMOCK_PORT=${PMOCK_PORT:-$((MOCK_PORT + 1))}   # the Node.js provider mocks
GW_PROCS=${GW_PROCS:-2}
GW_CONFIG=${GW_CONFIG:-$ROOT/conf/aigw.json}
PGDATA=$VAR/pg
PGSOCK=$VAR/run
export PGHOST=$PGSOCK PGPORT=$PG_PORT PGDATABASE=aigw PGUSER=aigw

DEB_PKGS="build-essential pkg-config libfcgi-dev libfcgi-bin libcurl4-openssl-dev
 libjson-c-dev libjwt-dev libpq-dev libpcre2-dev libssl-dev openssl postgresql
 postgresql-client lighttpd nginx-light spawn-fcgi wrk curl ca-certificates valgrind jq
 prometheus"

log() { printf 'stack: %s\n' "$*" >&2; }

# Runs a PostgreSQL server binary as a non-root user: initdb and postgres
# refuse to run as root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    [ -n "$d" ] || { log "PostgreSQL server binaries not found"; exit 1; }
    echo "$d"
}

cmd_deps() {
    local missing=() p
    for p in $DEB_PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || missing+=("$p")
    done
    # Node.js runs the official-SDK tests; any node >= 18 with npm will do
    # (Debian's packages, or a NodeSource build that bundles npm).
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    log "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts these as system services on install; we run our own.
    $sudo systemctl disable --now lighttpd nginx prometheus >/dev/null 2>&1 || true
}

cmd_pg_start() {
    local bin
    bin=$(pg_bin)
    mkdir -p "$VAR" "$PGSOCK"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$PGSOCK"
        [ -d "$PGDATA" ] && chown -R postgres "$PGDATA"
    fi
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        log "initdb $PGDATA"
        mkdir -p "$PGDATA"
        [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
        as_pg "$bin/initdb" -D "$PGDATA" -U aigw --auth=trust \
            -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        return 0
    fi
    log "starting PostgreSQL on port $PG_PORT (socket $PGSOCK)"
    as_pg "$bin/pg_ctl" -D "$PGDATA" -w -t 60 -l "$PGDATA/server.log" \
        -o "-p $PG_PORT -k $PGSOCK -c listen_addresses=''" start >/dev/null
    psql -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname='aigw'" |
        grep -q 1 || psql -d postgres -qc "CREATE DATABASE aigw" >/dev/null
}

cmd_pg_stop() {
    local bin
    bin=$(pg_bin)
    [ -f "$PGDATA/PG_VERSION" ] || return 0
    as_pg "$bin/pg_ctl" -D "$PGDATA" -m "${1:-fast}" stop >/dev/null 2>&1 ||
        true
}

# Applies sql/NNNN_*.sql in order, each in one transaction with its record.
cmd_migrate() {
    PGOPTIONS="-c client_min_messages=warning" psql -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS
        schema_migrations (version text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
    local f v
    for f in "$ROOT"/sql/[0-9][0-9][0-9][0-9]_*.sql; do
        v=$(basename "$f" .sql)
        if [ -n "$(psql -qAtX -c "SELECT 1 FROM schema_migrations
                WHERE version = '$v'")" ]; then
            continue
        fi
        log "migrate $v"
        psql -qX -v ON_ERROR_STOP=1 --single-transaction -f "$f" \
            -c "INSERT INTO schema_migrations (version) VALUES ('$v')" \
            >/dev/null
    done
}

# Prints a demo key, creating it once (the secret is only known at creation).
cmd_demo_key() {
    local f=$VAR/demo-key
    if [ ! -s "$f" ] || ! "$ROOT/report/aigw-admin" key list 2>/dev/null |
            grep -q 'demo'; then
        "$ROOT/report/aigw-admin" key create --user demo --group demo \
            --name demo >"$f"
    fi
    cat "$f"
}

cmd_mock_start() {
    mkdir -p "$VAR"
    if [ -f "$VAR/mock.pid" ] && kill -0 "$(cat "$VAR/mock.pid")" 2>/dev/null
    then
        return 0
    fi
    [ -f "$VAR/pmock.pid" ] && kill "$(cat "$VAR/pmock.pid")" 2>/dev/null
    "$ROOT/tests/mock/mock-provider" --port "$MOCK_PORT" \
        >"$VAR/mock.log" 2>&1 &
    echo $! >"$VAR/mock.pid"
    # test credentials for the mocks (e.g. a Vertex service account)
    if [ -x "$ROOT/tests/mock/make-credentials.sh" ]; then
        "$ROOT/tests/mock/make-credentials.sh" "$VAR" >/dev/null
    fi
    AIGW_TEST_CREDENTIALS=$VAR/credentials \
        node "$ROOT/tests/mock/providers.mjs" "$PMOCK_PORT" \
        >"$VAR/pmock.log" 2>&1 &
    echo $! >"$VAR/pmock.pid"
    local i
    for i in $(seq 100); do
        curl -fs "http://127.0.0.1:$MOCK_PORT/__health" >/dev/null &&
            curl -fs "http://127.0.0.1:$PMOCK_PORT/__health" >/dev/null &&
            return 0
        sleep 0.1
    done
    log "mock providers did not start"; exit 1
}

cmd_gw_start() {
    mkdir -p "$VAR/log" "$VAR/spool"
    local upstream_url=${AIGW_UPSTREAM_URL:-http://127.0.0.1:$MOCK_PORT/v1}
    sed -e "s|@ROOT@|$ROOT|g" -e "s|@VAR@|$VAR|g" \
        -e "s|@GW_PORT@|$GW_PORT|g" -e "s|@GW_PROCS@|$GW_PROCS|g" \
        -e "s|@GW_CONFIG@|$GW_CONFIG|g" \
        -e "s|@PGHOST@|$PGSOCK|g" -e "s|@PGPORT@|$PG_PORT|g" \
        -e "s|@UPSTREAM_URL@|$upstream_url|g" \
        -e "s|@PMOCK_URL@|http://127.0.0.1:$PMOCK_PORT|g" \
        "$ROOT/conf/lighttpd-aigw.conf.in" >"$VAR/lighttpd.conf"
    if [ -f "$VAR/lighttpd.pid" ] &&
        kill -0 "$(cat "$VAR/lighttpd.pid")" 2>/dev/null; then
        kill "$(cat "$VAR/lighttpd.pid")"; sleep 0.5
    fi
    /usr/sbin/lighttpd -f "$VAR/lighttpd.conf"
    local i
    for i in $(seq 100); do
        curl -fs "http://127.0.0.1:$GW_PORT/healthz" >/dev/null && return 0
        sleep 0.1
    done
    log "gateway did not answer /healthz; see $VAR/log/error.log"
    tail -n 20 "$VAR/log/error.log" >&2 || true
    exit 1
}

cmd_up() {
    cmd_pg_start
    cmd_migrate
    if [ -z "${OPENAI_API_KEY:-}" ]; then
        cmd_mock_start
    fi
    cmd_gw_start
}

cmd_down() {
    local p
    for p in lighttpd mock pmock; do
        if [ -f "$VAR/$p.pid" ]; then
            kill "$(cat "$VAR/$p.pid")" 2>/dev/null || true
            rm -f "$VAR/$p.pid"
        fi
    done
    cmd_pg_stop
}

c=${1:-}
shift || true
case "$c" in
deps) cmd_deps ;;
pg-start) cmd_pg_start ;;
pg-stop) cmd_pg_stop "$@" ;;
migrate) cmd_migrate ;;
demo-key) cmd_demo_key ;;
mock-start) cmd_mock_start ;;
gw-start) cmd_gw_start ;;
up) cmd_up ;;
down) cmd_down ;;
psql) exec psql "$@" ;;
env) echo "export PGHOST=$PGHOST PGPORT=$PGPORT PGDATABASE=$PGDATABASE PGUSER=$PGUSER" ;;
*) echo "usage: $0 deps|pg-start|pg-stop|migrate|demo-key|mock-start|gw-start|up|down|psql" >&2
   exit 2 ;;
esac
