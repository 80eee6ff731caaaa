#!/usr/bin/env bash
# Token quota under contention: 100 concurrent requests from one key against
# a PostgreSQL quota (the mock reports known usage), first through one
# gateway, then through two gateway stacks sharing the database. Recorded
# tokens may exceed the quota by at most one request's reservation.
. "$(dirname "$0")/lib.sh"

LIMIT=1000
BODY='{"model":"mock-gpt","max_tokens":10,"messages":[{"role":"user","content":"count me"}]}'
# the reservation: body bytes / 4 + 8, plus max_tokens
RES=$(( ${#BODY} / 4 + 8 + 10 ))

blast() {   # blast KEY N URL...: N concurrent requests spread over the URLs
    local key=$1 n=$2; shift 2
    local urls=("$@") i
    for i in $(seq 1 "$n"); do
        curl -s -o /dev/null -w '%{http_code}\n' \
            "${urls[$((i % ${#urls[@]}))]}/v1/chat/completions" \
            -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
            --data-binary "$BODY" &
    done >"$TMP/codes"
    wait
}

run_case() {   # run_case NAME URL...
    local name=$1; shift
    local grp="q2300-$name-$$" key ok n429 other tok used reserved
    key=$(new_key "u-$grp" "$grp")
    "$ADMIN" quota set --group "$grp" --limit $LIMIT >/dev/null
    blast "$key" 100 "$@"
    ok=$(grep -c '^200$' "$TMP/codes")
    n429=$(grep -c '^429$' "$TMP/codes")
    other=$((100 - ok - n429))
    is "$name: every request answered 200 or 429" "$other" 0
    check "$name: some admitted, some refused" test "$ok" -gt 0 -a "$n429" -gt 0
    tok=$(wait_sql "SELECT count(*) FROM usage_events WHERE group_id = '$grp'
                    AND http_status = 200" "$ok" >/dev/null;
          sql "SELECT coalesce(sum(total_tokens), 0) FROM usage_events
               WHERE group_id = '$grp'")
    echo "# $name: $ok admitted, $n429 refused, $tok tokens recorded against" \
         "a quota of $LIMIT (overspend $((tok > LIMIT ? tok - LIMIT : 0));" \
         "bound: one reservation = $RES)"
    check "$name: tokens within quota + one reservation" \
        test "$tok" -le $((LIMIT + RES))
    # usage reaches the balance in batches (quotas.lease_flush_ms), and an
    # idle host gives its lease back (quotas.lease_idle_ms)
    used=$(wait_sql "SELECT used FROM quota_periods p JOIN quota_limits l
                ON l.id = p.limit_id WHERE l.subject = '$grp'" "$tok")
    is "$name: quota balance equals the ledger" "$used" "$tok"
    reserved=$(wait_sql "SELECT reserved FROM quota_periods p JOIN quota_limits l
                    ON l.id = p.limit_id WHERE l.subject = '$grp'" 0)
    is "$name: no reservation or lease left behind" "$reserved" 0
    check "$name: quota nearly used up (no phantom 429s)" \
        test "$tok" -ge $((LIMIT - 2 * RES))
}

run_case one "$GW"

# a second gateway stack (its own lighttpd and workers) on the same database
GW2_PORT=$((GW_PORT + 1))
V2=$TMP/gw2
mkdir -p "$V2/log" "$V2/spool" "$V2/run"
ln -s "$VAR/credentials" "$V2/credentials"   # the Vertex mock's account
sed -e "s|@ROOT@|$ROOT|g" -e "s|@VAR@|$V2|g" -e "s|@GW_PORT@|$GW2_PORT|g" \
    -e "s|@GW_PROCS@|2|g" -e "s|@GW_CONFIG@|$ROOT/tests/integration/aigw-test.json|g" \
    -e "s|@PGHOST@|$PGHOST|g" -e "s|@PGPORT@|$PGPORT|g" \
    -e "s|@UPSTREAM_URL@|$MOCK/v1|g" -e "s|@PMOCK_URL@|$PMOCK|g" \
    "$ROOT/conf/lighttpd-aigw.conf.in" >"$V2/lighttpd.conf"
/usr/sbin/lighttpd -f "$V2/lighttpd.conf"
for i in $(seq 100); do
    curl -fs "http://127.0.0.1:$GW2_PORT/healthz" >/dev/null && break
    sleep 0.1
done
check "second gateway stack up" curl -fs "http://127.0.0.1:$GW2_PORT/healthz" -o /dev/null
run_case two "$GW" "http://127.0.0.1:$GW2_PORT"
check "two: the second stack served requests too" \
    test "$(grep -c 'chat/completions' "$V2/log/aigw.log")" -gt 0
kill "$(cat "$V2/lighttpd.pid")" 2>/dev/null
sleep 0.3
done_testing
