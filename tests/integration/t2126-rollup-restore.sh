#!/usr/bin/env bash
# A database restored into another cluster carries a rollup watermark from
# the future (transaction ids are data): the rollup and the reports refuse
# to run instead of silently leaving out all new usage, and
# aigw_rollup_reset() rebuilds the rollups so reports equal the ledger
# again. Its synthetic rows live in 2002-05.
. "$(dirname "$0")/lib.sh"

FROM=2002-05-01 TO=2002-06-01
cleanup() {
    sql "DELETE FROM usage_events WHERE ts >= '$FROM' AND ts < '$TO'" >/dev/null
    sql "DELETE FROM usage_rollup_hourly WHERE hour >= '$FROM' AND hour < '$TO'" >/dev/null
    sql "DELETE FROM usage_rollup_daily_group WHERE day >= '$FROM' AND day < '$TO'" >/dev/null
    sql "DELETE FROM usage_rollup_monthly_group WHERE month = '$FROM'" >/dev/null
}
cleanup
ingest() {
    sql "SELECT aigw_ingest_usage(jsonb_agg(jsonb_build_object(
        'request_id', md5('t2126-$2-' || i)::uuid,
        'ts', timestamptz '$FROM' + (i * 7919 % 2592000) * interval '1 second',
        'api_key_id', md5('key' || (i % 3))::uuid, 'user_id', 'u' || (i % 4),
        'group_id', 'g2126-' || (i % 2), 'route', 'default', 'provider', 'openai',
        'backend', 'mock', 'requested_model', 'mock-gpt', 'served_model', 'mock-gpt',
        'http_status', 200, 'prompt_tokens', 10 + i % 7, 'completion_tokens', i % 5,
        'total_tokens', 10 + i % 7 + i % 5, 'usage_source', 'provider')))
        FROM generate_series(1, $1) i" >/dev/null
}
ledger_total() {
    sql "SELECT sum(total_tokens) FROM usage_events WHERE ts >= '$FROM' AND ts < '$TO'"
}
report_total() {
    "$REPORT" spend --by group --from $FROM --to $TO --format csv 2>"$TMP/err" |
        awk -F, '$1 == "TOTAL" {print $5}'
}
ingest 40 a
check "rollup before the restore" bash -c "\"$REPORT\" rollup >/dev/null"
is "report equals the ledger" "$(report_total)" "$(ledger_total)"

# what a restore into a younger cluster looks like: a watermark 5M
# transactions ahead of this cluster
sql "UPDATE usage_rollup_watermark SET rolled_xid =
       (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 5000000)::text::xid8" >/dev/null
ingest 25 b
"$REPORT" rollup >"$TMP/out" 2>&1; rc=$?
check "rollup refuses a watermark from the future (exit $rc)" test "$rc" -ne 0
like "... and says why" "$(cat "$TMP/out")" 'made on another cluster'
like "... and what to do" "$(cat "$TMP/out")" 'HINT: +run SELECT aigw_rollup_reset\(\)'
r=$(report_total)
is "the report refuses too (no silently short total)" "$r" ""
like "... with the same explanation" "$(cat "$TMP/err")" 'another cluster'

n=$(sql "SELECT aigw_rollup_reset()")
check "aigw_rollup_reset() ran ($n rows restamped)" test -n "$n"
is "after the reset: the report equals the ledger (tail only)" "$(report_total)" "$(ledger_total)"
check "rollup works again" bash -c "\"$REPORT\" rollup >/dev/null"
is "after the next rollup: the report equals the ledger" "$(report_total)" "$(ledger_total)"
is "the rollups hold the whole ledger again" \
    "$(sql "SELECT sum(total_tokens) FROM usage_rollup_hourly WHERE hour >= '$FROM' AND hour < '$TO'")" \
    "$(ledger_total)"
ingest 5 c
is "new usage after the reset is counted" "$(report_total)" "$(ledger_total)"
cleanup
done_testing
