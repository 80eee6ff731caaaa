#!/usr/bin/env bash
# Azure OpenAI through the real stack: /azure/v1 -> aigw -> the Azure mock
# (tests/mock/providers/azure.mjs): deployment URLs, api-version, the
# api-key header, Azure's content-filter annotations and error shapes.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key azure-user eng azure)
AZ=$PMOCK/azure
curl -s -X POST "$AZ/__reset" >/dev/null
last() { curl -s "$AZ/__last"; }
last_body() { last | jq -c '.body | fromjson'; }
# rid: the X-Request-Id of the last post (headers in $TMP/h)
rid() { tr -d '\r' <"$TMP/h" | sed -n 's/^X-Request-Id: //Ip' | head -n1; }
row() {
    wait_sql "SELECT $1 FROM usage_events WHERE request_id = '$(rid)'" "$2"
}
stream() {     # stream BODY: the SSE text into $TMP/s, headers in $TMP/h
    curl -sN "$GW/azure/v1/chat/completions" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -D "$TMP/h" -d "$1" >"$TMP/s"
}
deltas() { grep '^data: {' "$TMP/s" | sed 's/^data: //' |
    jq -r '.choices[0].delta.content // "" | select(. != "")' | paste -sd'|'; }

# --- non-stream text, with system, stop, temperature and max_tokens ------
req='{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},
      {"role":"user","content":"hi"}],"stop":["END"],"temperature":0.3,
      "max_tokens":50}'
r=$(post /azure/v1/chat/completions "$KEY" "$req" -D "$TMP/h")
is "text: 200" "$(echo "$r" | status_of)" 200
b=$(echo "$r" | body_of)
is "text: content" "$(echo "$b" | jq -r '.choices[0].message.content')" "Hello from azure!"
is "text: finish_reason" "$(echo "$b" | jq -r '.choices[0].finish_reason')" stop
is "text: served model" "$(echo "$b" | jq -r .model)" gpt-4o-2024-08-06
u=$(echo "$b" | jq -c '[.usage.prompt_tokens,.usage.completion_tokens]')
is "text: ledger tokens equal the billed usage" \
    "$(row "'[' || prompt_tokens || ',' || completion_tokens || ']'" "$u")" "$u"
is "text: ledger row provider, served model, usage source" \
    "$(row "provider || '/' || served_model || '/' || usage_source" \
           azure/gpt-4o-2024-08-06/provider)" azure/gpt-4o-2024-08-06/provider
l=$(last)
is "upstream: deployment URL with api-version" "$(echo "$l" | jq -r .path)" \
    "/azure/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
is "upstream: api-key header" "$(echo "$l" | jq -r '.headers["api-key"]')" \
    azure-CANARY-key-0001
is "upstream: no Authorization header" \
    "$(echo "$l" | jq -r '.headers.authorization // "none"')" none
check "upstream: client key absent" \
    bash -c "! grep -qF -- '$KEY' <<<'$(echo "$l" | jq -c .)'"
lb=$(echo "$l" | jq -c '.body | fromjson')
is "upstream: system message" "$(echo "$lb" | jq -c '.messages[0]')" \
    '{"role":"system","content":"Be brief."}'
is "upstream: stop, temperature, max_tokens" \
    "$(echo "$lb" | jq -c '[.stop,.temperature,.max_tokens]')" '[["END"],0.3,50]'

# --- streaming -------------------------------------------------------------
stream '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}'
is "stream: three deltas" "$(deltas)" "Hello| from azure|!"
is "stream: finish_reason stop" \
    "$(grep -c '"finish_reason":"stop"' "$TMP/s")" 1
is "stream: no usage chunk unless asked" "$(grep -c '"choices":\[\]' "$TMP/s")" 0
is "stream: Azure's prompt-filter preamble not relayed" \
    "$(grep -c 'prompt_filter_results' "$TMP/s")" 0
is "stream: ends with [DONE]" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"
is "stream: include_usage asked upstream" \
    "$(last_body | jq -r .stream_options.include_usage)" true
is "stream: ledger row counted" "$(row "completion_tokens || '/' || stream" 3/true)" 3/true
stream '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},
         "messages":[{"role":"user","content":"hi"}]}'
is "stream: usage chunk when asked" \
    "$(grep '"choices":\[\]' "$TMP/s" | sed 's/^data: //' | jq -c '[.usage.completion_tokens]')" "[3]"

# --- tools -----------------------------------------------------------------
tools='"tools":[{"type":"function","function":{"name":"get_weather",
        "description":"Weather","parameters":{"type":"object",
        "properties":{"city":{"type":"string"}},"required":["city"]}}}]'
r=$(post /azure/v1/chat/completions "$KEY" \
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}],$tools}")
b=$(echo "$r" | body_of)
is "tools: a tool call" \
    "$(echo "$b" | jq -c '.choices[0].message.tool_calls[0].function | [.name, (.arguments | fromjson)]')" \
    '["get_weather",{"city":"Paris"}]'
is "tools: finish_reason tool_calls" "$(echo "$b" | jq -r '.choices[0].finish_reason')" tool_calls
is "tools: the tools went upstream" "$(last_body | jq -r '.tools[0].function.name')" get_weather
cid=$(echo "$b" | jq -r '.choices[0].message.tool_calls[0].id')
stream "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}],$tools}"
is "tools: streamed arguments assemble" \
    "$(grep '^data: {' "$TMP/s" | sed 's/^data: //' |
       jq -r '.choices[0].delta.tool_calls[0].function.arguments // empty' | paste -sd '')" \
    '{"city":"Paris"}'
follow="{\"model\":\"gpt-4o\",$tools,\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},
  {\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"$cid\",\"type\":\"function\",
   \"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},
  {\"role\":\"tool\",\"tool_call_id\":\"$cid\",\"content\":\"18C, sunny\"}]}"
r=$(post /azure/v1/chat/completions "$KEY" "$follow")
is "tools: follow-up answered" "$(echo "$r" | status_of)" 200
lb=$(last_body)
is "tools: assistant tool_calls upstream" \
    "$(echo "$lb" | jq -r '.messages[1].tool_calls[0].id')" "$cid"
is "tools: tool result upstream" \
    "$(echo "$lb" | jq -c '.messages[2] | [.role,.tool_call_id,.content]')" \
    "[\"tool\",\"$cid\",\"18C, sunny\"]"

# --- embeddings ------------------------------------------------------------
r=$(post /azure/v1/embeddings "$KEY" '{"model":"text-embedding-3-small","input":["abcd","efgh"]}')
b=$(echo "$r" | body_of)
is "embeddings: two vectors" "$(echo "$b" | jq -c '[.data[].index]')" '[0,1]'
is "embeddings: usage" "$(echo "$b" | jq -c '.usage')" '{"prompt_tokens":2,"total_tokens":2}'
is "embeddings: deployment URL" "$(last | jq -r .path)" \
    "/azure/openai/deployments/embed-small/embeddings?api-version=2024-10-21"

# --- errors ----------------------------------------------------------------
r=$(post /azure/v1/chat/completions "$KEY" "$(chat azure-error-429)" -D "$TMP/h")
is "429: status kept" "$(echo "$r" | status_of)" 429
like "429: Retry-After passed on" "$(cat "$TMP/h")" 'Retry-After: 7'
b=$(echo "$r" | body_of)
is "429: OpenAI-shaped" "$(echo "$b" | jq -c '.error | [.type,.code]')" \
    '["rate_limit_error","rate_limit_exceeded"]'
like "429: Azure's message kept" "$(echo "$b" | jq -r .error.message)" 'exceeded token rate limit'

r=$(post /azure/v1/chat/completions "$KEY" "$(chat azure-error-500)")
is "5xx HTML: status kept" "$(echo "$r" | status_of)" 500
is "5xx HTML: OpenAI-shaped" "$(echo "$r" | body_of | jq -r '.error.type')" server_error

r=$(post /azure/v1/chat/completions "$KEY" "$(chat azure-content-filter)")
is "content filter: 400" "$(echo "$r" | status_of)" 400
b=$(echo "$r" | body_of)
is "content filter: code and type" "$(echo "$b" | jq -c '.error | [.code,.type,.param]')" \
    '["content_filter","invalid_request_error","prompt"]'
is "content filter: verdict kept" \
    "$(echo "$b" | jq -r '.error.innererror.content_filter_result.violence.filtered')" true

r=$(post /azure/v1/chat/completions "$KEY" "$(chat azure-missing)")
is "unknown deployment: 404" "$(echo "$r" | status_of)" 404
is "unknown deployment: Azure's code" "$(echo "$r" | body_of | jq -r .error.code)" DeploymentNotFound

# --- truncated stream, missing usage ---------------------------------------
stream "$(chat azure-truncate hi ',"stream":true')"
is "truncated: the text before the cut" "$(deltas)" "Hello"
like "truncated: error event" "$(grep '^data: {"error"' "$TMP/s")" '"code":"upstream_truncated"'
is "truncated: no [DONE]" "$(grep -c '^data: \[DONE\]' "$TMP/s")" 0
is "truncated: partial ledger row" "$(row "partial || '/' || error_type" true/upstream_truncated)" \
    true/upstream_truncated

r=$(post /azure/v1/chat/completions "$KEY" "$(chat azure-nousage)" -D "$TMP/h")
is "no usage: 200" "$(echo "$r" | status_of)" 200
is "no usage: row with usage_source none" "$(row usage_source none)" none
stream "$(chat azure-nousage hi ',"stream":true')"
is "no usage, streamed: text complete" "$(deltas)" "Hello| from azure|!"
is "no usage, streamed: row with usage_source none" "$(row usage_source none)" none

# --- ledger agrees with what the mock billed --------------------------------
KID=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
stats=$(curl -s "$AZ/__stats")
is "ledger total equals the mock's billed usage" \
    "$(wait_sql "SELECT sum(prompt_tokens) || '/' || sum(completion_tokens) FROM usage_events
                 WHERE api_key_id = '$KID' AND usage_source = 'provider'" \
                "$(echo "$stats" | jq -r '"\(.prompt_tokens)/\(.completion_tokens)"')")" \
    "$(echo "$stats" | jq -r '"\(.prompt_tokens)/\(.completion_tokens)"')"

# --- the official openai SDK ----------------------------------------------
cd "$ROOT/tests/client"
if [ ! -d node_modules/openai ]; then
    npm install --no-audit --no-fund --silent >/dev/null 2>&1 ||
        not_ok "npm install of the SDK clients"
fi
node sdk-azure.mjs "$GW/azure/v1" "$KEY" >"$TMP/sdk" 2>&1 ||
    grep -q '^not ok' "$TMP/sdk" || not_ok "sdk-azure.mjs failed" "$(tail -n3 "$TMP/sdk")"
while IFS= read -r line; do
    case "$line" in
    "ok "*) ok "${line#ok * - }" ;;
    "not ok "*) not_ok "${line#not ok * - }" ;;
    "#"*) echo "$line" ;;
    esac
done <"$TMP/sdk"
done_testing
