#!/usr/bin/env bash
# The Anthropic provider through the real stack: lighttpd -> aigw-fcgi ->
# the Messages API mock (tests/mock/providers/anthropic.mjs). Requests are
# translated to Messages bodies, replies and SSE streams back to OpenAI's
# shapes, errors keep their status, and the ledger gets the billed usage.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key erin eng anthropic)
KID=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
A=/anthropic/v1/chat/completions
AM=$PMOCK/anthropic
curl -s -X POST "$AM/__reset" >/dev/null
last() { curl -s "$AM/__last"; }
upbody() { last | jq -c ".body | fromjson | $1"; }
rid_of() { grep -i '^x-request-id:' "$1" | tr -d '\r' | awk '{print $2}'; }
# stream BODY OUT [HEADERS]: the client's view of a streamed request
stream() {
    curl -sN "$GW$A" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -D "${3:-/dev/null}" \
        -d "$1" >"$2"
}
Q="FROM usage_events WHERE request_id ="
row() { wait_sql "SELECT $2 $Q '$1'" "$3"; }

# --- non-stream text, and what the provider received --------------------
req='{"model":"claude-sonnet-4-5","messages":[{"role":"system","content":"Be brief."},
 {"role":"user","content":"hi"},{"role":"user","content":"there"}],
 "temperature":0.3,"top_p":0.8,"max_tokens":50,"stop":"END"}'
r=$(post $A "$KEY" "$req" -D "$TMP/h")
is "non-stream: 200" "$(echo "$r" | status_of)" 200
b=$(echo "$r" | body_of)
is "non-stream: chat.completion" "$(echo "$b" | jq -r .object)" chat.completion
is "non-stream: text" "$(echo "$b" | jq -r '.choices[0].message.content')" \
    "Hello from anthropic!"
is "non-stream: finish_reason stop" "$(echo "$b" | jq -r '.choices[0].finish_reason')" stop
is "non-stream: served model is the provider's" "$(echo "$b" | jq -r .model)" \
    claude-sonnet-4-5-20250929
u=$(echo "$b" | jq -c '[.usage.prompt_tokens,.usage.completion_tokens,.usage.prompt_tokens_details.cached_tokens]')
like "non-stream: usage with cache reads as cached tokens" "$u" '^\[[0-9]+,5,8\]$'
rid=$(rid_of "$TMP/h")
is "non-stream: ledger tokens equal the reply's usage" \
    "$(row "$rid" "'['||prompt_tokens||','||completion_tokens||','||cached_tokens||']'" "$u")" "$u"
is "non-stream: ledger row is the provider's usage, priced, snapshot model" \
    "$(sql "SELECT usage_source||'/'||provider||'/'||served_model||'/'||(cost_pusd IS NOT NULL) $Q '$rid'")" \
    "provider/anthropic/claude-sonnet-4-5-20250929/true"

l=$(last)
is "upstream path" "$(echo "$l" | jq -r .path)" /anthropic/v1/messages
is "x-api-key is the provider credential" "$(echo "$l" | jq -r '.headers["x-api-key"]')" \
    sk-ant-CANARY-anthropic-0001
is "anthropic-version header" "$(echo "$l" | jq -r '.headers["anthropic-version"]')" 2023-06-01
is "no Authorization header upstream" "$(echo "$l" | jq -r '.headers.authorization // "none"')" none
check "client key absent from the upstream request" \
    bash -c "! grep -qF -- '$KEY' <<<'$(echo "$l" | jq -c .)'"
is "system message lifted to system" "$(upbody .system)" '"Be brief."'
is "consecutive user messages merged into one turn" "$(upbody .messages)" \
    '[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"there"}]}]'
is "temperature, top_p, max_tokens, stop_sequences mapped" \
    "$(upbody '[.temperature,.top_p,.max_tokens,.stop_sequences,.model]')" \
    '[0.3,0.8,50,["END"],"claude-sonnet-4-5"]'

r=$(post $A "$KEY" '{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"x"}],"max_completion_tokens":2}')
is "max_completion_tokens mapped" "$(upbody .max_tokens)" 2
is "stop_reason max_tokens: finish_reason length" \
    "$(echo "$r" | body_of | jq -r '.choices[0].finish_reason')" length
post $A "$KEY" '{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"x"}]}' >/dev/null
is "default max_tokens when the client names none" "$(upbody .max_tokens)" 4096

img='{"model":"claude-haiku-4-5","messages":[{"role":"user","content":[{"type":"text","text":"what is it?"},
 {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
 {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]}'
r=$(post $A "$KEY" "$img")
is "images: 200" "$(echo "$r" | status_of)" 200
is "images: data URL as base64 source, https URL as url source" \
    "$(upbody '[.messages[0].content[1].source, .messages[0].content[2].source]')" \
    '[{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="},{"type":"url","url":"https://example.com/cat.jpg"}]'

# --- streaming ----------------------------------------------------------
stream '{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
    "$TMP/s" "$TMP/h"
like "stream: event-stream" "$(cat "$TMP/h")" 'Content-Type: text/event-stream'
is "stream: three content deltas" \
    "$(grep '^data: {' "$TMP/s" | sed 's/^data: //' | jq -rc 'select(.choices[0].delta.content != null and .choices[0].delta.content != "") | .choices[0].delta.content' | paste -sd'|')" \
    "Hello| from anthropic|!"
is "stream: role chunk first" \
    "$(grep '^data: {' "$TMP/s" | head -n1 | sed 's/^data: //' | jq -r '.choices[0].delta.role')" assistant
is "stream: finish chunk" \
    "$(grep -c '"finish_reason":"stop"' "$TMP/s")" 1
is "stream: ends with [DONE]" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"
is "stream: no usage chunk unless asked" "$(grep -c '"choices":\[\]' "$TMP/s")" 0
is "stream: stream true upstream, no stream_options" "$(upbody '[.stream, .stream_options]')" '[true,null]'
rid=$(rid_of "$TMP/h")
is "stream: ledger row counted, not partial" \
    "$(row "$rid" "completion_tokens||'/'||partial||'/'||stream" "5/false/true")" "5/false/true"

stream '{"model":"claude-sonnet-4-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}' \
    "$TMP/s2" "$TMP/h"
is "stream: usage chunk when asked" "$(grep -c '"choices":\[\]' "$TMP/s2")" 1
su=$(grep '"choices":\[\]' "$TMP/s2" | sed 's/^data: //' | jq -c '[.usage.prompt_tokens,.usage.completion_tokens]')
rid=$(rid_of "$TMP/h")
is "stream: usage chunk equals the ledger row" \
    "$(row "$rid" "'['||prompt_tokens||','||completion_tokens||']'" "$su")" "$su"

# --- tool calls both ways -------------------------------------------------
tools='"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
 "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
 {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}]'
r=$(post $A "$KEY" "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}],$tools,\"tool_choice\":\"required\"}")
b=$(echo "$r" | body_of)
is "tools: finish_reason tool_calls" "$(echo "$b" | jq -r '.choices[0].finish_reason')" tool_calls
is "tools: OpenAI tool call" \
    "$(echo "$b" | jq -c '.choices[0].message.tool_calls[0] | [.type, .function.name, (.function.arguments | fromjson), (.id | startswith("toolu_"))]')" \
    '["function","get_weather",{"city":"Paris"},true]'
is "tools: content null" "$(echo "$b" | jq -c '.choices[0].message.content')" null
is "tools: definitions as name/description/input_schema" "$(upbody '.tools[0]')" \
    '{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}'
is "tools: tool_choice required -> any" "$(upbody .tool_choice)" '{"type":"any"}'
post $A "$KEY" "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"t?\"}],$tools,
 \"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}}" >/dev/null
is "tools: named function -> type tool" "$(upbody .tool_choice)" '{"type":"tool","name":"get_time"}'

stream "{\"model\":\"claude-sonnet-4-5\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}],$tools}" "$TMP/st"
d=$(grep '^data: {' "$TMP/st" | sed 's/^data: //')
is "tools stream: first delta carries id and name" \
    "$(echo "$d" | jq -c 'select(.choices[0].delta.tool_calls != null) | .choices[0].delta.tool_calls[0] | select(.id) | [.index, .function.name]')" \
    '[0,"get_weather"]'
is "tools stream: arguments assembled" \
    "$(echo "$d" | jq -j 'select(.choices[0].delta.tool_calls != null) | .choices[0].delta.tool_calls[0].function.arguments' | jq -c .)" \
    '{"city":"Paris"}'
is "tools stream: finish tool_calls" "$(grep -c '"finish_reason":"tool_calls"' "$TMP/st")" 1

fu="{\"model\":\"claude-sonnet-4-5\",$tools,\"messages\":[{\"role\":\"user\",\"content\":\"weather and time?\"},
 {\"role\":\"assistant\",\"content\":null,\"tool_calls\":[
  {\"id\":\"toolu_01A\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},
  {\"id\":\"toolu_01B\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},
 {\"role\":\"tool\",\"tool_call_id\":\"toolu_01A\",\"content\":\"18C\"},
 {\"role\":\"tool\",\"tool_call_id\":\"toolu_01B\",\"content\":\"noon\"}]}"
r=$(post $A "$KEY" "$fu")
is "tool results: accepted upstream (ids match, turns alternate)" "$(echo "$r" | status_of)" 200
is "tool results: assistant tool_calls -> tool_use blocks" "$(upbody '.messages[1]')" \
    '{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"city":"Paris"}},{"type":"tool_use","id":"toolu_01B","name":"get_time","input":{}}]}'
is "tool results: merged into one user turn of tool_result blocks" "$(upbody '.messages[2]')" \
    '{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A","content":"18C"},{"type":"tool_result","tool_use_id":"toolu_01B","content":"noon"}]}'
r=$(post $A "$KEY" '{"model":"claude-sonnet-4-5","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"not json"}}]}]}')
is "bad tool arguments: 400 before the provider" "$(echo "$r" | status_of)" 400
like "bad tool arguments: says why" "$(echo "$r" | body_of | jq -r .error.message)" 'JSON object'

# --- upstream errors ------------------------------------------------------
r=$(post $A "$KEY" "$(chat claude-error-429)" -D "$TMP/h")
is "429: status kept" "$(echo "$r" | status_of)" 429
like "429: Retry-After passed on" "$(tr -d '\r' <"$TMP/h")" '^Retry-After: 7$'
is "429: OpenAI shape with Anthropic's type as code" \
    "$(echo "$r" | body_of | jq -c '.error | [.type, .code, .param]')" \
    '["rate_limit_error","rate_limit_error",null]'
like "429: message kept" "$(echo "$r" | body_of | jq -r .error.message)" 'exceed the rate limit'
r=$(post $A "$KEY" "$(chat claude-error-529)")
is "529 overloaded: status kept" "$(echo "$r" | status_of)" 529
is "529 overloaded: mapped" "$(echo "$r" | body_of | jq -c '.error | [.type, .code, .message]')" \
    '["server_error","overloaded_error","Overloaded"]'
r=$(post $A "$KEY" "$(chat claude-error-500)" -D "$TMP/h")
is "500 HTML: status kept" "$(echo "$r" | status_of)" 500
is "500 HTML: OpenAI-shaped error" "$(echo "$r" | body_of | jq -c '.error | [.type, .code]')" \
    '["server_error","upstream_error"]'
rid=$(rid_of "$TMP/h")
is "500 HTML: ledger row with the status" \
    "$(row "$rid" "http_status||'/'||error_type" "500/upstream_error")" 500/upstream_error
r=$(post /anthropic/v1/embeddings "$KEY" '{"model":"claude-sonnet-4-5","input":"x"}')
is "embeddings: 400, not supported" "$(echo "$r" | status_of)" 400

# --- broken streams and missing usage -------------------------------------
stream '{"model":"claude-truncate","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
    "$TMP/s" "$TMP/h"
is "truncated stream: first delta relayed" "$(grep -c '"content":"Hello"' "$TMP/s")" 1
like "truncated stream: error event" "$(tail -n2 "$TMP/s")" '"code":"upstream_truncated"'
is "truncated stream: no [DONE]" "$(grep -c '\[DONE\]' "$TMP/s")" 0
rid=$(rid_of "$TMP/h")
is "truncated stream: partial row with the usage known so far" \
    "$(row "$rid" "partial||'/'||error_type||'/'||(prompt_tokens > 0)||'/'||usage_source" \
        "true/upstream_truncated/true/provider")" "true/upstream_truncated/true/provider"

stream '{"model":"claude-error-event","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
    "$TMP/s" "$TMP/h"
like "error event mid-stream: error event to the client" "$(tail -n2 "$TMP/s")" \
    '"code":"upstream_bad_event"'
is "error event mid-stream: no [DONE]" "$(grep -c '\[DONE\]' "$TMP/s")" 0
rid=$(rid_of "$TMP/h")
is "error event mid-stream: partial row" \
    "$(row "$rid" "partial||'/'||(prompt_tokens > 0)" "true/true")" "true/true"

r=$(post $A "$KEY" "$(chat claude-nousage)" -D "$TMP/h")
is "no usage: reply still relayed" "$(echo "$r" | body_of | jq -r '.choices[0].message.content')" \
    "Hello from anthropic!"
rid=$(rid_of "$TMP/h")
is "no usage: row with usage_source none" \
    "$(row "$rid" "usage_source||'/'||prompt_tokens" "none/0")" none/0
stream '{"model":"claude-nousage","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}' \
    "$TMP/s" "$TMP/h"
is "no usage, streamed: completes" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"
rid=$(rid_of "$TMP/h")
is "no usage, streamed: row with usage_source none" \
    "$(row "$rid" "usage_source||'/'||partial" "none/false")" none/false

# --- the official SDK -----------------------------------------------------
cd "$ROOT/tests/client"
if [ ! -d node_modules/openai ]; then
    npm install --no-audit --no-fund --silent >/dev/null 2>&1 ||
        not_ok "npm install of the openai client"
fi
node sdk-anthropic.mjs "$GW/anthropic/v1" "$KEY" >"$TMP/sdk" 2>&1
sdk_rc=$?
while IFS= read -r line; do
    case "$line" in
    "ok "*) ok "${line#ok * - }" ;;
    "not ok "*) not_ok "${line#not ok * - }" ;;
    "#"*) echo "$line" ;;
    esac
done <"$TMP/sdk"
is "sdk script exit status" "$sdk_rc" 0
cd "$ROOT"

# --- the ledger agrees with what the provider billed ----------------------
stats=$(curl -s "$AM/__stats")
want=$(echo "$stats" | jq -r '"\(.prompt_tokens)/\(.completion_tokens)"')
is "ledger tokens equal what the mock billed (all requests of this key)" \
    "$(wait_sql "SELECT sum(prompt_tokens) || '/' || sum(completion_tokens) FROM usage_events WHERE api_key_id = '$KID'" "$want")" \
    "$want"
done_testing
