#!/usr/bin/env bash
# Degrade before the wall on global quotas (PostgreSQL limits held as host
# leases): past the limit's degrade share, requests go to the cheaper model
# and/or get max_tokens capped (seen at the mock and in the ledger's served
# model and degraded column), and 100% still refuses. Operators set and
# clear it with aigw-admin and the admin API (audited); a config global
# limit carries its "degrade" into quota_limits.
. "$(dirname "$0")/lib.sh"

G="g2380-$$"
KEY=$(new_key "u-$G" "$G")
ADMKEY=$("$ADMIN" key create --user "adm-$G" --group ops --name adm --admin 2>/dev/null)
big=$(head -c 600 /dev/zero | tr '\0' 'a')
# one request: "<status> <model served>" (the mock echoes the model)
ask() {
    r=$(post /v1/chat/completions "$1" "$(chat mock-gpt "$big$2" ',"max_tokens":50')")
    echo "$(echo "$r" | status_of) $(echo "$r" | body_of | jq -r '.model // .error.code')"
}
mock_last() {  # "model max_tokens" of the mock's last request
    local l; l=$(curl -s "$MOCK/__last")
    echo "$l" | jq -r '.body | fromjson | "\(.model) \(.max_tokens)"' 2>/dev/null ||
        echo "$l" | jq -r '"\(.model) \(.max_tokens)"'
}
ledger() { sql "SELECT $1 FROM usage_events WHERE group_id = '$2' ${3:-}"; }

# --- a monthly group token quota, degrade at 50% to mock-cheap (CLI) ------
like "cli: quota set --limit with --degrade-at" \
    "$("$ADMIN" quota set --group "$G" --limit 1000 --degrade-at 50 --degrade-model mock-cheap)" \
    'degrade: .* from 50% to model mock-cheap'
like "cli: quota show has the degrade settings" \
    "$("$ADMIN" quota show --group "$G")" "group +$G .* 50%>mock-cheap\$"
seq=""
for i in $(seq 1 12); do
    s=$(ask "$KEY" "$i"); seq="$seq${s#* } "
    [ "${s%% *}" = 429 ] && break
    [ "${s#* }" = mock-cheap ] && last_cheap=$(mock_last)
done
# ~175 tokens a request against 1000: 3 below the share, 2 past it
like "below 50% the requested model, past it mock-cheap, then the wall" \
    "$seq" '^mock-gpt mock-gpt (mock-gpt )*(mock-cheap )+quota_exceeded $'
is "the provider got the cheaper model (max_tokens untouched)" "$last_cheap" "mock-cheap 50"
n=$(echo "$seq" | grep -o 'mock-' | wc -l)
wait_sql "SELECT count(*) FROM usage_events WHERE group_id = '$G' AND http_status = 200" "$n" >/dev/null
is "ledger: requested model kept, the cheaper one served when degraded" \
    "$(ledger "string_agg(requested_model || '>' || served_model, ' ' ORDER BY ts)" "$G" "AND http_status = 200")" \
    "$(echo "$seq" | sed 's/quota_exceeded //; s/mock-\(gpt\|cheap\)/mock-gpt>mock-\1/g; s/ $//')"
like "ledger: degraded says which global limit and the share" \
    "$(ledger "string_agg(coalesce(degraded, '-'), '|' ORDER BY ts)" "$G" "AND http_status = 200")" \
    "^-\|-\|(-\|)*limit=group:$G/month used_pct=(5[0-9]|[6-9][0-9]) model=mock-cheap(\|limit=group:$G/month used_pct=[0-9]+ model=mock-cheap)*\$"
like "log line: degraded" "$(grep -F "\"group_id\":\"$G\"" "$GWLOG" | grep -F '"served_model":"mock-cheap"' | tail -1)" \
    "\"degraded\":\"limit=group:$G/month used_pct=[0-9]+ model=mock-cheap\""
wait_sql "SELECT count(*) FROM usage_events WHERE group_id = '$G' AND http_status = 429" 1 >/dev/null
is "ledger: the refused request is not marked degraded" \
    "$(ledger "count(*) FILTER (WHERE degraded IS NULL) || '/' || count(*)" "$G" "AND http_status = 429")" "1/1"
tok=$(ledger "sum(total_tokens)" "$G")
check "within the quota + one reservation ($tok of 1000)" test "$tok" -le 1100
is "audit: the limit and its degrade, by the CLI" \
    "$(sql "SELECT string_agg(action || ':' || coalesce(new_value->>'degrade_pct', new_value->>'limit'), ',' ORDER BY id)
            FROM quota_audit WHERE subject = '$G'")" "set:1000,degrade:50"

# --- max_tokens cap via the admin API, cleared with the CLI ---------------
G2="g2380b-$$"
KEY2=$(new_key "u-$G2" "$G2")
check "cli: a limit without degrade" bash -c "'$ADMIN' quota set --group '$G2' --limit 10000 >/dev/null"
api() {
    curl -s -o "$TMP/ab" -w '%{http_code}' -X "$1" "$GW/admin/quotas" \
        -H "Authorization: Bearer $ADMKEY" -H 'Content-Type: application/json' \
        ${2:+--data-binary "$2"}
}
lim="\"subject_kind\":\"group\",\"subject\":\"$G2\",\"unit\":\"total_tokens\",\"period\":\"month\""
is "admin api: degrade without at_pct is 400" \
    "$(api POST "{\"action\":\"degrade\",$lim,\"degrade\":{\"model\":\"x\"}}")" 400
is "admin api: degrade without a model or cap is 400" \
    "$(api POST "{\"action\":\"degrade\",$lim,\"degrade\":{\"at_pct\":5}}")" 400
is "admin api: degrade at 101% is 400" \
    "$(api POST "{\"action\":\"degrade\",$lim,\"degrade\":{\"at_pct\":101,\"max_tokens\":7}}")" 400
is "admin api: degrade a missing limit is 404" \
    "$(api POST "{\"action\":\"degrade\",\"subject_kind\":\"group\",\"subject\":\"none-$G2\",\"degrade\":{\"at_pct\":1,\"max_tokens\":7}}")" 404
is "admin api: set with degrade at 1%, max_tokens 7" \
    "$(api POST "{\"action\":\"set\",$lim,\"value\":10000,\"degrade\":{\"at_pct\":1,\"max_tokens\":7}}")" 200
is "admin api: list shows the degrade settings" "$(api GET)" 200
is "... at_pct, model, max_tokens" \
    "$(jq -c --arg g "$G2" '.data[] | select(.subject == $g) | .degrade' "$TMP/ab")" \
    '{"at_pct":1,"model":null,"max_tokens":7}'
is "first request: below 1%, not capped" "$(ask "$KEY2" a) $(mock_last)" "200 mock-gpt mock-gpt 50"
is "past 1%: the model kept, max_tokens capped at 7" "$(ask "$KEY2" b) $(mock_last)" "200 mock-gpt mock-gpt 7"
like "cli: quota set --no-degrade" "$("$ADMIN" quota set --group "$G2" --no-degrade)" 'degrade: .*: off'
is "cleared: not capped any more" "$(ask "$KEY2" c) $(mock_last)" "200 mock-gpt mock-gpt 50"
wait_sql "SELECT count(*) FROM usage_events WHERE group_id = '$G2'" 3 >/dev/null
like "ledger: only the capped request is degraded" \
    "$(ledger "string_agg(coalesce(degraded, '-'), '|' ORDER BY ts)" "$G2")" \
    "^-\|limit=group:$G2/month used_pct=[0-9]+ max_tokens=7\|-\$"
is "audit: set, set and degrade (API), degrade off (CLI)" \
    "$(sql "SELECT string_agg(action || ':' || split_part(actor, ':', 1) || ':' || coalesce(new_value->>'degrade_pct', new_value->>'limit', 'off'), ',' ORDER BY id)
            FROM quota_audit WHERE subject = '$G2'")" \
    "set:cli:10000,set:admin-api:10000,degrade:admin-api:1,degrade:cli:off"
is "audit: old and new degrade values" \
    "$(sql "SELECT old_value->>'degrade_max_tokens' || '->' || coalesce(new_value->>'degrade_max_tokens', 'null')
            FROM quota_audit WHERE subject = '$G2' ORDER BY id DESC LIMIT 1")" "7->null"
is "cli: --degrade-model without --degrade-at is a usage error" \
    "$("$ADMIN" quota set --group "$G2" --degrade-model x >/dev/null 2>&1; echo $?)" 2
is "cli: --degrade-at without a model or cap is a usage error" \
    "$("$ADMIN" quota set --group "$G2" --degrade-at 50 >/dev/null 2>&1; echo $?)" 2
is "cli: degrade on a missing limit fails" \
    "$("$ADMIN" quota set --group "none-$G2" --degrade-at 5 --degrade-max-tokens 9 >/dev/null 2>&1; echo $?)" 1

# --- a config global limit with degrade ------------------------------------
G3="g2380c-$$"
KEY3=$(new_key "u-$G3" "$G3")
sed "0,/\"limits\": \[/s|\"limits\": \[|&\n{ \"name\": \"cfg-$G3\", \"scope\": \"global\", \"match\": { \"group\": \"$G3\" }, \"unit\": \"total_tokens\", \"window\": \"month\", \"limit\": 1000, \"degrade\": { \"at_pct\": 50, \"model\": \"mock-cheap\", \"max_tokens\": 9 } },|" \
    "$ROOT/tests/integration/aigw-test.json" >"$TMP/global.json"
spawn_worker "$TMP/global.json" ||
    { not_ok "worker started"; done_testing; exit 1; }
BODY="{\"model\":\"mock-gpt\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"$big\"}]}"
seq=""
for i in $(seq 1 12); do
    fcgi_call "$KEY3" "$BODY" >"$TMP/resp"
    s=$(head -n1 "$TMP/resp" | tr -d '\r')
    [ "$s" != "Status: 200 OK" ] && { seq="${seq}refused"; break; }
    m=$(sed -n '/^{/,$p' "$TMP/resp" | jq -r .model)
    seq="$seq$m "
    [ "$m" = mock-cheap ] && last_cheap=$(mock_last)
done
is "config: degrade synced into quota_limits" \
    "$(sql "SELECT degrade_pct || ' ' || degrade_model || ' ' || degrade_max_tokens || ' ' || source
            FROM quota_limits WHERE subject = '$G3'")" "50 mock-cheap 9 config:cfg-$G3"
is "config: the synced row audited (actor config:<name>)" \
    "$(sql "SELECT actor || ' ' || action || ' ' || coalesce(old_value::text, 'null') || ' '
            || (new_value->>'limit') || ' ' || (new_value->>'degrade_pct')
            FROM quota_audit WHERE subject = '$G3'")" "config:cfg-$G3 config null 1000 50"
like "config: requested model, then mock-cheap, then refused" \
    "$seq" '^mock-gpt mock-gpt (mock-gpt )*(mock-cheap )+refused$'
is "config: the provider got mock-cheap capped at 9" "$last_cheap" "mock-cheap 9"
like "config: 429 names the global limit" \
    "$(sed -n '/^{/,$p' "$TMP/resp" | jq -r '.error.code + " " + .error.limit.subject_kind + ":" + .error.limit.subject')" \
    "quota_exceeded group:$G3"
stop_worker
done_testing
