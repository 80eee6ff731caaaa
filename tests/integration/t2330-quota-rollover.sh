#!/usr/bin/env bash
# Calendar rollover under a controlled clock (AIGW_TEST_CLOCK_FILE): usage
# at 23:59:59 on the last day of the month and at 00:00:00 of the next is
# charged to the right periods in the limit's time zone, and a quota
# exhausted in January is available again in February without any job.
. "$(dirname "$0")/lib.sh"

grp="q2330-$$"
KEY=$(new_key "u-$grp" "$grp")
"$ADMIN" quota set --group "$grp" --limit 60 --tz America/New_York >/dev/null
spawn_worker "$ROOT/tests/integration/aigw-test.json" \
    AIGW_TEST_CLOCK_FILE="$TMP/clock" AIGW_UPSTREAM_URL="$MOCK/v1" ||
    { not_ok "worker started"; done_testing; exit 1; }
BODY='{"model":"mock-gpt","max_tokens":10,"messages":[{"role":"user","content":"tick"}]}'
st() { fcgi_call "$KEY" "$BODY" | head -n1 | tr -d '\r'; }
periods() {
    sql "SELECT string_agg(to_char(period_start AT TIME ZONE 'America/New_York',
         'YYYY-MM-DD HH24:MI') || '=' || used, ' ' ORDER BY period_start)
         FROM quota_periods p JOIN quota_limits l ON l.id = p.limit_id
         WHERE l.subject = '$grp'"
}
wait_for() {   # the periods once they read $1 (or what they read after 10 s)
    local i got
    for i in $(seq 100); do got=$(periods); [ "$got" = "$1" ] && break; sleep 0.1; done
    echo "$got"
}
# 2025-01-31 23:59:59 in New York is 2025-02-01 04:59:59 UTC
date -d '2025-01-31 23:59:59 America/New_York' +%s >"$TMP/clock" 2>/dev/null ||
    echo 1738385999 >"$TMP/clock"
is "23:59:59 Jan 31 (New York): served" "$(st)" "Status: 200 OK"
# usage reaches the balance in batches (quotas.lease_flush_ms)
is "23:59:59: charged to January" "$(wait_for "2025-01-01 00:00=25")" "2025-01-01 00:00=25"
is "January exhausted: refused" "$(st)" "Status: 429 Too Many Requests"
echo $(( $(cat "$TMP/clock") + 1 )) >"$TMP/clock"
is "00:00:00 Feb 1 (New York): served again, no reset job" "$(st)" "Status: 200 OK"
is "00:00:00: charged to February" \
    "$(wait_for "2025-01-01 00:00=25 2025-02-01 00:00=25")" \
    "2025-01-01 00:00=25 2025-02-01 00:00=25"
u=$(METHOD=GET fcgi_call "$KEY" "" /v1/usage | sed -n '/^{/,$p')
is "usage: February's reset time (March 1 in New York)" \
    "$(echo "$u" | jq -r '.limits[0].reset_at')" "2025-03-01T05:00:00Z"
stop_worker
done_testing
