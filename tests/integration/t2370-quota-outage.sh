#!/usr/bin/env bash
# PostgreSQL stops while global quotas hold leases. Two workers on the same
# host (one shared lease table): on_db_error "open" and "closed".
#  - a caller whose limits and lease are held: served in both modes
#  - a caller not seen before (limits unknown): "open" serves and counts
#    it, "closed" answers 503 quota_unavailable
# After recovery no usage is lost: every 200 has its ledger row and the
# quota balance equals the ledger (usage counted during the outage is
# reconciled into quota_periods), a dead host's lease is reclaimed, and no
# lease is left behind.
. "$(dirname "$0")/lib.sh"

grp="q2340-$$"
KEY=$(new_key "u-$grp" "$grp")
"$ADMIN" quota set --group "$grp" --limit 1000000 >/dev/null
sed 's/"on_db_error": "open"/"on_db_error": "closed"/' \
    "$ROOT/tests/integration/aigw-test.json" >"$TMP/closed.json"
check "closed config differs" grep -q '"on_db_error": "closed"' "$TMP/closed.json"

start() {   # start NAME CONFIG: one worker on $TMP/NAME.sock
    env AIGW_CONFIG="$2" AIGW_SPOOL_DIR="$VAR/spool" \
        AIGW_LOG_FILE="$TMP/$1.log" AIGW_UPSTREAM_URL="$MOCK/v1" \
        AIGW_PMOCK_URL="$PMOCK" AIGW_TEST_CREDENTIALS="$VAR/credentials" \
        spawn-fcgi -s "$TMP/$1.sock" -P "$TMP/$1.pid" -- \
        "$ROOT/fcgi/aigw-fcgi" >/dev/null
    for i in $(seq 100); do
        grep -q 'serving with' "$TMP/$1.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
stop() {
    local pid
    pid=$(cat "$TMP/$1.pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do
        [ "$(ps -o stat= -p "$pid" | grep -cv Z)" = 0 ] && return 0
        sleep 0.1
    done
}
call() {    # call NAME MODEL: prints the status code and logs the body
    local body="{\"model\":\"$2\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"outage\"}]}"
    REQUEST_METHOD=POST REQUEST_URI=/v1/chat/completions \
    CONTENT_TYPE=application/json CONTENT_LENGTH=${#body} \
    HTTP_AUTHORIZATION="Bearer $KEY" SERVER_PROTOCOL=HTTP/1.1 \
        cgi-fcgi -bind -connect "$TMP/$1.sock" <<<"$body" >"$TMP/resp"
    head -n1 "$TMP/resp" | tr -d '\r' | awk '{print $2}'
}
count() { echo "$1" >>"$TMP/statuses"; echo "$1"; }

check "open worker started" start open "$ROOT/tests/integration/aigw-test.json"
check "closed worker started" start closed "$TMP/closed.json"
# warm both: key cached, limits cached, a lease taken
is "open: warm-up served" "$(count "$(call open mock-gpt)")" 200
is "closed: warm-up served" "$(count "$(call closed mock-gpt)")" 200
check "a lease is held" test "$(sql "SELECT count(*) FROM quota_host_leases h
    JOIN quota_limits l ON l.id = h.limit_id WHERE l.subject = '$grp'")" -ge 1

bash "$ROOT/tests/stack.sh" pg-stop fast
ok_open=0
for i in 1 2 3 4 5; do [ "$(count "$(call open mock-gpt)")" = 200 ] && ok_open=$((ok_open + 1)); done
is "open, limits and lease held: served" "$ok_open" 5
ok_cold=0
for i in 1 2 3; do [ "$(count "$(call open gpt-4o-mini)")" = 200 ] && ok_cold=$((ok_cold + 1)); done
is "open, limits unknown: served (counted for later)" "$ok_cold" 3
is "closed, limits and lease held: served within the lease" \
    "$(count "$(call closed mock-gpt)")" 200
is "closed, limits unknown: 503" "$(count "$(call closed gpt-4o-mini)")" 503
is "closed: error code quota_unavailable" \
    "$(sed -n '/^{/,$p' "$TMP/resp" | jq -r .error.code)" quota_unavailable
bash "$ROOT/tests/stack.sh" pg-start

n200=$(grep -c '^200$' "$TMP/statuses")
got=$(wait_sql "SELECT count(*) FROM usage_events WHERE group_id = '$grp'
                AND http_status = 200" "$n200" 150)
is "every request served has its ledger row ($n200)" "$got" "$n200"
tok=$(sql "SELECT sum(total_tokens) FROM usage_events WHERE group_id = '$grp'
           AND http_status = 200")
used=$(wait_sql "SELECT used FROM quota_periods p JOIN quota_limits l
                 ON l.id = p.limit_id WHERE l.subject = '$grp'" "$tok" 150)
is "quota balance reconciled with the ledger ($tok tokens)" "$used" "$tok"
check "open: outage usage charged on recovery (logged)" \
    grep -q 'database outage charged' "$TMP/open.log"
# a host that died holding a lease: its row expires and the next sync on
# the balance (here: this host pushing a request's usage) reclaims it
sql "WITH p AS (UPDATE quota_periods q SET reserved = reserved + 500
                  FROM quota_limits l WHERE l.id = q.limit_id AND l.subject = '$grp'
               RETURNING q.limit_id, q.subject, q.period_start)
     INSERT INTO quota_host_leases SELECT limit_id, subject, period_start,
            'dead-host', 500, now() - interval '1 second' FROM p" >/dev/null
is "after recovery: served" "$(count "$(call open mock-gpt)")" 200
is "a dead host's expired lease is reclaimed" "$(wait_sql "SELECT count(*)
    FROM quota_host_leases WHERE host = 'dead-host'" 0)" 0
stop open
stop closed
is "leases given back at shutdown" "$(wait_sql "SELECT reserved FROM quota_periods p
    JOIN quota_limits l ON l.id = p.limit_id WHERE l.subject = '$grp'" 0)" 0
done_testing
