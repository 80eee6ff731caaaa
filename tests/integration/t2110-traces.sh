#!/usr/bin/env bash
# W3C trace context: a client's traceparent is continued (same trace id,
# the gateway's span as the provider's parent) and propagated upstream;
# spans reach the OTLP/HTTP mock collector with GenAI and identity
# attributes; an invalid traceparent starts a new trace; a collector
# outage costs spans, never requests.
. "$(dirname "$0")/lib.sh"

U=t2110-$$
KEY=$(new_key "$U" "$U-g" traces)
KID=$(sql "SELECT id FROM api_keys WHERE user_id = '$U'")
TRACE=$(openssl rand -hex 16)
PARENT=$(openssl rand -hex 8)
spans() { curl -s "$PMOCK/otlp/spans"; }
wait_span() {  # wait_span TRACE_ID: prints the trace's spans once there
    local i
    for i in $(seq 50); do
        spans | jq -ec "[.[] | select(.traceId == \"$1\")] | select(length > 0)" && return 0
        sleep 0.1
    done
    echo '[]'; return 1
}

r=$(post /v1/chat/completions "$KEY" "$(chat mock-gpt 'trace me')" \
    -H "traceparent: 00-$TRACE-$PARENT-01")
is "traced request: 200" "$(echo "$r" | status_of)" 200
tp=$(curl -s "$MOCK/__last" | jq -r '.headers.traceparent')
like "traceparent propagated upstream with the same trace id" "$tp" "^00-$TRACE-[0-9a-f]{16}-01$"
GWSPAN=$(echo "$tp" | cut -d- -f3)
check "the provider's parent is the gateway's span, not the client's" test "$GWSPAN" != "$PARENT"

sp=$(wait_span "$TRACE")
is "one span exported for the request" "$(echo "$sp" | jq length)" 1
attr() { echo "$sp" | jq -r ".[0].attributes[] | select(.key == \"$1\") | .value | (.stringValue // .intValue)"; }
is "span id is the one sent upstream" "$(echo "$sp" | jq -r '.[0].spanId')" "$GWSPAN"
is "parent span is the client's" "$(echo "$sp" | jq -r '.[0].parentSpanId')" "$PARENT"
is "span kind SERVER, GenAI name" "$(echo "$sp" | jq -r '"\(.[0].kind) \(.[0].name)"')" "2 chat mock-gpt"
is "service.name from the config" "$(echo "$sp" | jq -r '.[0].service')" aigw-test
is "gen_ai.operation.name" "$(attr gen_ai.operation.name)" chat
is "gen_ai.provider.name" "$(attr gen_ai.provider.name)" openai
is "gen_ai.request.model" "$(attr gen_ai.request.model)" mock-gpt
is "gen_ai.response.model" "$(attr gen_ai.response.model)" mock-gpt
is "gen_ai.usage.input_tokens / output_tokens equal the reply's usage" \
    "$(attr gen_ai.usage.input_tokens) $(attr gen_ai.usage.output_tokens)" \
    "$(echo "$r" | body_of | jq -r '"\(.usage.prompt_tokens) \(.usage.completion_tokens)"')"
is "identity attributes" "$(attr aigw.api_key_id) $(attr user.id) $(attr aigw.group_id)" "$KID $U $U-g"
rid=$(attr aigw.request_id)
is "the access log names the trace" \
    "$(grep -h "\"request_id\":\"$rid\"" "$GWLOG" | jq -r .trace_id)" "$TRACE"
check "span times are ordered" test "$(echo "$sp" | jq -r '.[0].endTimeUnixNano > .[0].startTimeUnixNano')" = true
check "no secret in spans" bash -c "! curl -s '$PMOCK/otlp/spans' | grep -qF -- '$KEY'"

# an invalid traceparent (all-zero trace id) starts a new trace
post /v1/chat/completions "$KEY" "$(chat mock-gpt 'bad parent')" \
    -H "traceparent: 00-00000000000000000000000000000000-$PARENT-01" >/dev/null
tp2=$(curl -s "$MOCK/__last" | jq -r '.headers.traceparent')
like "invalid traceparent: a new valid trace upstream" "$tp2" '^00-[0-9a-f]{32}-[0-9a-f]{16}-01$'
check "invalid traceparent: not the zero trace" bash -c "[[ '$tp2' != 00-0000000000000000* ]]"
T2=$(echo "$tp2" | cut -d- -f2)
check "invalid traceparent: the new trace is exported" eval 'wait_span "$T2" >/dev/null'

# not sampled by the caller: propagated, not exported
T3=$(openssl rand -hex 16)
post /v1/chat/completions "$KEY" "$(chat mock-gpt 'unsampled')" \
    -H "traceparent: 00-$T3-$PARENT-00" >/dev/null
like "unsampled: flags kept upstream" "$(curl -s "$MOCK/__last" | jq -r '.headers.traceparent')" "^00-$T3-[0-9a-f]{16}-00$"
sleep 0.5
is "unsampled: no span exported" "$(spans | jq "[.[] | select(.traceId == \"$T3\")] | length")" 0

# a streamed request and the collector failing: requests are unaffected
curl -s -X POST "$PMOCK/otlp/fail" -d '{"n":3}' >/dev/null
T4=$(openssl rand -hex 16)
code=$(curl -sN -o "$TMP/s" -w '%{http_code}' "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -H "traceparent: 00-$T4-$PARENT-01" \
    -d "$(chat mock-gpt 'stream' ',"stream":true')")
is "collector down: the request still succeeds" "$code" 200
is "collector down: the stream completes" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"
done_testing
