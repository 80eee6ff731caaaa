# Shared helpers for integration tests: TAP output and the stack's
# addresses. Sourced by tests/integration/tNNNN-*.sh, which run from the
# project root with VAR, GW_PORT, MOCK_PORT and the PG* variables set.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GW=http://127.0.0.1:$GW_PORT
MOCK=http://127.0.0.1:$MOCK_PORT
PMOCK=http://127.0.0.1:${PMOCK_PORT:-$((MOCK_PORT + 1))}
eval "$(bash "$ROOT/tests/stack.sh" env)"
ADMIN=$ROOT/report/aigw-admin
REPORT=$ROOT/report/aigw-report
ERRLOG=$VAR/log/error.log
GWLOG=$VAR/log/aigw.log
T_N=0
T_FAIL=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
not_ok() {
    T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1))
    echo "not ok $T_N - $1"
    [ $# -lt 2 ] || echo "#   $2"
}
# check NAME CMD...: passes when CMD succeeds
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }
# is NAME GOT WANT
is() {
    if [ "$2" = "$3" ]; then ok "$1"
    else not_ok "$1" "got '$2', want '$3'"; fi
}
# like NAME TEXT REGEX
like() {
    # no pipe: under pipefail, grep -q exiting at the first match of a
    # long text would fail the printf feeding it (SIGPIPE)
    if grep -qE -- "$3" <<<"$2"; then ok "$1"
    else not_ok "$1" "'$(printf '%s' "$2" | head -c 300)' !~ /$3/"; fi
}
done_testing() { echo "1..$T_N"; [ "$T_FAIL" -eq 0 ]; }

sql() { psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
new_key() { "$ADMIN" key create --user "$1" --group "$2" --name "${3:-t}" 2>/dev/null; }

# post PATH KEY BODY [curl args...]: prints "<status>\n<body>" to stdout
post() {
    local path=$1 key=$2 body=$3; shift 3
    curl -sS -o "$TMP/body" -w '%{http_code}' -X POST "$GW$path" \
        -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        --data-binary "$body" "$@" >"$TMP/status"
    cat "$TMP/status"; echo; cat "$TMP/body"
}
status_of() { head -n1; }
body_of() { tail -n +2; }
chat() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}' \
    "$1" "${2:-hello}" "${3:-}"; }
# Waits until SQL query $1 prints $2 (ledger writes are asynchronous).
wait_sql() {
    local i got
    for i in $(seq 1 "${3:-100}"); do
        got=$(sql "$1" 2>/dev/null) && [ "$got" = "$2" ] && { echo "$got"; return 0; }
        sleep 0.1
    done
    echo "$got"; return 1
}

# spawn_worker CONFIG [ENV=VALUE...]: starts one aigw-fcgi under spawn-fcgi
# on $TMP/aigw.sock (no web server); its log goes to $TMP/worker.log.
spawn_worker() {
    local conf=$1; shift
    env AIGW_CONFIG="$conf" AIGW_SPOOL_DIR="$VAR/spool" \
        AIGW_LOG_FILE="$TMP/worker.log" AIGW_UPSTREAM_URL="$MOCK/v1" \
        AIGW_PMOCK_URL="$PMOCK" AIGW_TEST_CREDENTIALS="$VAR/credentials" "$@" \
        spawn-fcgi -s "$TMP/aigw.sock" -P "$TMP/worker.pid" -- \
        ${WRAP:-} "$ROOT/fcgi/aigw-fcgi" >/dev/null
    local i
    for i in $(seq 100); do
        grep -q 'serving with' "$TMP/worker.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# fcgi_call KEY BODY [PATH]: one FastCGI request to the spawned worker;
# prints the raw CGI response (Status: line, headers, body)
fcgi_call() {
    REQUEST_METHOD=${METHOD:-POST} REQUEST_URI=${3:-/v1/chat/completions} \
    CONTENT_TYPE=application/json CONTENT_LENGTH=${#2} \
    HTTP_AUTHORIZATION="Bearer $1" SERVER_PROTOCOL=HTTP/1.1 \
        cgi-fcgi -bind -connect "$TMP/aigw.sock" <<<"$2"
}
stop_worker() {
    local pid
    pid=$(cat "$TMP/worker.pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do
        [ "$(ps -o stat= -p "$pid" | grep -cv Z)" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}
