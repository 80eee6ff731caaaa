#!/usr/bin/env bash
# Reports from the rollups plus the not-yet-rolled tail equal the raw
# ledger, to the token and to the pico-USD: before any rollup, after one,
# with late rows landing in already-rolled days, on partial days, for every
# grouping; rollup runs are idempotent and replays never double count.
# Its synthetic rows live in 2002-03.
. "$(dirname "$0")/lib.sh"

cleanup() {
    sql "DELETE FROM usage_events WHERE ts >= '2002-03-01' AND ts < '2002-04-01'" >/dev/null
    sql "DELETE FROM usage_rollup_hourly WHERE hour >= '2002-03-01' AND hour < '2002-04-01'" >/dev/null
    sql "DELETE FROM usage_rollup_daily_group WHERE day >= '2002-03-01' AND day < '2002-04-01'" >/dev/null
    sql "DELETE FROM usage_rollup_monthly_group WHERE month = '2002-03-01'" >/dev/null
}
cleanup
# ingest N events spread over March 2002 with seed S (ids are deterministic)
ingest() {
    sql "SELECT aigw_ingest_usage(jsonb_agg(jsonb_build_object(
        'request_id', md5('t2120-$2-' || i)::uuid,
        'ts', timestamptz '2002-03-01' + (i * 7919 % 2678400) * interval '1 second',
        'api_key_id', md5('key' || (i % 5))::uuid,
        'user_id', 'u' || (i % 7), 'group_id', CASE WHEN i % 11 = 0 THEN NULL ELSE 'g' || (i % 3) END,
        'route', 'default', 'provider', 'openai', 'backend', 'mock',
        'requested_model', (ARRAY['mock-gpt','gpt-4o-mini','unpriced-model'])[1 + i % 3],
        'served_model', CASE WHEN i % 4 = 0 THEN NULL ELSE (ARRAY['mock-gpt','gpt-4o-mini','unpriced-model'])[1 + i % 3] END,
        'http_status', 200, 'prompt_tokens', 10 + i % 97, 'completion_tokens', i % 53,
        'total_tokens', 10 + i % 97 + i % 53, 'cached_tokens', i % 5, 'usage_source', 'provider')))
        FROM generate_series(1, $1) i"
}
FROM=2002-03-01 TO=2002-04-01
raw() {  # raw FROM TO: requests,prompt,completion,total,cost_usd,unpriced
    sql "SELECT count(*) || ',' || sum(prompt_tokens) || ',' || sum(completion_tokens) || ',' ||
        sum(total_tokens) || ',' || round(coalesce(sum(cost_pusd), 0) / 1e12, 6) || ',' ||
        count(*) FILTER (WHERE cost_pusd IS NULL)
        FROM usage_events WHERE ts >= '$1' AND ts < '$2'"
}
rep() {  # rep BY FROM TO: the same from aigw-report's CSV
    local skip
    skip=$([ "$1" = api_key ] && echo 3 || echo 1)
    "$REPORT" spend --by "$1" --from "$2" --to "$3" --format csv --no-total | tail -n +2 |
        awk -F, -v s="$skip" '{r+=$(s+1); p+=$(s+2); c+=$(s+3); t+=$(s+4); u+=$(s+6)}
            END {printf "%d,%d,%d,%d,%d", r, p, c, t, u}'
}
repcost() {  # per group "group:cost_usd" lines, sorted (exact decimals)
    "$REPORT" spend --by group --from "$1" --to "$2" --format csv --no-total | tail -n +2 |
        awk -F, '{print $1 ":" $6}' | sort
}
rawcost() {
    sql "SELECT coalesce(group_id, '') || ':' || round(coalesce(sum(cost_pusd), 0) / 1e12, 6)
        FROM usage_events WHERE ts >= '$1' AND ts < '$2' GROUP BY group_id" | sort
}
strip_cost() { echo "$1" | awk -F, '{printf "%s,%s,%s,%s,%s", $1, $2, $3, $4, $6}'; }
compare() {  # compare LABEL FROM TO
    local want
    want=$(raw "$2" "$3")
    for by in group user api_key model; do
        is "$1 --by $by: tokens and requests equal the ledger" "$(rep $by "$2" "$3")" "$(strip_cost "$want")"
    done
    is "$1: each group's cost equals the ledger's (exact, 6 decimals)" "$(repcost "$2" "$3")" "$(rawcost "$2" "$3")"
}

is "ingest 3000 events" "$(ingest 3000 a)" 3000
compare "before any rollup" $FROM $TO
"$REPORT" rollup 2>"$TMP/err"
is "rollup: exit 0" $? 0
like "rollup: says how many events it folded" "$(cat "$TMP/err")" '^aigw-report: rolled up [0-9]+ usage events$'
for t in "hourly WHERE hour" "daily_group WHERE day" "monthly_group WHERE month"; do
    is "rollup: usage_rollup_${t%% *} holds the month's events" \
        "$(sql "SELECT sum(requests) FROM usage_rollup_$t >= '$FROM' AND ${t##* } < '$TO'")" 3000
done
compare "after a rollup" $FROM $TO
compare "partial days at both ends" 2002-03-10T12:34:56Z 2002-03-20T06:00:00Z
compare "within one day" 2002-03-15T01:00:00Z 2002-03-15T23:00:00Z

# late rows for days already rolled up (e.g. a spool replay), and replays
is "late events into rolled days" "$(ingest 3500 a)" 500
is "replayed events are ignored" "$(ingest 3500 a)" 0
compare "late rows, not yet rolled" $FROM $TO
"$REPORT" rollup 2>/dev/null
"$REPORT" rollup 2>"$TMP/err2"
like "a second run in a row folds nothing" "$(cat "$TMP/err2")" 'rolled up 0 usage'
for t in "hourly WHERE hour" "daily_group WHERE day" "monthly_group WHERE month"; do
    is "rollup is idempotent: usage_rollup_${t%% *} counts no event twice" \
        "$(sql "SELECT sum(requests) FROM usage_rollup_$t >= '$FROM' AND ${t##* } < '$TO'")" 3500
done
compare "after rolling the late rows" $FROM $TO
is "--month equals --from/--to" \
    "$("$REPORT" spend --by model --month 2002-03 --format csv | md5sum)" \
    "$("$REPORT" spend --by model --from $FROM --to $TO --format csv | md5sum)"
is "view chargeback_group_month equals the ledger" \
    "$(sql "SELECT sum(requests) || ',' || sum(cost_usd) FROM chargeback_group_month WHERE month = '2002-03-01'")" \
    "$(sql "SELECT count(*) || ',' || round(coalesce(sum(cost_pusd), 0) / 1e12, 6) FROM usage_events WHERE ts >= '$FROM' AND ts < '$TO'")"
"$REPORT" spend --by group --month 2002-3 >/dev/null 2>&1
is "--month: bad value is a usage error" $? 2
"$REPORT" spend --by group --month 2002-03 --from $FROM >/dev/null 2>&1
is "--month with --from is a usage error" $? 2
cleanup
done_testing
