#!/usr/bin/env bash
# Quotas managed by operators: aigw-admin quota set/add/reset and the admin
# API take effect on the next request and are audited; 429s name the limit
# and carry the rate-limit headers; GET /v1/usage shows the caller's own.
. "$(dirname "$0")/lib.sh"

grp="q2310-$$"
KEY=$(new_key "u-$grp" "$grp")
ADMKEY=$("$ADMIN" key create --user "adm-$grp" --group ops --name adm --admin 2>/dev/null)
BODY='{"model":"mock-gpt","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}'
call() {
    curl -s -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' "$GW/v1/chat/completions" \
        -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        --data-binary "$BODY"
}
quiet() { "$@" >/dev/null; }
hdr() { grep -i "^$1:" "$TMP/h" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

# no limit yet: served, no rate-limit headers
is "no limit: 200" "$(call)" 200
is "no limit: no x-ratelimit headers" "$(grep -ci '^x-ratelimit' "$TMP/h")" 0

# a quota of 100 tokens a month for the group, via the CLI
check "cli: quota set" quiet "$ADMIN" quota set --group "$grp" --limit 100 --tz Europe/Berlin
is "set: next request allowed" "$(call)" 200
is "allowed: x-ratelimit-limit-tokens" "$(hdr x-ratelimit-limit-tokens)" 100
like "allowed: x-ratelimit-remaining-tokens" "$(hdr x-ratelimit-remaining-tokens)" '^[0-9]+$'
like "allowed: x-ratelimit-reset-tokens" "$(hdr x-ratelimit-reset-tokens)" '^[0-9]+s$'
like "allowed: RateLimit-Policy" "$(hdr RateLimit-Policy)" '^"tokens";q=100;w=[0-9]+$'
like "allowed: RateLimit" "$(hdr RateLimit)" '^"tokens";r=[0-9]+;t=[0-9]+$'
for i in 1 2 3 4 5; do st=$(call); [ "$st" = 429 ] && break; done
is "exhausted: 429" "$st" 429
b=$(cat "$TMP/b")
is "429: OpenAI error shape, quota code" "$(echo "$b" | jq -r '.error.code + " " + .error.type')" \
    "quota_exceeded insufficient_quota"
is "429: names the subject" "$(echo "$b" | jq -r '.error.limit.subject_kind + ":" + .error.limit.subject')" \
    "group:$grp"
is "429: names the window" "$(echo "$b" | jq -r .error.limit.window)" month
like "429: reset time" "$(echo "$b" | jq -r .error.limit.reset_at)" '^20[0-9-]+T[0-9:]+Z$'
like "429: Retry-After" "$(hdr Retry-After)" '^[0-9]+$'
is "429: remaining-tokens header" "$(hdr x-ratelimit-limit-tokens)" 100

# /v1/usage: the caller's own limits
u=$(curl -s "$GW/v1/usage" -H "Authorization: Bearer $KEY")
is "usage: one limit" "$(echo "$u" | jq '.limits | length')" 1
is "usage: limit, unit, window" "$(echo "$u" | jq -r '.limits[0] | "\(.limit) \(.unit) \(.window)"')" \
    "100 total_tokens month"
used=$(echo "$u" | jq '.limits[0].used')
is "usage: used matches the balance" "$used" \
    "$(sql "SELECT used FROM quota_periods p JOIN quota_limits l ON l.id = p.limit_id WHERE l.subject = '$grp'")"
is "usage: remaining = limit - used" "$(echo "$u" | jq '.limits[0].remaining')" $((100 - used))
is "usage: unauthenticated is 401" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$GW/v1/usage")" 401

# raise it mid-month with the CLI: the next request passes
check "cli: quota add" quiet "$ADMIN" quota add --group "$grp" --amount 1000
is "add: next request allowed" "$(call)" 200
like "cli: quota show lists the raised limit" "$("$ADMIN" quota show --group "$grp")" \
    "group +$grp .* 1100 "
# reset: usage back to zero (once this host has pushed its batched usage,
# which would otherwise land after the reset)
wait_sql "SELECT (SELECT used FROM quota_periods p JOIN quota_limits l
    ON l.id = p.limit_id WHERE l.subject = '$grp') = (SELECT sum(total_tokens)
    FROM usage_events WHERE group_id = '$grp')" t >/dev/null
check "cli: quota reset" quiet "$ADMIN" quota reset --group "$grp"
is "reset: used is 0" "$(sql "SELECT used FROM quota_periods p JOIN quota_limits l
    ON l.id = p.limit_id WHERE l.subject = '$grp'")" 0
# lower it to 0 via set: refused at once
check "cli: quota set 0" quiet "$ADMIN" quota set --group "$grp" --limit 0
is "set 0: next request refused" "$(call)" 429

# the admin API
api() {
    curl -s -o "$TMP/ab" -w '%{http_code}' -X "$1" "$GW/admin/quotas" \
        -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"}
}
is "admin api: no credential 401" "$(curl -s -o /dev/null -w '%{http_code}' "$GW/admin/quotas")" 401
is "admin api: non-admin key 403" "$(api GET "$KEY")" 403
is "admin api: list 200" "$(api GET "$ADMKEY")" 200
is "admin api: list shows the limit" \
    "$(jq -r --arg g "$grp" '.data[] | select(.subject == $g) | .limit' "$TMP/ab")" 0
is "admin api: set" "$(api POST "$ADMKEY" "{\"action\":\"set\",\"subject_kind\":\"group\",\"subject\":\"$grp\",\"unit\":\"total_tokens\",\"period\":\"month\",\"value\":500}")" 200
is "admin api: next request allowed" "$(call)" 200
is "admin api: bad unit is 400" "$(api POST "$ADMKEY" "{\"action\":\"set\",\"subject_kind\":\"group\",\"subject\":\"$grp\",\"unit\":\"bananas\",\"value\":1}")" 400
is "admin api: add to a missing limit is 404" "$(api POST "$ADMKEY" "{\"action\":\"add\",\"subject_kind\":\"user\",\"subject\":\"nobody-$grp\",\"value\":1}")" 404

# every change audited: who, old, new
is "audit: one row per change" "$(sql "SELECT string_agg(action, ',' ORDER BY id) FROM quota_audit WHERE subject = '$grp'")" \
    "set,add,reset,set,set"
like "audit: CLI actor" "$(sql "SELECT actor FROM quota_audit WHERE subject = '$grp' ORDER BY id LIMIT 1")" '^cli:'
like "audit: API actor" "$(sql "SELECT actor FROM quota_audit WHERE subject = '$grp' ORDER BY id DESC LIMIT 1")" '^admin-api:'
is "audit: old and new values" "$(sql "SELECT old_value->>'limit' || '->' || (new_value->>'limit') FROM quota_audit WHERE subject = '$grp' ORDER BY id DESC LIMIT 1")" "0->500"
check "audit: no key secret in the audit rows" \
    bash -c "! psql -qAtX -c 'SELECT * FROM quota_audit' | grep -q sk-aigw-"
done_testing
