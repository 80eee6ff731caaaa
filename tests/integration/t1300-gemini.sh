#!/usr/bin/env bash
# Google Gemini (AI Studio) through the real stack: lighttpd -> aigw-fcgi
# -> tests/mock/providers/gemini.mjs, which speaks Gemini's wire format and
# rejects what Google rejects.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key gina eng gemini)
R=/gemini/v1
GKEY=gemini-CANARY-key-0001

last() { curl -s "$PMOCK/gemini/__last"; }
sent() { last | jq -c ".body | fromjson | $1"; }
stats() { curl -s "$PMOCK/gemini/__stats" | jq -r '"\(.prompt_tokens) \(.completion_tokens)"'; }
# call BODY [curl args]: POST to the route; status, headers, body in $TMP
call() {
    local b=$1; shift
    curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X POST \
        "$GW$R/chat/completions" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' --data-binary "$b" "$@" >"$TMP/st"
    cat "$TMP/st"
}
rid() { grep -i '^x-request-id' "$TMP/h" | tr -d '\r' | awk '{print $2}'; }
# the SDK script's TAP lines, renumbered into this test's
sdk_tap() {
    local l
    while IFS= read -r l; do
        case $l in
        "ok "*) ok "${l#ok * - }" ;;
        "not ok "*) not_ok "${l#not ok * - }" ;;
        "#"*) echo "$l" ;;
        esac
    done <"$TMP/sdk"
}
row() { wait_sql "SELECT $1 FROM usage_events WHERE request_id = '$2'" "$3"; }
# billed DELTA_FROM: the mock's billed "prompt completion" since DELTA_FROM
billed_since() {
    local a b; read -r a b <<<"$1"; local c d; read -r c d <<<"$(stats)"
    echo "$((c - a)) $((d - b))"
}

# --- non-stream text, with system, stop, temperature, max_tokens --------
s0=$(stats)
is "non-stream: 200" "$(call '{"model":"gemini-2.5-flash","messages":[
    {"role":"system","content":"Be terse."},{"role":"user","content":"hi"}],
    "temperature":0.3,"top_p":0.8,"max_tokens":64,"stop":["END","STOP"]}')" 200
is "non-stream: content" "$(jq -r '.choices[0].message.content' "$TMP/b")" "Hello from gemini!"
is "non-stream: finish_reason" "$(jq -r '.choices[0].finish_reason' "$TMP/b")" stop
is "non-stream: chat.completion object" "$(jq -r .object "$TMP/b")" chat.completion
is "upstream path: generateContent" "$(last | jq -r .path)" \
    "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
is "system message -> systemInstruction" "$(sent .systemInstruction)" \
    '{"parts":[{"text":"Be terse."}]}'
is "user message -> contents" "$(sent .contents)" \
    '[{"role":"user","parts":[{"text":"hi"}]}]'
is "temperature, top_p, max_tokens, stop -> generationConfig" "$(sent .generationConfig)" \
    '{"maxOutputTokens":64,"temperature":0.3,"topP":0.8,"stopSequences":["END","STOP"]}'
is "credential upstream: x-goog-api-key" "$(last | jq -r '.headers["x-goog-api-key"]')" "$GKEY"
is "no Authorization header upstream" "$(last | jq -r '.headers.authorization // "none"')" none
check "client key absent from the upstream request" \
    bash -c "! grep -qF -- '$KEY' <<<'$(last | jq -c .)'"
read -r bp bc <<<"$(billed_since "$s0")"
is "non-stream: usage = billed" "$(jq -r '"\(.usage.prompt_tokens) \(.usage.completion_tokens)"' "$TMP/b")" "$bp $bc"
is "non-stream: ledger row = billed" "$(row "prompt_tokens, completion_tokens, usage_source, provider, served_model" "$(rid)" \
    "$bp|$bc|provider|gemini|gemini-2.5-flash")" "$bp|$bc|provider|gemini|gemini-2.5-flash"

# thinking model: thoughtsTokenCount counts as output
s0=$(stats)
call "$(chat gemini-2.5-pro hi)" >/dev/null
read -r bp bc <<<"$(billed_since "$s0")"
is "thoughts billed as output (ledger)" "$(row "prompt_tokens || ' ' || completion_tokens" "$(rid)" "$bp $bc")" "$bp $bc"
check "thoughts included ($bc > 5)" test "$bc" -gt 5

# max_tokens reached: MAX_TOKENS -> length
call "$(chat gemini-2.5-flash hi ',"max_tokens":2')" >/dev/null
is "MAX_TOKENS -> finish_reason length" "$(jq -r '.choices[0].finish_reason' "$TMP/b")" length

# --- streaming ----------------------------------------------------------
s0=$(stats)
call "$(chat gemini-2.5-flash hi ',"stream":true')" -N >/dev/null
like "stream: event-stream" "$(cat "$TMP/h")" 'Content-Type: text/event-stream'
is "stream: upstream alt=sse" "$(last | jq -r .path)" \
    "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
is "stream: three deltas" "$(grep '^data: {' "$TMP/b" | sed 's/^data: //' |
    jq -r '.choices[0].delta.content // empty' | grep -v '^$' | tr '\n' '|')" "Hello| from gemini|!|"
is "stream: finish chunk" "$(grep -c '"finish_reason":"stop"' "$TMP/b")" 1
is "stream: usage chunk hidden when not asked" "$(grep -c '"choices":\[\]' "$TMP/b")" 0
is "stream: ends with [DONE]" "$(grep '^data:' "$TMP/b" | tail -n1)" "data: [DONE]"
read -r bp bc <<<"$(billed_since "$s0")"
is "stream: ledger row = billed" "$(row "prompt_tokens || ' ' || completion_tokens || ' ' || stream" "$(rid)" "$bp $bc true")" "$bp $bc true"

call "$(chat gemini-2.5-flash hi ',"stream":true,"stream_options":{"include_usage":true}')" -N >/dev/null
is "stream: usage chunk when asked" "$(grep -c '"choices":\[\]' "$TMP/b")" 1
is "stream: usage chunk tokens" "$(grep '"choices":\[\]' "$TMP/b" | sed 's/^data: //' |
    jq -r '.usage.completion_tokens')" 5

# --- tools both ways ----------------------------------------------------
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
  "parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
  "additionalProperties":false,"properties":{"city":{"type":"string"}},"required":["city"]}}}]'
is "tools: 200" "$(call "{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"user\",\"content\":\"Paris?\"}],$TOOLS,\"tool_choice\":\"required\"}")" 200
is "tools: OpenAI tool_calls" "$(jq -c '.choices[0].message.tool_calls[0] | [.type, .function.name, (.function.arguments | fromjson)]' "$TMP/b")" \
    '["function","get_weather",{"city":"Paris"}]'
is "tools: finish_reason tool_calls" "$(jq -r '.choices[0].finish_reason' "$TMP/b")" tool_calls
is "tools: content null" "$(jq -r '.choices[0].message.content' "$TMP/b")" null
like "tools: call id made from the request id" "$(jq -r '.choices[0].message.tool_calls[0].id' "$TMP/b")" "^call_$(rid)_0\$"
is "tools -> functionDeclarations, schema cleaned" "$(sent .tools)" \
    '[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]}]'
is "tool_choice required -> mode ANY" "$(sent .toolConfig)" '{"functionCallingConfig":{"mode":"ANY"}}'
CALL=$(jq -c '.choices[0].message' "$TMP/b")
CID=$(jq -r '.tool_calls[0].id' <<<"$CALL")
is "tool result: 200" "$(call "{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"user\",\"content\":\"Paris?\"},$CALL,
    {\"role\":\"tool\",\"tool_call_id\":\"$CID\",\"content\":\"{\\\"temp_c\\\":21}\"}],$TOOLS,
    \"tool_choice\":\"none\"}")" 200
is "tool result: the model's answer" "$(jq -r '.choices[0].message.content' "$TMP/b")" "Hello from gemini!"
is "tool_choice none -> mode NONE" "$(sent .toolConfig)" '{"functionCallingConfig":{"mode":"NONE"}}'
is "assistant tool_calls -> model functionCall" "$(sent '.contents[1]')" \
    '{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]}'
is "tool message -> user functionResponse (name looked up)" "$(sent '.contents[2]')" \
    '{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"content":{"temp_c":21}}}}]}'
call "$(chat gemini-2.5-flash hi ",$TOOLS,\"stream\":true")" -N >/dev/null
is "stream tools: tool call delta" "$(grep '"tool_calls":\[' "$TMP/b" | sed 's/^data: //' |
    jq -c '.choices[0].delta.tool_calls[0] | [.function.name, .function.arguments]')" '["get_weather","{\"city\":\"Paris\"}"]'
is "stream tools: finish tool_calls" "$(grep -c '"finish_reason":"tool_calls"' "$TMP/b")" 1
is "unknown tool_call_id: 400" "$(call '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"},
    {"role":"tool","tool_call_id":"nope","content":"1"}]}')" 400

# --- images --------------------------------------------------------------
call '{"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"text","text":"what?"},
  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
  {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}' >/dev/null
is "images -> inlineData and fileData" "$(sent '.contents[0].parts[1:]')" \
    '[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},{"fileData":{"mimeType":"image/png","fileUri":"https://example.com/cat.png"}}]'

# --- errors --------------------------------------------------------------
is "429: status kept" "$(call "$(chat gemini-error-429)")" 429
like "429: Retry-After passed on" "$(tr -d '\r' <"$TMP/h")" '^Retry-After: 7$'
is "429: OpenAI-shaped, code = Google status" "$(jq -c '.error | [.type, .code, .message]' "$TMP/b")" \
    '["rate_limit_error","RESOURCE_EXHAUSTED","Resource has been exhausted (e.g. check quota)."]'
is "500 HTML: status kept" "$(call "$(chat gemini-error-500)")" 500
is "500 HTML: OpenAI-shaped error" "$(jq -c '.error | [.type, .code]' "$TMP/b")" '["server_error","upstream_error"]'

# truncated stream: what came is relayed, then an error event; partial row
s0=$(stats)
call "$(chat gemini-truncate hi ',"stream":true')" -N >/dev/null
is "truncated: first delta relayed" "$(grep -c '"content":"Hello"' "$TMP/b")" 1
like "truncated: error event" "$(tail -n2 "$TMP/b")" '"code":"upstream_truncated"'
is "truncated: no [DONE]" "$(grep -c '\[DONE\]' "$TMP/b")" 0
read -r bp bc <<<"$(billed_since "$s0")"
is "truncated: partial row with what was billed" "$(row "partial, error_type, prompt_tokens || ' ' || completion_tokens" "$(rid)" \
    "t|upstream_truncated|$bp $bc")" "t|upstream_truncated|$bp $bc"

# no usage reported: row with usage_source none
call "$(chat gemini-nousage)" >/dev/null
is "nousage: 200" "$(cat "$TMP/st")" 200
is "nousage: ledger usage_source none" "$(row "usage_source, total_tokens" "$(rid)" "none|0")" "none|0"
call "$(chat gemini-nousage hi ',"stream":true,"stream_options":{"include_usage":true}')" -N >/dev/null
is "nousage stream: completes" "$(grep '^data:' "$TMP/b" | tail -n1)" "data: [DONE]"
is "nousage stream: ledger usage_source none" "$(row "usage_source" "$(rid)" "none")" none

# --- embeddings ----------------------------------------------------------
code=$(curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' "$GW$R/embeddings" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"model":"text-embedding-004","input":["hello","world"]}')
is "embeddings: 200" "$code" 200
is "embeddings: OpenAI list" "$(jq -c '[.object, (.data | length), .data[1].index, (.data[0].embedding | length), .model]' "$TMP/b")" \
    '["list",2,1,8,"text-embedding-004"]'
is "embeddings: upstream batchEmbedContents" "$(last | jq -r .path)" \
    "/gemini/v1beta/models/text-embedding-004:batchEmbedContents"
is "embeddings: upstream body" "$(sent '.requests[1]')" \
    '{"model":"models/text-embedding-004","content":{"parts":[{"text":"world"}]}}'
is "embeddings: no usage reported -> none" "$(row "usage_source, prompt_tokens" "$(rid)" "none|0")" "none|0"

# --- the official SDK ----------------------------------------------------
cd "$ROOT/tests/client"
if [ ! -d node_modules/openai ]; then
    npm install --no-audit --no-fund --silent >/dev/null 2>&1 ||
        not_ok "npm install of the openai client"
fi
node sdk-gemini.mjs "$GW$R" "$KEY" gemini-2.5-flash gemini gemini-error-429 >"$TMP/sdk" 2>&1
sdk_rc=$?
sdk_tap
is "official openai SDK: exit status" "$sdk_rc" 0
cd "$ROOT"

check "provider key never in the gateway logs" bash -c "! grep -qF -- '$GKEY' '$GWLOG' '$ERRLOG'"
done_testing
