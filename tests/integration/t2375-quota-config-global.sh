#!/usr/bin/env bash
# A config limit with "scope": "global" is enforced through PostgreSQL (and
# host leases), not host-local shared memory: it appears in quota_limits
# as config-owned, refuses with the quota error once used up, and its usage
# reaches quota_periods like an operator-managed quota.
. "$(dirname "$0")/lib.sh"

grp="q2350-$$"
KEY=$(new_key "u-$grp" "$grp")
LIMIT=100
# into quotas.limits only (the first "limits": plans have their own)
sed "0,/\"limits\": \[/s|\"limits\": \[|&\n{ \"name\": \"cfg-$grp\", \"scope\": \"global\", \"match\": { \"group\": \"$grp\" }, \"unit\": \"total_tokens\", \"window\": \"month\", \"time_zone\": \"Europe/Paris\", \"limit\": $LIMIT },|" \
    "$ROOT/tests/integration/aigw-test.json" >"$TMP/global.json"
chk() { env AIGW_SPOOL_DIR="$VAR/spool" AIGW_UPSTREAM_URL="$MOCK/v1" \
          AIGW_PMOCK_URL="$PMOCK" AIGW_TEST_CREDENTIALS="$VAR/credentials" \
          "$ROOT/fcgi/aigw-fcgi" --check-config "$1" 2>&1; }
like "config accepted" "$(chk "$TMP/global.json")" ': ok'

sed 's/"scope": "global", "match": { "group"/"scope": "global", "per": ["model"], "match": { "group"/' \
    "$TMP/global.json" >"$TMP/bad.json"
like "a global limit per model is rejected" \
    "$(chk "$TMP/bad.json")" 'per model'
spawn_worker "$TMP/global.json" ||
    { not_ok "worker started"; done_testing; exit 1; }
BODY='{"model":"mock-gpt","max_tokens":10,"messages":[{"role":"user","content":"global"}]}'
st() { fcgi_call "$KEY" "$BODY" >"$TMP/resp"; head -n1 "$TMP/resp" | tr -d '\r'; }

is "first request served" "$(st)" "Status: 200 OK"
served=1
# synced when the worker's quotas start (its first request)
is "synced into quota_limits, config-owned" \
    "$(sql "SELECT subject_kind || ' ' || unit || ' ' || period || ' ' || limit_value
            || ' ' || time_zone || ' ' || source FROM quota_limits WHERE subject = '$grp'")" \
    "group total_tokens month $LIMIT Europe/Paris config:cfg-$grp"
for i in 1 2 3 4 5; do
    s=$(st); [ "$s" != "Status: 200 OK" ] && break; served=$((served + 1))
done
is "used up: refused" "$s" "Status: 429 Too Many Requests"
b=$(sed -n '/^{/,$p' "$TMP/resp")
is "429 names the global limit's subject" \
    "$(echo "$b" | jq -r '.error.code + " " + .error.limit.subject_kind + ":" + .error.limit.subject')" \
    "quota_exceeded group:$grp"
wait_sql "SELECT count(*) FROM usage_events WHERE group_id = '$grp' AND http_status = 200" \
    "$served" >/dev/null
tok=$(sql "SELECT sum(total_tokens) FROM usage_events WHERE group_id = '$grp'")
used=$(wait_sql "SELECT used FROM quota_periods p JOIN quota_limits l ON l.id = p.limit_id
                 WHERE l.subject = '$grp'" "$tok")
is "usage in quota_periods equals the ledger ($tok)" "$used" "$tok"
check "within the quota + one reservation" test "$tok" -le $((LIMIT + 40))
stop_worker
done_testing
