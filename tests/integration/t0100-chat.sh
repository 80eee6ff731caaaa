#!/usr/bin/env bash
# Chat completions through the real stack: lighttpd -> aigw-fcgi -> mock.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key alice eng chat)
curl -s -X POST "$MOCK/__reset" >/dev/null

r=$(post /v1/chat/completions "$KEY" "$(chat mock-gpt hi)")
is "non-stream: 200" "$(echo "$r" | status_of)" 200
b=$(echo "$r" | body_of)
is "non-stream: content relayed" "$(echo "$b" | jq -r '.choices[0].message.content')" \
    "mock0 mock1 mock2 mock3 mock4"
is "non-stream: usage relayed" "$(echo "$b" | jq -c '[.usage.prompt_tokens,.usage.completion_tokens]')" \
    "[$(( $(chat mock-gpt hi | wc -c) / 4 )),5]"
last=$(curl -s "$MOCK/__last")
is "provider key injected upstream" "$(echo "$last" | jq -r '.headers.authorization')" \
    "Bearer $AIGW_TEST_PROVIDER_KEY"
check "client key absent from upstream request" \
    bash -c "! grep -qF -- '$KEY' <<<'$(echo "$last" | jq -c .)'"
is "no Expect: 100-continue upstream" "$(echo "$last" | jq -r '.headers.expect // "none"')" none

# streaming, client did not ask for usage: the gateway asks, then hides it
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -D "$TMP/h" \
    -d "$(chat mock-gpt hi ',"stream":true')" >"$TMP/s"
like "stream: event-stream content type" "$(cat "$TMP/h")" 'Content-Type: text/event-stream'
is "stream: ends with [DONE]" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"
is "stream: 5 content deltas" "$(grep -c '"content":"mock' "$TMP/s")" 5
is "stream: usage chunk hidden when not asked" "$(grep -c '"choices":\[\]' "$TMP/s")" 0
last=$(curl -s "$MOCK/__last")
is "stream: include_usage requested upstream" \
    "$(echo "$last" | jq -r '.body | fromjson | .stream_options.include_usage')" true

# streaming, client asked for usage: it gets the usage chunk
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d "$(chat mock-gpt hi ',"stream":true,"stream_options":{"include_usage":true}')" >"$TMP/s2"
is "stream: usage chunk passed when asked" "$(grep -c '"choices":\[\]' "$TMP/s2")" 1
u=$(grep '"choices":\[\]' "$TMP/s2" | sed 's/^data: //' | jq -c '.usage.completion_tokens')
is "stream: usage chunk carries tokens" "$u" 5

# chunks reach the client as they are produced (no buffering in lighttpd)
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d "$(chat mock-drip hi ',"stream":true')" |
    while IFS= read -r line; do
        [ -n "$line" ] && echo "$(date +%s%3N) $line"
    done >"$TMP/timed"
first=$(grep '"content":"mock0' "$TMP/timed" | head -n1 | cut -d' ' -f1)
lastc=$(grep '"content":"mock9' "$TMP/timed" | head -n1 | cut -d' ' -f1)
gap=$(( ${lastc:-0} - ${first:-0} ))
check "stream: deltas arrive spread over time (${gap} ms between first and last)" \
    test "$gap" -ge 1500

# x-api-key (Anthropic-style clients)
code=$(curl -s -o /dev/null -w '%{http_code}' "$GW/v1/chat/completions" \
    -H "x-api-key: $KEY" -H 'Content-Type: application/json' -d "$(chat mock-gpt)")
is "x-api-key accepted" "$code" 200

# models and health
m=$(curl -s "$GW/v1/models" -H "Authorization: Bearer $KEY")
is "models: configured names, no patterns, then the aliases" "$(echo "$m" | jq -c '[.data[].id]')" \
    '["mock-gpt","gpt-4o-mini","unpriced-model","gpt-4","fast"]'
is "models: list object" "$(echo "$m" | jq -r .object)" list
is "models without a key: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$GW/v1/models")" 401
is "healthz" "$(curl -s "$GW/healthz" | jq -r .status)" ok
# the access log's cost equals the ledger's (the worker's copy of the
# prices loads within a second or two of the writer's first connection)
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -D "$TMP/hc" "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -d "$(chat mock-gpt "cost $i")"
    rid=$(grep -i '^x-request-id' "$TMP/hc" | tr -d '\r' | awk '{print $2}')
    sleep 0.3
    lc=$(grep -F "\"request_id\":\"$rid\"" "$GWLOG" | grep '"msg":"request"' | grep -oE '"cost_usd":[^,}]*' | cut -d: -f2)
    [ "$lc" != null ] && break
    sleep 1
done
dc=$(wait_sql "SELECT (cost_pusd / 1e12)::numeric(20,12) FROM usage_events WHERE request_id = '$rid'" "$lc")
is "access log cost_usd equals the ledger's cost" "$lc" "$dc"
check "and it is a real cost ($lc)" test "$(echo "$lc" | tr -d .0)" != ""
done_testing
