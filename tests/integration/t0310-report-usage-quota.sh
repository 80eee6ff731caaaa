#!/usr/bin/env bash
# aigw-report usage: the raw events of a period, streamed by COPY (row
# count, exact contents, CSV quoting, JSON Lines, constant memory with many
# rows); aigw-report quota: each subject's limit, used, remaining and reset
# time; --help texts and usage errors. Its rows live in 2002-08.
. "$(dirname "$0")/lib.sh"

P="ts >= '2002-08-01' AND ts < '2002-09-01'"
cleanup() {
    sql "DELETE FROM usage_events WHERE $P" >/dev/null
    "$ADMIN" quota delete --group t0310-g --unit total_tokens --period month >/dev/null 2>&1
    "$ADMIN" quota delete --user '*' --unit requests --period day >/dev/null 2>&1
}
cleanup
sql "SELECT aigw_ensure_usage_partitions('2002-08-01', 1)" >/dev/null
# N events straight into the ledger (the ingest path is tested elsewhere)
gen() {
    sql "INSERT INTO usage_events (request_id, ts, api_key_id, user_id, group_id,
        route, provider, backend, requested_model, served_model, http_status,
        prompt_tokens, completion_tokens, total_tokens, cost_pusd, latency_ms)
      SELECT md5('t0310-' || i)::uuid,
        timestamptz '2002-08-01' + i * interval '1 second' + interval '0.25 second',
        md5('t0310-key' || (i % 3))::uuid, 'u' || (i % 5), 'g' || (i % 2),
        'default', 'openai', 'mock', 'gpt-4o-mini', 'gpt-4o-mini', 200,
        i % 100, i % 50, i % 100 + i % 50, (i % 100) * 150000 + (i % 50) * 600000, 7
      FROM generate_series($1, $2) i"
}
gen 1 3
# an event whose text fields need CSV quoting and JSON escaping
sql "INSERT INTO usage_events (request_id, ts, user_id, group_id, requested_model,
        http_status, prompt_tokens, completion_tokens, total_tokens, error_type)
     VALUES ('01940000-0000-7000-8000-000000000310', '2002-08-01T00:00:00.5Z',
        E'a,\"b\"\\\\c\nd', '', 'unpriced', 502, 3, 0, 3, 'upstream_error')"

"$REPORT" usage --month 2002-08 >"$TMP/u.csv" 2>"$TMP/err"
is "usage csv: exit 0" $? 0
is "usage csv: stderr counts the events" "$(cat "$TMP/err")" "aigw-report: exported 4 usage events"
is "usage csv: header" "$(head -n1 "$TMP/u.csv")" \
    request_id,ts,api_key_id,user_id,group_id,route,provider,backend,requested_model,served_model,http_status,prompt_tokens,completion_tokens,total_tokens,cached_tokens,usage_source,input_per_mtok,output_per_mtok,cached_input_per_mtok,cost_pusd,latency_ms,ttft_ms,stream,partial,error_type,guardrail,attempts,degraded
is "usage csv: time order, RFC 3339 UTC, NULL empty, \"\" for an empty string, quoting" \
    "$(sed -n 2,3p "$TMP/u.csv")" \
    '01940000-0000-7000-8000-000000000310,2002-08-01T00:00:00.500000Z,,"a,""b""\c
d","",,,,unpriced,,502,3,0,3,0,none,,,,,,,f,f,upstream_error,,1,'
is "usage csv: a priced event, exact" "$(grep "^$(sql "SELECT md5('t0310-2')::uuid")" "$TMP/u.csv")" \
    "$(sql "SELECT md5('t0310-2')::uuid"),2002-08-01T00:00:02.250000Z,$(sql "SELECT md5('t0310-key2')::uuid"),u2,g0,default,openai,mock,gpt-4o-mini,gpt-4o-mini,200,2,2,4,0,none,,,,1500000,7,,f,f,,,1,"
"$REPORT" usage --from 2002-08-01T00:00:01.25Z --to 2002-08-01T00:00:03.25Z --format json >"$TMP/u.json" 2>/dev/null
is "usage json: half-open period, one object per line" "$(wc -l <"$TMP/u.json")" 2
is "usage json: typed values" "$(head -n1 "$TMP/u.json" | jq -c '[.ts, .user_id, .total_tokens, .cost_pusd, .stream]')" \
    '["2002-08-01T00:00:01.250000Z","u1",2,750000,false]'
"$REPORT" usage --month 2002-08 --format json >"$TMP/all.json" 2>/dev/null
is "usage json: escaping survives (quotes, backslash, newline)" \
    "$(head -n1 "$TMP/all.json" | jq -r .user_id)" "$(printf 'a,"b"\\c\nd')"
is "usage json: an empty string stays a string" "$(head -n1 "$TMP/all.json" | jq -c .group_id)" '""'

# many rows: the count and sums match the ledger, memory stays flat
gen 4 200000
"$REPORT" usage --month 2002-08 --format csv >"$TMP/big.csv" 2>/dev/null
is "usage csv: 200001 events, one line each plus the header" "$(wc -l <"$TMP/big.csv")" \
    $(( $(sql "SELECT count(*) FROM usage_events WHERE $P") + 2 ))   # +1 header, +1 embedded newline
is "usage csv: token and cost sums equal the ledger" \
    "$(tail -n +4 "$TMP/big.csv" | awk -F, '{ t += $14; c += $20 } END { printf "%.0f,%.0f", t, c }')" \
    "$(sql "SELECT sum(total_tokens) || ',' || sum(cost_pusd) FROM usage_events WHERE $P AND group_id <> ''")"
is "usage json: one line per event" \
    "$("$REPORT" usage --month 2002-08 --format json 2>/dev/null | wc -l)" \
    "$(sql "SELECT count(*) FROM usage_events WHERE $P")"
# (under ASan freed memory waits in a quarantine: keep it out of the figure)
rss() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
          /usr/bin/time -f %M "$REPORT" usage "$@" 2>&1 >/dev/null | tail -n1; }
small=$(rss --from 2002-08-01 --to 2002-08-01T00:00:10Z)
big=$(rss --month 2002-08 --format json)
check "usage: streaming, max RSS ${big} KB for 200k events vs ${small} KB for 10" \
    test "$big" -lt $((small + 4096))
"$REPORT" usage --month 2002-08 2>"$TMP/err" | head -c 100 >/dev/null
st=${PIPESTATUS[0]}
check "usage: a closed pipe stops the export, not 0 (SIGPIPE or 1): $st" test "$st" -ne 0
"$REPORT" usage --month 2002-08 --format table >/dev/null 2>&1
is "usage: --format table is a usage error" $? 2
"$REPORT" usage --from 2002-08-02 >/dev/null 2>&1
is "usage: no --to is a usage error" $? 2
"$REPORT" usage --month 2002-08 --by group >/dev/null 2>&1
is "usage: --by is a usage error" $? 2
"$REPORT" usage --help >"$TMP/h"
like "usage --help: COPY, columns, JSON Lines" "$(tr '\n' ' ' <"$TMP/h")" \
    "^usage: aigw-report .*COPY.*request_id, ts .*JSON Lines"

# --- quota: limits from aigw-admin, balances in quota_periods
"$ADMIN" quota set --group t0310-g --limit 1000 >/dev/null
"$ADMIN" quota set --user '*' --unit requests --period day --limit 5 >/dev/null
LID=$(sql "SELECT id FROM quota_limits WHERE subject_kind = 'group' AND subject = 't0310-g'")
sql "INSERT INTO quota_periods (limit_id, subject, period_start, period_end, used, reserved)
     SELECT $LID, 't0310-g', ps, pe, 250, 50 FROM aigw_period_bounds('month', now(), 'UTC')" >/dev/null
RESET=$(sql "SELECT to_char(pe AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM aigw_period_bounds('month', now(), 'UTC')")
"$REPORT" quota --group t0310-g --format csv >"$TMP/q.csv"
is "quota csv: exit 0" $? 0
is "quota csv: limit, used, reserved, remaining, reset" "$(cat "$TMP/q.csv")" \
"subject_kind,subject,model,unit,period,limit,used,reserved,remaining,resets_at,time_zone
group,t0310-g,*,total_tokens,month,1000,250,50,700,$RESET,UTC"
"$REPORT" quota --format json >"$TMP/q.json"
is "quota json: every limit, typed" \
    "$(jq -c ".[] | select(.subject_kind == \"group\" and .subject == \"t0310-g\") | [.limit, .used, .remaining]" "$TMP/q.json")" \
    '[1000,250,700]'
is "quota json: a per-user limit no one used yet" \
    "$(jq -c '.[] | select(.subject_kind == "user" and .unit == "requests" and .period == "day") | [.subject, .limit, .used, .remaining]' "$TMP/q.json")" \
    '["*",5,0,5]'
"$REPORT" quota >"$TMP/q.txt"
like "quota table: aligned, with the subject" "$(cat "$TMP/q.txt")" \
    "group +t0310-g +\* +total_tokens +month +1000 +250 +50 +700 +$RESET"
is "quota: the same rows as aigw-admin quota list" \
    "$(grep -c . <(sed 1,2d "$TMP/q.txt"))" "$("$ADMIN" quota list | sed 1d | grep -c .)"
"$REPORT" quota --group a --user b >/dev/null 2>&1
is "quota: two subjects is a usage error" $? 2
"$REPORT" quota --format xml >/dev/null 2>&1
is "quota: bad --format is a usage error" $? 2
"$REPORT" quota --help >"$TMP/h"
like "quota --help: columns" "$(tr '\n' ' ' <"$TMP/h")" '^usage: aigw-report .*remaining, resets_at'

"$REPORT" --help >"$TMP/h"
like "--help: every command" "$(tr '\n' ' ' <"$TMP/h")" 'spend .*usage .*quota .*rollup '
"$REPORT" frob >/dev/null 2>&1
is "unknown command: exit 2" $? 2
cleanup
done_testing
