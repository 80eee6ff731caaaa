#!/usr/bin/env bash
# Plans (tiers): a caller's plan comes from the trusted header, the key's
# metadata "plan", the JWT claim "plan", else the default ("standard");
# each plan's limits count only for its callers (free: 2 requests a minute
# on the "plan" route, pro: 4) and a plan's model list refuses other
# models with RBAC's error (403 model_not_allowed).
. "$(dirname "$0")/lib.sh"

plan_key() {
    "$ADMIN" key create --user "$1" --group g-t2340 --name t2340 \
        ${2:+--metadata "{\"plan\":\"$2\"}"} 2>/dev/null
}
FREE=$(plan_key "free-$$" free)
PRO=$(plan_key "pro-$$" pro)
STD=$(plan_key "std-$$")
# stay clear of a minute boundary: each burst must share one window
clear_minute() { local s; s=$(date +%S); [ "${s#0}" -lt 52 ] || sleep $((61 - ${s#0})); }
clear_minute

burst() {  # burst KEY N [curl args]: the statuses of N requests
    local key=$1 n=$2 i; shift 2
    for i in $(seq 1 "$n"); do
        post /plan/v1/chat/completions "$key" "$(chat mock-gpt "p$i")" "$@" | status_of
    done | tr '\n' ' '
}
is "free plan (key metadata): 2 a minute" "$(burst "$FREE" 3)" "200 200 429 "
r=$(post /plan/v1/chat/completions "$FREE" "$(chat mock-gpt over)")
is "the refusal names the plan's limit" \
    "$(echo "$r" | body_of | jq -r '.error.limit.subject + " " + .error.code')" \
    "free-rpm rate_limit_exceeded"
is "pro plan: 4 a minute" "$(burst "$PRO" 5)" "200 200 200 200 429 "
is "default plan: not limited by the plans' limits" "$(burst "$STD" 5)" \
    "200 200 200 200 200 "
is "plan limits: only on their route" \
    "$(post /v1/chat/completions "$FREE" "$(chat mock-gpt x)" | status_of)" 200

# models: free may use mock-gpt only, with RBAC's error shape
r=$(post /v1/chat/completions "$FREE" "$(chat gpt-4o-mini x)")
is "free plan: another model refused 403" "$(echo "$r" | status_of)" 403
is "... with RBAC's error" \
    "$(echo "$r" | body_of | jq -r '.error.type + " " + .error.code')" \
    "permission_error model_not_allowed"
is "pro plan: every model" \
    "$(post /v1/chat/completions "$PRO" "$(chat gpt-4o-mini x)" | status_of)" 200

# the trusted header selects the plan (here: the config trusts it)
STD2=$(plan_key "std2-$$")
clear_minute
is "header X-Aigw-Plan: free applies" \
    "$(burst "$STD2" 3 -H 'X-Aigw-Plan: free')" "200 200 429 "
is "header: an unknown plan is the default" \
    "$(post /v1/chat/completions "$STD2" "$(chat gpt-4o-mini x)" -H 'X-Aigw-Plan: gold' | status_of)" 200

# a JWT's "plan" claim
node "$ROOT/tests/mock/jwt-mint.mjs" "$VAR/jwt-keys" >"$TMP/tok.json" <<JSON
[{"name":"pro", "key":"rsa1", "claims":{"plan":"pro","preferred_username":"jwt-pro-$$"}},
 {"name":"free", "key":"rsa1", "claims":{"plan":"free","preferred_username":"jwt-free-$$"}}]
JSON
JP=$(jq -r .pro "$TMP/tok.json"); JF=$(jq -r .free "$TMP/tok.json")
clear_minute
is "JWT claim plan=pro: 4 a minute" "$(burst "$JP" 5)" "200 200 200 200 429 "
is "JWT claim plan=free: model list applies" \
    "$(post /plan/v1/chat/completions "$JF" "$(chat gpt-4o-mini x)" | status_of)" 403
done_testing
