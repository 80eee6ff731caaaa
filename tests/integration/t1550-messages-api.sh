#!/usr/bin/env bash
# Anthropic's Messages API for clients (POST {prefix}/messages) against
# any backend: the default /v1 route (the C mock, OpenAI's dialect) and the
# Azure route (the Node mock, for tool calls), with curl and with the
# official @anthropic-ai/sdk client.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key msg-user eng messages)
curl -s -X POST "$MOCK/__reset" >/dev/null
mlast() { curl -s "$MOCK/__last"; }
rid() { tr -d '\r' <"$TMP/h" | sed -n 's/^X-Request-Id: //Ip' | head -n1; }
row() {
    wait_sql "SELECT $1 FROM usage_events WHERE request_id = '$(rid)'" "$2"
}
# msg PATH BODY [curl args]: like post, with the Anthropic SDK's headers
msg() {
    local path=$1 body=$2; shift 2
    curl -sS -o "$TMP/body" -w '%{http_code}' -X POST "$GW$path" \
        -H "x-api-key: $KEY" -H 'anthropic-version: 2023-06-01' \
        -H 'Content-Type: application/json' -D "$TMP/h" \
        --data-binary "$body" "$@" >"$TMP/status"
    cat "$TMP/status"; echo; cat "$TMP/body"
}
sse() {        # sse PATH BODY: the event stream into $TMP/s
    curl -sN "$GW$1" -H "x-api-key: $KEY" -H 'Content-Type: application/json' \
        -D "$TMP/h" -d "$2" >"$TMP/s"
}
events() { sed -n 's/^event: //p' "$TMP/s" | paste -sd' '; }
data_of() { grep -A1 "^event: $1\$" "$TMP/s" | sed -n 's/^data: //p'; }

# --- non-stream --------------------------------------------------------------
r=$(msg /v1/messages '{"model":"mock-gpt","max_tokens":64,"system":"Be brief.",
    "messages":[{"role":"user","content":"hi"}],"stop_sequences":["END"],
    "temperature":0.2}')
is "text: 200" "$(echo "$r" | status_of)" 200
b=$(echo "$r" | body_of)
is "text: an Anthropic message" "$(echo "$b" | jq -c '[.type,.role,(.id|startswith("msg_"))]')" \
    '["message","assistant",true]'
is "text: content blocks" "$(echo "$b" | jq -c '.content')" \
    '[{"type":"text","text":"mock0 mock1 mock2 mock3 mock4"}]'
is "text: stop_reason" "$(echo "$b" | jq -c '[.stop_reason,.stop_sequence]')" '["end_turn",null]'
is "text: model" "$(echo "$b" | jq -r .model)" mock-gpt
in=$(echo "$b" | jq '.usage.input_tokens + .usage.cache_read_input_tokens')
is "text: usage output_tokens" "$(echo "$b" | jq .usage.output_tokens)" 5
is "text: ledger row tokens equal the usage" \
    "$(row "prompt_tokens || '/' || completion_tokens || '/' || route" "$in/5/default")" \
    "$in/5/default"
l=$(mlast)
lb=$(echo "$l" | jq -c '.body | fromjson')
is "upstream: system message first" "$(echo "$lb" | jq -c '.messages[0]')" \
    '{"role":"system","content":"Be brief."}'
is "upstream: max_tokens, stop, temperature" \
    "$(echo "$lb" | jq -c '[.max_tokens,.stop,.temperature]')" '[64,["END"],0.2]'
is "upstream: provider key" "$(echo "$l" | jq -r .headers.authorization)" \
    "Bearer $AIGW_TEST_PROVIDER_KEY"
check "upstream: client key and Anthropic headers absent" \
    bash -c "! grep -qF -- '$KEY' <<<'$(echo "$l" | jq -c .)' &&
             [ \"\$(jq -r '.headers[\"anthropic-version\"] // \"none\"' <<<'$(echo "$l" | jq -c .)')\" = none ]"

# --- stream ------------------------------------------------------------------
sse /v1/messages '{"model":"mock-gpt","max_tokens":64,"stream":true,
    "messages":[{"role":"user","content":"hi"}]}'
like "stream: event-stream" "$(cat "$TMP/h")" 'Content-Type: text/event-stream'
is "stream: event sequence" "$(events)" "message_start ping content_block_start \
content_block_delta content_block_delta content_block_delta content_block_delta \
content_block_delta content_block_stop message_delta message_stop"
is "stream: text deltas" \
    "$(data_of content_block_delta | jq -r .delta.text | paste -sd '')" \
    "mock0 mock1 mock2 mock3 mock4"
md=$(data_of message_delta)
is "stream: message_delta" "$(echo "$md" | jq -c '[.delta.stop_reason,.usage.output_tokens]')" \
    '["end_turn",5]'
is "stream: message_start shape" \
    "$(data_of message_start | jq -c '.message | [.type,.role,.content,.stop_reason]')" \
    '["message","assistant",[],null]'
is "stream: usage asked upstream" \
    "$(mlast | jq -r '.body | fromjson | .stream_options.include_usage')" true
is "stream: ledger row" \
    "$(row "completion_tokens || '/' || stream || '/' || (ttft_ms IS NOT NULL)" 5/true/true)" \
    5/true/true

# --- tool use: the request translated (C mock), replies (Azure mock) ------
tools='"tools":[{"name":"get_weather","description":"Weather",
        "input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]'
round="{\"model\":\"mock-gpt\",\"max_tokens\":64,$tools,
  \"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"},
  \"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},
  {\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_9\",
    \"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},
  {\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_9\",
    \"content\":\"18C\"}]}]}"
r=$(msg /v1/messages "$round")
is "tool round: 200" "$(echo "$r" | status_of)" 200
lb=$(mlast | jq -c '.body | fromjson')
is "tool round: tools upstream" "$(echo "$lb" | jq -c '.tools[0] | [.type,.function.name,.function.parameters.type]')" \
    '["function","get_weather","object"]'
is "tool round: tool_choice upstream" "$(echo "$lb" | jq -c .tool_choice)" \
    '{"type":"function","function":{"name":"get_weather"}}'
is "tool round: tool_use -> assistant tool_calls" \
    "$(echo "$lb" | jq -c '.messages[1] | [.content, .tool_calls[0].id, (.tool_calls[0].function.arguments | fromjson)]')" \
    '[null,"toolu_9",{"city":"Paris"}]'
is "tool round: tool_result -> tool message" "$(echo "$lb" | jq -c '.messages[2]')" \
    '{"role":"tool","tool_call_id":"toolu_9","content":"18C"}'

r=$(msg /azure/v1/messages "{\"model\":\"gpt-4o\",\"max_tokens\":64,$tools,
    \"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]}")
b=$(echo "$r" | body_of)
is "tool use: tool_use block" "$(echo "$b" | jq -c '.content[0] | [.type,.name,.input]')" \
    '["tool_use","get_weather",{"city":"Paris"}]'
is "tool use: stop_reason" "$(echo "$b" | jq -r .stop_reason)" tool_use
sse /azure/v1/messages "{\"model\":\"gpt-4o\",\"max_tokens\":64,\"stream\":true,$tools,
    \"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]}"
is "tool use, streamed: block start" \
    "$(data_of content_block_start | jq -c '.content_block | [.type,.name,.input]')" \
    '["tool_use","get_weather",{}]'
is "tool use, streamed: input_json_delta" \
    "$(data_of content_block_delta | jq -r .delta.partial_json | paste -sd '')" '{"city":"Paris"}'
is "tool use, streamed: stop_reason" "$(data_of message_delta | jq -r .delta.stop_reason)" tool_use

# --- errors -------------------------------------------------------------------
r=$(msg /v1/messages '{"model":"mock-gpt","messages":[{"role":"user","content":"x"}]}')
is "no max_tokens: 400" "$(echo "$r" | status_of)" 400
is "no max_tokens: Anthropic error shape" \
    "$(echo "$r" | body_of | jq -c '[.type,.error.type,(.error.message|test("max_tokens"))]')" \
    '["error","invalid_request_error",true]'
is "bad request: ledger row 400" "$(row http_status 400)" 400
r=$(msg /v1/messages '{"model":"no-such-model","max_tokens":5,"messages":[{"role":"user","content":"x"}]}')
is "unknown model: 404" "$(echo "$r" | status_of)" 404
is "unknown model: not_found_error" "$(echo "$r" | body_of | jq -r .error.type)" not_found_error
r=$(msg /v1/messages '{"model":"mock-error-503","max_tokens":5,"messages":[{"role":"user","content":"x"}]}')
is "upstream 503: status kept" "$(echo "$r" | status_of)" 503
is "upstream 503: api_error, message kept" \
    "$(echo "$r" | body_of | jq -c '[.error.type,.error.message]')" '["api_error","mock upstream error 503"]'
r=$(msg /azure/v1/messages '{"model":"azure-error-429","max_tokens":5,"messages":[{"role":"user","content":"x"}]}')
is "429: rate_limit_error" "$(echo "$r" | status_of) $(echo "$r" | body_of | jq -r .error.type)" \
    "429 rate_limit_error"
like "429: Retry-After passed on" "$(cat "$TMP/h")" 'Retry-After: 7'
sse /v1/messages '{"model":"mock-truncate","max_tokens":5,"stream":true,
    "messages":[{"role":"user","content":"x"}]}'
is "truncated: ends with an error event" "$(events | awk '{print $NF}')" error
is "truncated: no message_stop" "$(grep -c '^event: message_stop' "$TMP/s")" 0
is "truncated: error event shape" "$(data_of error | jq -c '[.type,.error.type]')" \
    '["error","api_error"]'
is "truncated: partial ledger row" "$(row "partial || '/' || error_type" true/upstream_truncated)" \
    true/upstream_truncated

# --- the official Anthropic SDK ------------------------------------------------
cd "$ROOT/tests/client"
if [ ! -d node_modules/@anthropic-ai/sdk ]; then
    npm install --no-audit --no-fund --silent >/dev/null 2>&1 ||
        not_ok "npm install of the SDK clients"
fi
node anthropic-sdk.mjs "$GW" "$KEY" >"$TMP/sdk" 2>&1 ||
    grep -q '^not ok' "$TMP/sdk" || not_ok "anthropic-sdk.mjs failed" "$(tail -n3 "$TMP/sdk")"
while IFS= read -r line; do
    case "$line" in
    "ok "*) ok "${line#ok * - }" ;;
    "not ok "*) not_ok "${line#not ok * - }" ;;
    "#"*) echo "$line" ;;
    esac
done <"$TMP/sdk"
done_testing
