#!/usr/bin/env bash
# After the suite's traffic: aigw-report's totals equal the ledger rows the
# gateway wrote, for every grouping and in CSV and JSON.
. "$(dirname "$0")/lib.sh"

FROM=$(date -u -d '-1 day' +%F) TO=$(date -u -d '+2 day' +%F)
W="ts >= '$FROM' AND ts < '$TO'"
sql_tot=$(sql "SELECT count(*) || ',' || sum(prompt_tokens) || ',' || sum(completion_tokens) || ',' ||
    sum(total_tokens) || ',' || round(coalesce(sum(cost_pusd), 0) / 1e12, 6) || ',' ||
    count(*) FILTER (WHERE cost_pusd IS NULL) FROM usage_events WHERE $W")
check "the suite wrote ledger rows today ($sql_tot)" test "${sql_tot%%,*}" -gt 20
for by in api_key user group model; do
    "$REPORT" spend --by "$by" --from "$FROM" --to "$TO" --format csv >"$TMP/$by.csv"
    is "report --by $by: exit 0" $? 0
    # sum the columns after the key (api_key has user_id, group_id too)
    skip=$([ "$by" = api_key ] && echo 3 || echo 1)
    tot=$(tail -n +2 "$TMP/$by.csv" | sed '$d' | awk -F, -v s="$skip" '
        {r+=$(s+1); p+=$(s+2); c+=$(s+3); t+=$(s+4); u+=$(s+6)}
        END {printf "%d,%d,%d,%d,%d", r, p, c, t, u}')
    is "report --by $by: CSV rows sum to the ledger" "$tot" \
        "$(echo "$sql_tot" | awk -F, '{printf "%d,%d,%d,%d,%d", $1, $2, $3, $4, $6}')"
    is "report --by $by: CSV totals row equals the ledger" \
        "$(tail -n1 "$TMP/$by.csv" | cut -d, -f1,$((skip + 1))-$((skip + 6)))" "TOTAL,$sql_tot"
done
# combinations read other rollups (hourly, daily, monthly): same totals
for by in group,model month,group day,provider,route user,model api_key,day; do
    is "report --by $by: totals row equals the ledger" \
        "$("$REPORT" spend --by "$by" --from "$FROM" --to "$TO" --format json |
            jq -r '.[-1] | [.total, .requests, .prompt_tokens, .completion_tokens,
                .total_tokens, .unpriced_requests] | map(tostring) | join(",")')" \
        "true,$(echo "$sql_tot" | awk -F, '{printf "%d,%d,%d,%d,%d", $1, $2, $3, $4, $6}')"
done
json_groups=$("$REPORT" spend --by group --from "$FROM" --to "$TO" --format json --no-total | jq length)
is "report --by group JSON: one object per group" "$json_groups" \
    "$(sql "SELECT count(DISTINCT coalesce(group_id, '')) FROM usage_events WHERE $W")"
eng=$("$REPORT" spend --by group --from "$FROM" --to "$TO" --format json |
    jq -r '.[] | select(.group_id == "eng") | "\(.requests),\(.cost_usd)"')
is "report: one group's requests and cost equal SQL" "$eng" \
    "$(sql "SELECT count(*) || ',' || round(coalesce(sum(cost_pusd), 0) / 1e12, 6)::float8 FROM usage_events WHERE $W AND group_id = 'eng'")"
done_testing
