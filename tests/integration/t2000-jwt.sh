#!/usr/bin/env bash
# JWT authentication against a JWKS served by the mock SSO: every token
# case of issue 4 with its status, no crash, kid rotation with a
# rate-limited refetch, and identity from claims in the ledger and log.
. "$(dirname "$0")/lib.sh"

KEYS=$VAR/jwt-keys
now=$(date +%s)
node "$ROOT/tests/mock/jwt-mint.mjs" "$KEYS" >"$TMP/tok.json" <<JSON
[
 {"name":"ok", "key":"rsa1"},
 {"name":"ok_ec", "key":"ec1"},
 {"name":"ok_nokid", "key":"rsa1", "kid":null},
 {"name":"ok_aud_array", "key":"rsa1", "claims":{"aud":["other","account"]}},
 {"name":"expired", "key":"rsa1", "claims":{"exp":$((now - 60))}},
 {"name":"no_exp", "key":"rsa1", "claims":{"exp":null}},
 {"name":"nbf_future", "key":"rsa1", "claims":{"nbf":$((now + 120))}},
 {"name":"iat_future", "key":"rsa1", "claims":{"iat":$((now + 120))}},
 {"name":"exp_string", "key":"rsa1", "claims":{"exp":"never"}},
 {"name":"wrong_iss", "key":"rsa1", "claims":{"iss":"https://evil.test/"}},
 {"name":"wrong_aud", "key":"rsa1", "claims":{"aud":"someone-else"}},
 {"name":"wrong_aud_array", "key":"rsa1", "claims":{"aud":["x","y"]}},
 {"name":"no_user", "key":"rsa1", "claims":{"preferred_username":null}},
 {"name":"bad_sig", "key":"rsa1", "tamper":"sig"},
 {"name":"other_key", "key":"rsa-other", "kid":"rsa1"},
 {"name":"alg_none", "key":"none", "alg":"none"},
 {"name":"alg_None", "key":"none", "alg":"None"},
 {"name":"alg_nOnE", "key":"none", "alg":"nOnE"},
 {"name":"hs_confusion", "key":"hs-pub:rsa1", "alg":"HS256"},
 {"name":"rs_as_es", "key":"rsa1", "alg":"ES256"},
 {"name":"rs512_pinned", "key":"rsa1", "alg":"RS512"},
 {"name":"unknown_kid", "key":"rsa2"},
 {"name":"kid_path", "key":"rsa1", "kid":"../../../../dev/null"},
 {"name":"kid_sql", "key":"rsa1", "kid":"x' OR '1'='1"},
 {"name":"jku", "key":"rsa-other", "kid":"rsa-other",
  "header":{"jku":"http://127.0.0.1:${PMOCK_PORT}/jwks/evil-jku",
            "x5u":"http://127.0.0.1:${PMOCK_PORT}/jwks/evil-x5u"}},
 {"name":"malformed_b64", "key":"rsa1", "tamper":"b64"},
 {"name":"oversize", "key":"rsa1", "tamper":"pad:5000"},
 {"name":"huge", "key":"rsa1", "tamper":"pad:20000"},
 {"name":"contractor", "key":"rsa1", "claims":{"preferred_username":"contractor-eve"}}
]
JSON
tok() { jq -r --arg n "$1" '.[$n]' "$TMP/tok.json"; }
tok ok >"$VAR/identity-secrets.txt"          # for the secret scan (t2090)
curl -s -X POST "$PMOCK/jwks/set" --data-binary @"$KEYS/jwks1.json" >/dev/null
fetches() { curl -s "$PMOCK/jwks/count" | jq -r ".${1:-fetches}"; }

# code TOKEN [PATH]: the status of a chat request on the JWT-only route
code() {
    curl -s -o "$TMP/b" -w '%{http_code}' "$GW${2:-/jwt/v1}/chat/completions" \
        -H 'Content-Type: application/json' -H "Authorization: Bearer $1" \
        -d "$(chat mock-gpt)"
}
is "valid RS256 token: 200" "$(code "$(tok ok)")" 200
rid=$(curl -s -D - -o /dev/null "$GW/jwt/v1/chat/completions" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $(tok ok)" \
    -d "$(chat mock-gpt)" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-request-id"{print $2}')
is "valid ES256 token: 200" "$(code "$(tok ok_ec)")" 200
is "token without kid: 200" "$(code "$(tok ok_nokid)")" 200
is "aud array holding an accepted audience: 200" "$(code "$(tok ok_aud_array)")" 200
# Minted just before use: a slow machine must not age it past the leeway.
leeway_tok=$(node "$ROOT/tests/mock/jwt-mint.mjs" "$KEYS" <<JSON | jq -r .ok_leeway
[{"name":"ok_leeway", "key":"rsa1", "claims":{"exp":$(( $(date +%s) - 1 ))}}]
JSON
)
is "expired within the leeway: 200" "$(code "$leeway_tok")" 200

for c in expired no_exp nbf_future iat_future exp_string wrong_iss wrong_aud \
         wrong_aud_array no_user bad_sig other_key alg_none alg_None alg_nOnE \
         hs_confusion rs_as_es rs512_pinned unknown_kid kid_path kid_sql jku \
         malformed_b64 oversize; do
    is "$c: 401" "$(code "$(tok "$c")")" 401
    [ "$c" = expired ] && is "expired: invalid_token in OpenAI's shape" \
        "$(jq -r '.error.code + " " + .error.type' "$TMP/b")" \
        "invalid_token invalid_request_error"
done
check "the 401 body never echoes the token" bash -c "! grep -qF -- '$(tok expired | cut -d. -f2 | head -c 40)' '$TMP/b'"
like "20 KB token: a clean 4xx" "$(code "$(tok huge)")" '^4[0-9][0-9]$'
is "garbage token: 401" "$(code 'eyJ.....')" 401
is "two-segment token: 401" "$(code 'eyJhbGciOiJSUzI1NiJ9.e30')" 401
is "jku/x5u were never fetched" "$(fetches other)" 0
is "API key on a JWT-only route: 401" "$(code "$(new_key kim eng jwtroute)")" 401
is "JWT on an API-key route: 401" "$(code "$(tok ok)" /v1)" 401
is "no credential on a JWT route: missing_api_key" \
    "$(code '' >/dev/null; jq -r .error.code "$TMP/b")" missing_api_key
is "still serving after every bad token" "$(code "$(tok ok)")" 200

# identity from claims, exactly as for API keys: ledger and access log
row=$(wait_sql "SELECT coalesce(api_key_id::text,'NULL') || ' ' || user_id || ' ' || group_id || ' ' || route FROM usage_events WHERE request_id = '$rid'" "NULL alice eng jwt")
is "ledger: api_key_id NULL, user and group from the claims" "$row" "NULL alice eng jwt"
line=$(grep -F "\"request_id\":\"$rid\"" "$GWLOG" | head -n1)
is "access log: identity from the claims" \
    "$(printf '%s' "$line" | jq -r '[(.api_key_id == null), .user_id, .group_id] | map(tostring) | join(" ")')" \
    "true alice eng"
m=$(curl -s "$GW/metrics" | grep '^tokens_consumed_total{' | grep 'user_id="alice"' | grep 'group_id="eng"')
like "metrics: tokens by the claims' user and group, as for API keys" "$m" 'api_key_id="",user_id="alice",group_id="eng",.*type="input"'

# kid rotation: an unknown kid refetches the JWKS (at most every 2 s)
sleep 2.2
curl -s -X POST "$PMOCK/jwks/set" --data-binary @"$KEYS/jwks2.json" >/dev/null
is "rotated key (new kid): 200 after one refetch" "$(code "$(tok unknown_kid)")" 200
for i in 1 2 3 4; do r=$(code "$(tok unknown_kid)"); [ "$r" = 200 ] || break; done
is "rotated key: 200 in every worker process" "$r" 200
is "old key still valid after rotation" "$(code "$(tok ok)")" 200

# a flood of unknown kids: refetches are rate limited
before=$(fetches)
node "$ROOT/tests/mock/jwt-mint.mjs" "$KEYS" >"$TMP/flood.json" <<JSON
[$(for i in $(seq 1 30); do printf '%s{"name":"f%d","key":"rsa1","kid":"kid-%d-%s"}' "${sep:-}" "$i" "$i" "$RANDOM"; sep=,; done)]
JSON
bad=0
for i in $(seq 1 30); do
    [ "$(code "$(jq -r ".f$i" "$TMP/flood.json")")" = 401 ] || bad=$((bad + 1))
done
is "30 unknown kids: all 401" "$bad" 0
after=$(fetches)
check "30 unknown kids: at most 2 refetches per process ($((after - before)))" \
    test $((after - before)) -le 4
done_testing
