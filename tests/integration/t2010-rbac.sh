#!/usr/bin/env bash
# RBAC matrix through the real stack: users in different groups (JWT
# claims and API keys) against allowed and denied models and routes; a
# deny is a 403 in OpenAI's shape and the provider is never called;
# /models lists only what the caller may use.
. "$(dirname "$0")/lib.sh"

KEYS=$VAR/jwt-keys
node "$ROOT/tests/mock/jwt-mint.mjs" "$KEYS" >"$TMP/tok.json" <<'JSON'
[
 {"name":"alice", "key":"rsa1", "claims":{"preferred_username":"alice","groups":["eng"]}},
 {"name":"bob", "key":"rsa1", "claims":{"preferred_username":"bob","groups":"sales"}},
 {"name":"carol", "key":"rsa1", "claims":{"preferred_username":"carol","groups":["sales"],"realm_access":{"roles":["premium"]}}},
 {"name":"dave", "key":"rsa1", "claims":{"preferred_username":"dave","groups":["research","eng-adjacent"]}},
 {"name":"eve", "key":"rsa1", "claims":{"preferred_username":"contractor-eve","groups":["eng"]}},
 {"name":"root", "key":"ec1", "claims":{"preferred_username":"root","groups":[],"realm_access":{"roles":["user","aigw-admin"]}}}
]
JSON
curl -s -X POST "$PMOCK/jwks/set" --data-binary @"$KEYS/jwks2.json" >/dev/null
tok() { jq -r --arg n "$1" '.[$n]' "$TMP/tok.json"; }
ENG=$(new_key kim eng rbac)
SALES=$(new_key sam sales rbac)
OPS=$(new_key oscar ops rbac)
cred() { case $1 in key-eng) echo "$ENG";; key-sales) echo "$SALES";; key-ops) echo "$OPS";; *) tok "$1";; esac; }

code() {   # code WHO PATH MODEL
    curl -s -o "$TMP/b" -w '%{http_code}' "$GW$2/chat/completions" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $(cred "$1")" \
        -d "$(chat "$3")"
}
# who          gpt-4.1-mini  llama3.1:8b  mock-gpt  (route sso)
matrix="alice        200 200 200
bob          403 403 200
carol        200 403 200
dave         403 200 200
eve          200 200 403
root         403 403 200
key-eng      200 200 200
key-sales    403 403 200"
calls0=$(curl -s "$PMOCK/openai/__stats" | jq .requests)
while read -r who a b c; do
    is "$who: gpt-4.1-mini" "$(code "$who" /sso/v1 gpt-4.1-mini)" "$a"
    is "$who: llama3.1:8b" "$(code "$who" /sso/v1 llama3.1:8b)" "$b"
    is "$who: mock-gpt" "$(code "$who" /sso/v1 mock-gpt)" "$c"
done <<<"$matrix"
calls1=$(curl -s "$PMOCK/openai/__stats" | jq .requests)
is "openai provider called only for the 4 allowed gpt-4.1-mini requests" \
    "$((calls1 - calls0))" 4
code bob /sso/v1 gpt-4.1-mini >/dev/null
is "deny: OpenAI's error shape" "$(jq -r '.error.type + " " + .error.code' "$TMP/b")" \
    "permission_error model_not_allowed"
is "deny: a ledger row with status 403" \
    "$(wait_sql "SELECT count(*) > 0 FROM usage_events WHERE user_id = 'bob' AND http_status = 403 AND requested_model = 'gpt-4.1-mini'" t)" t

# a route only admins (JWT role) and the ops group may use
for who in root key-ops; do is "$who on ops: 200" "$(code "$who" /ops/v1 mock-gpt)" 200; done
for who in alice key-eng; do is "$who on ops: 403" "$(code "$who" /ops/v1 mock-gpt)" 403; done
is "route deny: route_not_allowed" "$(jq -r .error.code "$TMP/b")" route_not_allowed
is "other routes are untouched by the rules" "$(code key-sales /any/v1 gpt-4.1-mini)" 200

models() {
    curl -s "$GW/sso/v1/models" -H "Authorization: Bearer $(cred "$1")" |
        jq -r '[.data[].id] | sort | join(",")'
}
m_alice=$(models alice)
like "alice's models include gpt-4.1-mini and llama3.1:8b" "$m_alice" 'gpt-4.1-mini.*llama3.1:8b'
m_bob=$(models bob)
check "bob's models exclude gpt-4.1-mini and the compat models" \
    bash -c "! grep -qE 'gpt-4.1-mini|llama|qwen' <<<'$m_bob'"
like "bob still sees mock-gpt" "$m_bob" 'mock-gpt'
check "contractor-eve does not see mock-gpt" bash -c "! grep -q 'mock-gpt' <<<'$(models eve)'"

# API keys with scopes, expiry and the admin flag (migration 0004)
SCOPED=$("$ADMIN" key create --user sc --group eng --models 'mock-gpt,mock-g*' \
    --routes default,sso --metadata '{"team":"x"}' --org acme 2>/dev/null)
is "scoped key: allowed model" "$(curl -s -o "$TMP/b" -w '%{http_code}' "$GW/v1/chat/completions" -H 'Content-Type: application/json' -H "Authorization: Bearer $SCOPED" -d "$(chat mock-gpt)")" 200
is "scoped key: other model 403" "$(curl -s -o "$TMP/b" -w '%{http_code}' "$GW/v1/chat/completions" -H 'Content-Type: application/json' -H "Authorization: Bearer $SCOPED" -d "$(chat gpt-4o-mini)")" 403
is "scoped key: route outside its scope 403" "$(curl -s -o "$TMP/b" -w '%{http_code}' "$GW/openai/v1/chat/completions" -H 'Content-Type: application/json' -H "Authorization: Bearer $SCOPED" -d "$(chat gpt-4.1-mini)")" 403
is "scoped key: /models shows its models only (and the alias served by one)" \
    "$(curl -s "$GW/v1/models" -H "Authorization: Bearer $SCOPED" | jq -r '[.data[].id] | sort | join(",")')" "fast,gpt-4,mock-gpt"
is "key metadata and org stored" \
    "$(sql "SELECT org_id || ' ' || (metadata->>'team') || ' ' || array_to_string(models, '|') FROM api_keys WHERE key_hash = sha256('$SCOPED'::bytea)")" "acme x mock-gpt|mock-g*"
EXPIRED=$("$ADMIN" key create --user ex --group eng --expires '2000-01-01T00:00:00Z' 2>/dev/null)
is "expired key: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$GW/v1/chat/completions" -H 'Content-Type: application/json' -H "Authorization: Bearer $EXPIRED" -d "$(chat mock-gpt)")" 401
SOON=$("$ADMIN" key create --user soon --group eng --expires "$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null)
is "key before its expiry: 200" "$(curl -s -o /dev/null -w '%{http_code}' "$GW/v1/chat/completions" -H 'Content-Type: application/json' -H "Authorization: Bearer $SOON" -d "$(chat mock-gpt)")" 200
sleep 2.5
is "the same key after its expiry (cached or not): 401" "$(curl -s -o /dev/null -w '%{http_code}' "$GW/v1/chat/completions" -H 'Content-Type: application/json' -H "Authorization: Bearer $SOON" -d "$(chat mock-gpt)")" 401
"$ADMIN" key create --user x --group g --metadata 'not json' >/dev/null 2>&1
is "bad --metadata: usage error" "$?" 2
done_testing
