#!/usr/bin/env bash
# aigw-report spend --by every single dimension, every pair and wider
# combinations equals a GROUP BY over the raw ledger, row for row, to the
# token and to the pico-USD, and its totals row equals the ledger's sums:
# over whole months (monthly rollup), whole days (daily), partial days and
# hours (hourly + raw edges), with rolled rows, late rows for rolled hours
# and a live tail. Concurrent rollup runs, with events arriving meanwhile,
# fold every event exactly once. Its synthetic rows live in 2002-05..06.
. "$(dirname "$0")/lib.sh"

M="ts >= '2002-05-01' AND ts < '2002-07-01'"
cleanup() {
    sql "DELETE FROM usage_events WHERE $M" >/dev/null
    sql "DELETE FROM usage_rollup_hourly WHERE hour >= '2002-05-01' AND hour < '2002-07-01'" >/dev/null
    sql "DELETE FROM usage_rollup_daily_group WHERE day >= '2002-05-01' AND day < '2002-07-01'" >/dev/null
    sql "DELETE FROM usage_rollup_monthly_group WHERE month >= '2002-05-01' AND month < '2002-07-01'" >/dev/null
}
cleanup
# ingest FIRST LAST SEED: events FIRST..LAST over May and June 2002
ingest() {
    sql "SELECT aigw_ingest_usage(jsonb_agg(jsonb_build_object(
        'request_id', md5('t2125-$3-' || i)::uuid,
        'ts', timestamptz '2002-05-01' + (i * 7919 % 5270400) * interval '1 second'
              + (i % 1000) * interval '1 microsecond',
        'api_key_id', CASE WHEN i % 13 = 0 THEN NULL ELSE md5('t2125-key' || (i % 6))::uuid END,
        'user_id', CASE WHEN i % 17 = 0 THEN NULL ELSE 'u' || (i % 9) END,
        'group_id', CASE WHEN i % 11 = 0 THEN NULL ELSE 'g' || (i % 4) END,
        'route', (ARRAY['default', 'batch'])[1 + i % 2],
        'provider', (ARRAY['openai', 'anthropic', 'bedrock'])[1 + i % 3],
        'backend', 'mock',
        'requested_model', (ARRAY['mock-gpt', 'gpt-4o-mini', 'unpriced-model', 'gpt-4o'])[1 + i % 4],
        'served_model', CASE WHEN i % 5 = 0 THEN NULL ELSE (ARRAY['mock-gpt', 'gpt-4o-mini', 'unpriced-model', 'gpt-4o'])[1 + i % 4] END,
        'http_status', 200, 'prompt_tokens', 10 + i % 997, 'completion_tokens', i % 531,
        'total_tokens', 10 + i % 997 + i % 531, 'cached_tokens', i % 7,
        'usage_source', 'provider')))
        FROM generate_series($1, $2) i"
}
# What the ledger says for --by $1 over [$2, $3), as aigw-report's CSV rows.
expr_of() {
    case $1 in
    api_key) echo "u.api_key_id::text" ;;
    model) echo "coalesce(u.served_model, u.requested_model)" ;;
    day) echo "to_char(u.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD')" ;;
    month) echo "to_char(u.ts AT TIME ZONE 'UTC', 'YYYY-MM')" ;;
    user) echo "u.user_id" ;;
    *) echo "u.${1}_id" | sed 's/u.provider_id/u.provider/; s/u.route_id/u.route/' ;;
    esac
}
ledger() {
    local keys=() d
    IFS=, read -ra dims <<<"$1"
    for d in "${dims[@]}"; do
        keys+=("$(expr_of "$d")")
        if [ "$d" = api_key ]; then
            [[ ",$1," == *,user,* ]] || keys+=("k.user_id")
            [[ ",$1," == *,group,* ]] || keys+=("k.group_id")
        fi
    done
    local list order=() k
    list=$(IFS=,; echo "${keys[*]}")
    for k in "${keys[@]}"; do order+=("$k COLLATE \"C\""); done
    psql -qAtX --csv -v ON_ERROR_STOP=1 -c "SELECT $list, count(*), sum(prompt_tokens),
        sum(completion_tokens), sum(total_tokens),
        round(coalesce(sum(cost_pusd), 0) * 0.000000000001, 6),
        count(*) FILTER (WHERE cost_pusd IS NULL), coalesce(sum(cost_pusd), 0)
        FROM usage_events u LEFT JOIN api_keys k ON k.id = u.api_key_id
        WHERE u.ts >= '$2' AND u.ts < '$3'
        GROUP BY $list ORDER BY $(IFS=,; echo "${order[*]}")"
}
totals() {  # the ledger's sums over [$1, $2), as the CSV totals row's values
    psql -qAtX --csv -c "SELECT count(*), coalesce(sum(prompt_tokens), 0),
        coalesce(sum(completion_tokens), 0), coalesce(sum(total_tokens), 0),
        round(coalesce(sum(cost_pusd), 0) * 0.000000000001, 6),
        count(*) FILTER (WHERE cost_pusd IS NULL), coalesce(sum(cost_pusd), 0)
        FROM usage_events WHERE ts >= '$1' AND ts < '$2'"
}
DIMS=(api_key user group model provider route day month)
COMBOS=("${DIMS[@]}")
for ((i = 0; i < ${#DIMS[@]}; i++)); do
    for ((j = i + 1; j < ${#DIMS[@]}; j++)); do
        COMBOS+=("${DIMS[i]},${DIMS[j]}")
    done
done
COMBOS+=(month,group,model group,model,provider,route day,user,api_key
    route,provider,model,group,user,api_key,month,day)
# a quicker set: each rollup (monthly, daily, hourly) and the api_keys join
SOME=(group month,group group,model day,route user,model api_key
    route,provider,model,group,user,api_key,month,day)
# compare LABEL FROM TO [all]: the combinations, row for row, and their
# totals rows
compare() {
    local by bad=0 badt=0 want got tot list
    tot=$(totals "$2" "$3")
    if [ "${4:-}" = all ]; then list=("${COMBOS[@]}"); else list=("${SOME[@]}"); fi
    for by in "${list[@]}"; do
        "$REPORT" spend --by "$by" --from "$2" --to "$3" --format csv >"$TMP/r.csv"
        want=$(ledger "$by" "$2" "$3")
        got=$(sed '1d;$d' "$TMP/r.csv")
        if [ "$got" != "$want" ]; then
            bad=$((bad + 1))
            echo "# $1 --by $by differs:"; diff <(echo "$want") <(echo "$got") | head -5 | sed 's/^/#   /'
        fi
        IFS=, read -ra dims <<<"$by"
        n=${#dims[@]}
        [[ ",$by," == *,api_key,* ]] && { [[ ",$by," == *,user,* ]] || n=$((n + 1)); [[ ",$by," == *,group,* ]] || n=$((n + 1)); }
        got=$(tail -n1 "$TMP/r.csv" | cut -d, -f1,$((n + 1))-)
        if [ "$got" != "TOTAL,$tot" ]; then
            badt=$((badt + 1)); echo "# $1 --by $by totals: $got vs TOTAL,$tot"
        fi
    done
    is "$1: ${#list[@]} --by combinations equal the ledger row for row" $bad 0
    is "$1: every totals row equals the ledger's sums" $badt 0
}
compare_all() {
    compare "$1, whole months" 2002-05-01 2002-07-01 "${2:-}"
    compare "$1, partial days and hours" 2002-05-10T13:30:00.5Z 2002-06-20T07:15:30+02:00 "${2:-}"
    compare "$1, within one hour" 2002-06-03T10:05:00Z 2002-06-03T10:55:00Z
}

is "ingest 4000 events" "$(ingest 1 4000 a)" 4000
compare_all "all in the tail"
"$REPORT" rollup 2>/dev/null
compare_all "rolled up"
is "late events for rolled hours" "$(ingest 4001 4600 a)" 600
compare_all "rolled up plus a tail of late events" all

# concurrent rollups while events arrive: each event folded exactly once
for b in 1 2 3 4 5 6; do
    ingest $((4600 + b * 100 - 99)) $((4600 + b * 100)) a >/dev/null &
    "$REPORT" rollup 2>>"$TMP/roll" &
done
wait
"$REPORT" rollup 2>>"$TMP/roll"
check "concurrent rollups: every run succeeded" \
    test "$(grep -c '^aigw-report: rolled up [0-9]* usage events$' "$TMP/roll")" -eq 7
RAW=$(sql "SELECT count(*) || ',' || sum(total_tokens) || ',' || sum(cost_pusd) FROM usage_events WHERE $M")
is "6 concurrent batches ingested" "${RAW%%,*}" 5200
for t in "hourly WHERE hour" "daily_group WHERE day" "monthly_group WHERE month"; do
    is "after concurrent runs usage_rollup_${t%% *} equals the ledger exactly" \
        "$(sql "SELECT sum(requests) || ',' || sum(total_tokens) || ',' || sum(cost_pusd)
            FROM usage_rollup_$t >= '2002-05-01' AND ${t##* } < '2002-07-01'")" "$RAW"
done
is "the tail is empty after the last run" \
    "$(sql "SELECT count(*) FROM usage_events WHERE $M AND ins_xid >= (SELECT rolled_xid FROM usage_rollup_watermark)")" 0
compare "after concurrent rollups, whole months" 2002-05-01 2002-07-01
is "a run with nothing new folds nothing" \
    "$("$REPORT" rollup 2>&1)" "aigw-report: rolled up 0 usage events"
is "aigw_rollup_usage() (0005's name) runs the same rollup" \
    "$(sql "SELECT aigw_rollup_usage()")" 0

# --group: one group's rows (the monthly per-group export in conf/)
is "--group g1 --by user,model: the group's rows, row for row" \
    "$("$REPORT" spend --by user,model --group g1 --month 2002-06 --format csv | sed '1d;$d')" \
    "$(psql -qAtX --csv -c "SELECT user_id, coalesce(served_model, requested_model), count(*),
        sum(prompt_tokens), sum(completion_tokens), sum(total_tokens),
        round(coalesce(sum(cost_pusd), 0) * 0.000000000001, 6),
        count(*) FILTER (WHERE cost_pusd IS NULL), coalesce(sum(cost_pusd), 0)
        FROM usage_events WHERE ts >= '2002-06-01' AND ts < '2002-07-01' AND group_id = 'g1'
        GROUP BY 1, 2 ORDER BY user_id COLLATE \"C\", 2")"

# the table format: columns in --by order, TOTAL last
"$REPORT" spend --by month,group --month 2002-05 >"$TMP/t"
like "table: month,group header" "$(head -n1 "$TMP/t")" '^month +group_id +requests +prompt_tokens'
like "table: TOTAL line with the month's requests" "$(tail -n1 "$TMP/t")" \
    "^TOTAL +$(sql "SELECT count(*) FROM usage_events WHERE ts >= '2002-05-01' AND ts < '2002-06-01'") "
like "table: no group shows as (none)" "$(cat "$TMP/t")" '2002-05 +\(none\) '
is "--by api_key,user,group: the key's owner columns give way to the named ones" \
    "$("$REPORT" spend --by api_key,user,group --month 2002-05 --format csv | head -n1)" \
    api_key_id,user_id,group_id,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd,unpriced_requests,cost_pusd
is "--by group,api_key: key columns, then the key's user" \
    "$("$REPORT" spend --by group,api_key --month 2002-05 --format csv | head -n1 | cut -d, -f1-4)" \
    group_id,api_key_id,user_id,requests
"$REPORT" spend --by group,group --month 2002-05 2>"$TMP/err" >/dev/null
is "--by with a repeated dimension: exit 2" $? 2
like "--by repeated: names it" "$(cat "$TMP/err")" "invalid --by value 'group'"
"$REPORT" spend --by group, --month 2002-05 2>"$TMP/err" >/dev/null
is "--by with an empty item: exit 2" $? 2
"$REPORT" spend --by group,team --month 2002-05 2>"$TMP/err" >/dev/null
like "--by unknown dimension: named" "$(cat "$TMP/err")" "'team'"
"$REPORT" spend --help >"$TMP/h"
like "spend --help: lists every dimension" "$(tr '\n' ' ' <"$TMP/h")" \
    'api_key, user, group, model .*provider, route, day .*month'
like "spend --help: documents the totals row" "$(cat "$TMP/h")" 'totals row'
"$REPORT" rollup --help >"$TMP/h"
like "rollup --help: hourly, concurrent runs" "$(tr '\n' ' ' <"$TMP/h")" 'hourly.*concurrently'
cleanup
done_testing
