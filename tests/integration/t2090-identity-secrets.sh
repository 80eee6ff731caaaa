#!/usr/bin/env bash
# No JWT, JWKS private key or client key used by the identity tests appears
# in any log, the spool, the database or the access log lines.
. "$(dirname "$0")/lib.sh"

KEYS=$VAR/jwt-keys
node "$ROOT/tests/mock/jwt-mint.mjs" "$KEYS" >"$TMP/tok.json" <<'JSON'
[{"name":"canary", "key":"rsa1", "claims":{"preferred_username":"canary-user"}},
 {"name":"bad", "key":"rsa-other", "kid":"rsa1"}]
JSON
T=$(jq -r .canary "$TMP/tok.json"); BAD=$(jq -r .bad "$TMP/tok.json")
curl -s -o /dev/null "$GW/jwt/v1/chat/completions" -H "Authorization: Bearer $T" \
    -H 'Content-Type: application/json' -d "$(chat mock-gpt)"
curl -s -o "$TMP/b" "$GW/jwt/v1/chat/completions" -H "Authorization: Bearer $BAD" \
    -H 'Content-Type: application/json' -d "$(chat mock-gpt)"
sleep 0.3
hits() {
    local s=$1
    { cat "$VAR"/log/*.log "$VAR"/spool/* "$TMP/b" 2>/dev/null
      pg_dump --data-only -d aigw 2>/dev/null; } | grep -cF -- "$s"
}
for name in T BAD; do
    v=${!name}
    is "$name token: nowhere" "$(hits "$v")" 0
    is "$name token signature: nowhere" "$(hits "${v##*.}")" 0
    is "$name token payload: nowhere" "$(hits "$(cut -d. -f2 <<<"$v")")" 0
done
if [ -s "$VAR/identity-secrets.txt" ]; then
    is "t2000's token: nowhere" "$(hits "$(cut -d. -f3 "$VAR/identity-secrets.txt")")" 0
fi
priv=$(grep -v -- '-----' "$KEYS/rsa1.pem" | head -n 2 | tail -n 1)
is "JWKS private key material: nowhere" "$(hits "$priv")" 0
check "the search does find what is there" test "$(hits canary-user)" -gt 0
done_testing
