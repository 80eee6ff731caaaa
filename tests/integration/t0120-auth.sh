#!/usr/bin/env bash
# API keys: missing, malformed, unknown and revoked keys get the same
# OpenAI-shaped 401; revocation takes effect within the cache bound
# (auth.cache_ttl_ms = 1000 in the test config).
. "$(dirname "$0")/lib.sh"

KEY=$(new_key carol sales auth)
like "key printed once, in the documented format" "$KEY" '^sk-aigw-[A-Za-z0-9_-]{43}$'
code() {
    curl -s -o "$TMP/b" -w '%{http_code}' "$GW/v1/chat/completions" \
        -H 'Content-Type: application/json' "$@" -d "$(chat mock-gpt)"
}
is "valid key: 200" "$(code -H "Authorization: Bearer $KEY")" 200
is "no key: 401" "$(code)" 401
is "no key: missing_api_key" "$(jq -r .error.code "$TMP/b")" missing_api_key
is "empty Bearer: 401" "$(code -H 'Authorization: Bearer ')" 401
is "Basic scheme: 401" "$(code -H 'Authorization: Basic YTpi')" 401
is "unknown key: 401" "$(code -H 'Authorization: Bearer sk-aigw-nope')" 401
is "unknown key: invalid_api_key" "$(jq -r .error.code "$TMP/b")" invalid_api_key
is "SQL in key: 401" "$(code -H "Authorization: Bearer ' OR 1=1; DROP TABLE api_keys; --")" 401
is "4 KB key: 401" "$(code -H "Authorization: Bearer $(head -c 4096 /dev/zero | tr '\0' k)")" 401
like "10 KB key: a clean 4xx from the web server" \
    "$(code -H "Authorization: Bearer $(head -c 10240 /dev/zero | tr '\0' k)")" '^4[0-9][0-9]$' 
is "two Authorization headers: 401" \
    "$(code -H "Authorization: Bearer $KEY" -H "Authorization: Bearer $KEY")" 401
is "api_keys table intact" "$(sql "SELECT count(*) > 0 FROM api_keys")" t
is "only the hash is stored" \
    "$(sql "SELECT count(*) FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")" 1
check "the secret itself is not in the database" \
    test "$(sql "SELECT count(*) FROM api_keys WHERE key_hint LIKE '%${KEY:12:20}%' OR name LIKE '%${KEY:12:20}%'")" = 0

id=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
like "key list shows the key, masked" "$("$ADMIN" key list --format csv)" "$id,sk-aigw-\.\.\.${KEY: -4}"
check "key list never prints the secret" bash -c "! '$ADMIN' key list --all | grep -qF -- '$KEY'"
"$ADMIN" key revoke "$id" >/dev/null 2>&1
t0=$(date +%s%3N)
for i in $(seq 1 40); do
    [ "$(code -H "Authorization: Bearer $KEY")" = 401 ] && break
    sleep 0.1
done
t1=$(date +%s%3N)
is "revoked key: 401" "$(code -H "Authorization: Bearer $KEY")" 401
check "revocation effective within the 1 s cache bound (+ margin): $((t1 - t0)) ms" \
    test $((t1 - t0)) -le 1500
check "revoke of an unknown key fails" bash -c "! '$ADMIN' key revoke 00000000-0000-7000-8000-000000000000 2>/dev/null"
"$ADMIN" key revoke not-a-uuid >/dev/null 2>&1
is "revoke with a malformed id: usage error (2)" "$?" 2
done_testing
