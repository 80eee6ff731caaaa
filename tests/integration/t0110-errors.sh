#!/usr/bin/env bash
# Bad input and upstream faults: the right status, OpenAI's error shape,
# the provider not called for bad input, and the worker keeps serving.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key bob eng errors)
calls() { curl -s "$MOCK/__stats" | jq -r .chat_requests; }
# expect NAME STATUS CODE BODY [PATH] [curl args]
expect() {
    local name=$1 st=$2 code=$3 body=$4 path=${5:-/v1/chat/completions}
    shift 5 2>/dev/null || shift $#
    local r
    r=$(post "$path" "$KEY" "$body" "$@")
    is "$name: status" "$(echo "$r" | status_of)" "$st"
    is "$name: error code" "$(echo "$r" | body_of | jq -r '.error.code')" "$code"
    is "$name: error shape" "$(echo "$r" | body_of | jq -r '.error | has("message") and has("type")')" true
}

before=$(calls)
expect "truncated JSON" 400 invalid_json '{"model":"mock-gpt","messages":['
expect "trailing garbage" 400 invalid_json "$(chat mock-gpt) xyz"
expect "missing model" 400 invalid_value '{"messages":[{"role":"user","content":"x"}]}'
expect "missing messages" 400 invalid_value '{"model":"mock-gpt"}'
expect "empty messages" 400 invalid_value '{"model":"mock-gpt","messages":[]}'
expect "model not a string" 400 invalid_value '{"model":5,"messages":[{"role":"user"}]}'
expect "max_tokens 1e309" 400 invalid_value "$(chat mock-gpt hi ',"max_tokens":1e309')"
expect "max_tokens -1" 400 invalid_value "$(chat mock-gpt hi ',"max_tokens":-1')"
expect "max_tokens 2^63" 400 invalid_value "$(chat mock-gpt hi ',"max_tokens":9223372036854775808')"
expect "stream not boolean" 400 invalid_value "$(chat mock-gpt hi ',"stream":"yes"')"
deep=$(printf '%.0s[' $(seq 1 100000))
expect "100k-deep nesting" 400 invalid_json "{\"model\":\"mock-gpt\",\"messages\":$deep"
expect "invalid UTF-8" 400 invalid_json "$(printf '{"model":"mock-gpt","messages":[{"role":"user","content":"\xff\xfe"}]}')"
expect "not an object" 400 invalid_request '[1,2]'
expect "unknown model" 404 model_not_found "$(chat gpt-9)"
head -c 2000000 /dev/zero | tr '\0' 'a' >"$TMP/big"
r=$(curl -s -o "$TMP/b" -w '%{http_code}' "$GW/v1/chat/completions" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --data-binary @"$TMP/big")
is "2 MB body over the 1 MB limit: 413" "$r" 413
is "413 is OpenAI-shaped" "$(jq -r .error.code "$TMP/b")" request_too_large
r=$(curl -s -o "$TMP/b" -w '%{http_code}' "$GW/v1/chat/completions" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: text/plain' -d "$(chat mock-gpt)")
is "wrong content type: 415" "$r" 415
is "bad input never reached the provider" "$(calls)" "$before"

expect "unknown route" 404 unknown_url "$(chat mock-gpt)" /nope/chat/completions
expect "unknown path under a route" 404 unknown_url "$(chat mock-gpt)" /v1/completions-x
r=$(curl -s -o "$TMP/b" -w '%{http_code}' "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY")
is "GET on chat: 405" "$r" 405

# upstream faults
expect "upstream refused: 502" 502 upstream_unreachable "$(chat mock-gpt)" /dead/v1/chat/completions
t0=$(date +%s%3N)
expect "upstream hangs: 504" 504 upstream_timeout "$(chat mock-hang)" /short/v1/chat/completions
t1=$(date +%s%3N)
check "504 within the backend timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 4000
r=$(post /v1/chat/completions "$KEY" "$(chat mock-error-429)")
is "upstream 429 passed through" "$(echo "$r" | status_of)" 429
is "upstream error body passed through" "$(echo "$r" | body_of | jq -r .error.code)" mock_429
code=$(curl -s -o /dev/null -D "$TMP/h429" -w '%{http_code}' "$GW/v1/chat/completions" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$(chat mock-error-429)")
like "upstream 429 keeps its Retry-After" "$(tr -d '\r' <"$TMP/h429")" '^Retry-After: 1$'
r=$(post /v1/chat/completions "$KEY" "$(chat mock-error-500)")
is "upstream 500 passed through" "$(echo "$r" | status_of)" 500
r=$(post /v1/chat/completions "$KEY" "$(chat mock-error-400)")
is "upstream 400 passed through" "$(echo "$r" | status_of)" 400
r=$(post /v1/chat/completions "$KEY" "$(chat mock-truncate)")
is "truncated upstream body: 502" "$(echo "$r" | status_of)" 502

# a stream cut short: clean error event, no [DONE], ledger row partial
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -D "$TMP/h" \
    -d "$(chat mock-truncate hi ',"stream":true')" >"$TMP/s"
like "truncated stream: 200 then an error event" "$(tail -n2 "$TMP/s")" '"code":"upstream_truncated"'
is "truncated stream: no [DONE]" "$(grep -c '\[DONE\]' "$TMP/s")" 0
rid=$(grep -i '^x-request-id' "$TMP/h" | tr -d '\r' | awk '{print $2}')
got=$(wait_sql "SELECT partial, error_type FROM usage_events WHERE request_id = '$rid'" "t|upstream_truncated")
is "truncated stream recorded as partial" "$got" "t|upstream_truncated"

# CRLF, comments and a 1 MB line in the upstream's SSE
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$(chat mock-crlf hi ',"stream":true')" >"$TMP/s"
is "CRLF SSE parsed: deltas relayed" "$(grep -c '"content":"mock' "$TMP/s")" 5
is "CRLF SSE ends with [DONE]" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$(chat mock-bigline hi ',"stream":true')" >"$TMP/s"
is "1 MB SSE line relayed whole" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"

r=$(post /v1/chat/completions "$KEY" "$(chat mock-gpt)")
is "worker still serves after all of it" "$(echo "$r" | status_of)" 200
done_testing
