#!/usr/bin/env bash
# Quota units beyond tokens (route "units": weighted_tokens with output x3
# and mock-big x10; usd at model_prices, mock-gpt $1/$2 per 1M tokens)
# and degrade before the wall (route "degrade": past 30% of 5000 tokens an
# hour, requests go to mock-cheap with max_tokens capped at 7, recorded in
# the ledger and the log line).
. "$(dirname "$0")/lib.sh"

KEY=$(new_key "u-t2360-$$" "g-t2360")
# the local limits here count per hour: stay clear of the hour's end
[ "$(date +%M)" != 59 ] || { s=$(date +%S); sleep $((61 - ${s#0})); }
usage() {  # usage PREFIX LIMIT-NAME: used of that local limit
    curl -s "$GW$1/usage" -H "Authorization: Bearer $KEY" |
        jq -r --arg n "$2" '.limits[] | select(.subject == $n) | .used'
}
ledger() { sql "SELECT $1 FROM usage_events WHERE api_key_id = '$(sql "SELECT id FROM api_keys WHERE user_id = 'u-t2360-$$'")' $2"; }

r=$(post /units/v1/chat/completions "$KEY" "$(chat mock-gpt one ',"max_tokens":50')")
is "units route: served" "$(echo "$r" | status_of)" 200
p=$(echo "$r" | body_of | jq .usage.prompt_tokens); c=$(echo "$r" | body_of | jq .usage.completion_tokens)
is "weighted_tokens: input x1 + output x3" "$(usage /units/v1 units-weighted)" $((p + 3 * c))
is "usd: micro-USD at the model's price (ledger rules)" "$(usage /units/v1 units-usd)" $(( (p * 1000000 + c * 2000000 + 999999) / 1000000 ))
r=$(post /units/v1/chat/completions "$KEY" "$(chat mock-big two ',"max_tokens":50')")
p2=$(echo "$r" | body_of | jq .usage.prompt_tokens); c2=$(echo "$r" | body_of | jq .usage.completion_tokens)
is "weighted_tokens: the model's multiplier (mock-big x10)" "$(usage /units/v1 units-weighted)" \
    $((p + 3 * c + 10 * (p2 + 3 * c2)))
# the estimate is priced too: 150000 completion tokens x $2/M = $0.30 > $0.25
r=$(post /units/v1/chat/completions "$KEY" "$(chat mock-gpt big ',"max_tokens":150000')")
is "usd: an estimate over the dollar limit is refused" "$(echo "$r" | status_of)" 429
is "... naming the usd limit in micro-USD" \
    "$(echo "$r" | body_of | jq -r '.error.limit | "\(.subject) \(.unit) \(.limit)"')" "units-usd usd 250000"

# --- degrade before the wall -------------------------------------------------
big=$(head -c 3000 /dev/zero | tr '\0' 'a')
n=0; served=""
for i in 1 2 3 4; do
    r=$(post /degrade/v1/chat/completions "$KEY" "$(chat mock-gpt "$big$i" ',"max_tokens":50')")
    [ "$(echo "$r" | status_of)" = 200 ] && n=$((n + 1))
    served="$served$(echo "$r" | body_of | jq -r .model) "
done
is "past 30% of the limit: served, not refused" "$n" 4
like "the first requests keep their model, later ones go to mock-cheap" "$served" \
    '^mock-gpt mock-gpt (mock-cheap )+$'
last=$(curl -s "$MOCK/__last")
is "the provider got the cheaper model and max_tokens capped at 7" \
    "$(echo "$last" | jq -r '.body | fromjson | "\(.model) \(.max_tokens)"' 2>/dev/null ||
       echo "$last" | jq -r '"\(.model) \(.max_tokens)"')" "mock-cheap 7"
wait_sql "SELECT count(*) FROM usage_events WHERE route = 'degrade' AND user_id = 'u-t2360-$$'" 4 >/dev/null
like "ledger: degraded rows say how and why" \
    "$(ledger "string_agg(coalesce(degraded, '-'), '|' ORDER BY ts)" "AND route = 'degrade'")" \
    '^-\|-\|limit=degrade-tokens used_pct=[0-9]+ model=mock-cheap max_tokens=7\|limit=degrade-tokens'
is "ledger: requested model kept, served the cheaper one" \
    "$(ledger "requested_model || '>' || served_model" "AND route = 'degrade' AND degraded IS NOT NULL ORDER BY ts LIMIT 1")" \
    "mock-gpt>mock-cheap"
like "log line: degraded" "$(grep -F "u-t2360-$$" "$GWLOG" | grep -F '"route":"degrade"' | tail -1)" \
    '"degraded":"limit=degrade-tokens used_pct=[0-9]+ model=mock-cheap max_tokens=7"'

# a caller whose plan ("free": mock-gpt only) excludes the cheaper model:
# its model is kept, the max_tokens cap still applies
FREE=$("$ADMIN" key create --user "u-free-t2360-$$" --group "g-t2360-$$" \
        --name t --metadata '{"plan":"free"}' 2>/dev/null)
served=""
for i in 1 2 3; do
    r=$(post /degrade/v1/chat/completions "$FREE" "$(chat mock-gpt "$big$i" ',"max_tokens":50')")
    served="$served$(echo "$r" | status_of):$(echo "$r" | body_of | jq -r .model) "
done
is "free plan past the share: served, never a model outside its plan" "$served" \
    "200:mock-gpt 200:mock-gpt 200:mock-gpt "
last=$(curl -s "$MOCK/__last")
is "free plan: the provider got mock-gpt with max_tokens capped at 7" \
    "$(echo "$last" | jq -r '.body | fromjson | "\(.model) \(.max_tokens)"' 2>/dev/null ||
       echo "$last" | jq -r '"\(.model) \(.max_tokens)"')" "mock-gpt 7"
like "free plan: the skipped model switch is logged" \
    "$(grep -F 'mock-cheap is outside the caller' "$GWLOG" | tail -1)" 'degrade: mock-cheap is outside'

# --- operators: aigw-admin and the admin API take the new units -------------
G="g-t2360-admin-$$"
like "aigw-admin quota set --unit usd: dollars" \
    "$("$ADMIN" quota set --group "$G" --unit usd --limit 12.50 2>&1)" 'usd per month: 12500000'
is "stored as micro-USD" \
    "$(sql "SELECT limit_value FROM quota_limits WHERE subject = '$G' AND unit = 'usd'")" 12500000
is "aigw-admin quota set --unit weighted_tokens" \
    "$("$ADMIN" quota set --group "$G" --unit weighted_tokens --limit 500000 >/dev/null 2>&1; echo $?)" 0
is "aigw-admin: bad dollars refused (usage, exit 2)" \
    "$("$ADMIN" quota set --group "$G" --unit usd --limit 1x >/dev/null 2>&1; echo $?)" 2
ADMKEY=$("$ADMIN" key create --user "adm-t2360-$$" --group ops --name adm --admin 2>/dev/null)
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$GW/admin/quotas" \
     -H "Authorization: Bearer $ADMKEY" -H 'Content-Type: application/json' \
     --data-binary "{\"action\":\"set\",\"subject_kind\":\"group\",\"subject\":\"$G\",\"unit\":\"usd\",\"period\":\"month\",\"value\":7.25}")
is "admin API: usd value in dollars" "$st $(sql "SELECT limit_value FROM quota_limits WHERE subject = '$G' AND unit = 'usd'")" \
    "200 7250000"
"$ADMIN" quota delete --group "$G" --unit usd >/dev/null 2>&1
"$ADMIN" quota delete --group "$G" --unit weighted_tokens >/dev/null 2>&1
done_testing
