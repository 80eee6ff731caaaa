#!/usr/bin/env bash
# The gateway's own errors on Anthropic's Messages API path come in
# Anthropic's shape ({"type":"error","error":{"type","message"}}): 429
# (with Retry-After and the rate-limit headers), 401, 403, 404, 413 and
# 400; checked with curl and the official @anthropic-ai/sdk client.
. "$(dirname "$0")/lib.sh"

FREE=$("$ADMIN" key create --user "afree-$$" --group g-t2345 --name t2345 \
       --metadata '{"plan":"free"}' 2>/dev/null)
KEY=$(new_key "a-$$" g-t2345)
msg() { printf '{"model":"%s","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' "$1"; }
shape() { body_of | jq -r '"\(.type) \(.error.type)"'; }
ant() { post "$1" "$2" "$3" -H 'anthropic-version: 2023-06-01' "${@:4}"; }

s=$(date +%S); [ "${s#0}" -lt 50 ] || sleep $((61 - ${s#0}))
ant /plan/v1/messages "$FREE" "$(msg mock-gpt)" >/dev/null
ant /plan/v1/messages "$FREE" "$(msg mock-gpt)" >/dev/null
r=$(ant /plan/v1/messages "$FREE" "$(msg mock-gpt)" -D "$TMP/h")
is "429 on /messages" "$(echo "$r" | status_of)" 429
is "429: rate_limit_error in Anthropic's shape" "$(echo "$r" | shape)" "error rate_limit_error"
like "429: the message names the limit" "$(echo "$r" | body_of | jq -r .error.message)" "free-rpm"
like "429: Retry-After kept" "$(grep -i '^Retry-After:' "$TMP/h" | tr -d '\r')" '^Retry-After: [0-9]+$'
like "429: rate-limit headers kept" "$(grep -ci '^x-ratelimit-remaining-requests: 0' "$TMP/h")" '^1$'
r=$(post /v1/messages "" "$(msg mock-gpt)")
is "401: authentication_error" "$(echo "$r" | status_of) $(echo "$r" | shape)" "401 error authentication_error"
r=$(ant /v1/messages "$FREE" "$(msg gpt-4o-mini)")
is "403 (plan's models): permission_error" "$(echo "$r" | status_of) $(echo "$r" | shape)" "403 error permission_error"
r=$(ant /ops/v1/messages "$KEY" "$(msg mock-gpt)")
is "403 (route RBAC): permission_error" "$(echo "$r" | status_of) $(echo "$r" | shape)" "403 error permission_error"
r=$(ant /v1/messages "$KEY" "$(msg no-such-model-x)")
is "404 (model): not_found_error" "$(echo "$r" | status_of) $(echo "$r" | shape)" "404 error not_found_error"
head -c 1100000 /dev/zero | tr '\0' 'a' >"$TMP/big"
st=$(curl -s -o "$TMP/b" -w '%{http_code}' "$GW/v1/messages" -H "Authorization: Bearer $KEY" \
     -H 'Content-Type: application/json' --data-binary @"$TMP/big")
is "413: request_too_large" "$st $(jq -r '"\(.type) \(.error.type)"' "$TMP/b")" "413 error request_too_large"
r=$(ant /v1/messages "$KEY" '{"model":')
is "400: invalid_request_error" "$(echo "$r" | status_of) $(echo "$r" | shape)" "400 error invalid_request_error"
r=$(post /v1/chat/completions "" "$(chat mock-gpt)")
is "the OpenAI path keeps OpenAI's shape" "$(echo "$r" | body_of | jq -r .error.code)" missing_api_key

# --- the official Anthropic SDK ------------------------------------------------
FREE2=$("$ADMIN" key create --user "afree2-$$" --group g-t2345 --name t2345 \
        --metadata '{"plan":"free"}' 2>/dev/null)
cd "$ROOT/tests/client"
if [ ! -d node_modules/@anthropic-ai/sdk ]; then
    npm install --no-audit --no-fund --silent >/dev/null 2>&1 ||
        not_ok "npm install of the SDK clients"
fi
if [ -d node_modules/@anthropic-ai/sdk ]; then
    node anthropic-sdk-errors.mjs "$GW" "$FREE2" >"$TMP/sdk" 2>&1 ||
        not_ok "anthropic-sdk-errors.mjs failed" "$(tail -n3 "$TMP/sdk")"
    while IFS= read -r line; do
        case "$line" in
        "ok "*) ok "${line#ok * - }" ;;
        "not ok "*) not_ok "${line#not ok * - }" ;;
        "#"*) echo "$line" ;;
        esac
    done <"$TMP/sdk"
else
    not_ok "the Anthropic SDK is installed in tests/client"
fi
done_testing
