#!/usr/bin/env bash
# Guardrails through the real stack: regex rules that mask or reject
# requests, replies and streams (matches split across chunks), a
# pathological pattern on 1 MB, the ledger and the logs.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key guard-u guard-g guard)
G=$PMOCK/guard
curl -s -X POST "$G/__reset" >/dev/null
PII='mail bob@example.com, ssn 123-45-6789, card 4111 1111 1111 1111, TCK-123456'
MASKED='mail <EMAIL>, ssn <SSN>, card <CREDIT_CARD>, <TICKET>'
# stream_text MODEL PATH TEXT: the streamed content, joined
stream_text() {
    curl -sN "$GW$2/chat/completions" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' \
        -d "$(chat "$1" "$3" ',"stream":true')" >"$TMP/s"
    grep '^data: {' "$TMP/s" | sed 's/^data: //' |
        jq -rj '.choices[0].delta.content // empty' 2>/dev/null
}

# --- mask: request ----------------------------------------------------
r=$(post /guard/v1/chat/completions "$KEY" "$(chat echo-4 "$PII")")
is "mask: 200" "$(echo "$r" | status_of)" 200
is "mask: the provider got (and echoed) the masked prompt" \
    "$(echo "$r" | body_of | jq -r '.choices[0].message.content')" "$MASKED"
last=$(curl -s "$G/__last" | jq -r .body)
check "mask: no PII reached the provider" \
    bash -c "! grep -qE 'bob@example|123-45-6789|4111' <<<'$last'"
r=$(post /guard/v1/chat/completions "$KEY" '{"model":"echo-4","messages":[{"role":"user","content":[{"type":"text","text":"ip 10.1.2.3 here"}]}]}')
is "mask: text parts too" "$(echo "$r" | body_of | jq -r '.choices[0].message.content')" ""
like "mask: text part masked upstream" "$(curl -s "$G/__last" | jq -r .body)" 'ip <IPV4> here'

# --- reject: request (no provider call, no tokens) --------------------
before=$(curl -s "$G/__stats" | jq .requests)
r=$(post /guard-reject/v1/chat/completions "$KEY" "$(chat echo-4 'my ssn is 123-45-6789')")
is "reject: 403" "$(echo "$r" | status_of)" 403
is "reject: OpenAI error shape" "$(echo "$r" | body_of | jq -c '[.error.type,.error.code]')" \
    '["permission_error","guardrail_violation"]'
like "reject: names the rule, not the text" "$(echo "$r" | body_of | jq -r .error.message)" 'matched: ssn\)'
is "reject: the provider was not called" "$(curl -s "$G/__stats" | jq .requests)" "$before"
r=$(post /guard-reject/v1/chat/completions "$KEY" "$(chat echo-4 'say OPEN Sesame')")
is "reject: custom pattern" "$(echo "$r" | status_of)" 403
r=$(curl -sS -w '\n%{http_code}' "$GW/guard-reject/v1/messages" -H "x-api-key: $KEY" \
    -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' \
    -d '{"model":"echo-4","max_tokens":50,"messages":[{"role":"user","content":"ssn 123-45-6789"}]}')
is "reject: Messages API client too" "$(echo "$r" | tail -n1)" 403
r=$(post /guard-reject/v1/chat/completions "$KEY" "$(chat echo-4 'clean text')")
is "reject set: clean prompt passes" "$(echo "$r" | status_of)" 200

# --- response direction -----------------------------------------------
r=$(post /guard-reject/v1/chat/completions "$KEY" "$(chat echo-4 'reply to bob@example.com')")
is "response reject: configured status" "$(echo "$r" | status_of)" 502
is "response reject: configured message" "$(echo "$r" | body_of | jq -r .error.message)" \
    "The reply contained personal data."
out=$(stream_text echo-3 /guard-reject/v1 'hello there bob@example.com and more text')
check "stream reject: the address never reached the client" \
    bash -c "! grep -q 'bob@' '$TMP/s'"
like "stream reject: ends with an error event" "$(grep '^data:' "$TMP/s" | tail -n1)" \
    '"code":"guardrail_blocked"'
bad=0
for n in 1 2 3 4 5 6 7 9 13; do
    got=$(stream_text "echo-$n" /guard/v1 "$PII")
    [ "$got" = "$MASKED" ] || { bad=$((bad + 1)); echo "# echo-$n: $got"; }
done
is "stream mask: matches split at any chunk size are masked" "$bad" 0
is "stream mask: ends with [DONE]" "$(grep '^data:' "$TMP/s" | tail -n1)" "data: [DONE]"

# --- a pathological pattern on a 1 MB prompt ---------------------------
head -c 1000000 /dev/zero | tr '\0' a >"$TMP/big"
printf '{"model":"echo-4","messages":[{"role":"user","content":"%s!"}]}' "$(cat "$TMP/big")" >"$TMP/big.json"
t0=$(date +%s%N)
st=$(curl -s -o "$TMP/bb" -w '%{http_code}' "$GW/guard-patho/v1/chat/completions" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary @"$TMP/big.json")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "pathological pattern: blocked" "$st" 403
like "pathological pattern: says the limit tripped" "$(jq -r .error.message "$TMP/bb")" 'match limit'
check "pathological pattern: within a second (${ms} ms)" test "$ms" -lt 1000

# --- ledger and logs ----------------------------------------------------
is "ledger: blocked request, guardrail error, zero tokens" \
    "$(wait_sql "SELECT error_type||' '||prompt_tokens||' '||guardrail FROM usage_events WHERE user_id='guard-u' AND route='guard-reject' AND http_status=403 ORDER BY ts LIMIT 1" 'guardrail 0 pii-reject:request:regex')" \
    'guardrail 0 pii-reject:request:regex'
is "ledger: masked request recorded" \
    "$(wait_sql "SELECT count(*)>0 FROM usage_events WHERE user_id='guard-u' AND guardrail='pii-mask:request:regex' AND error_type IS NULL" t)" t
like "log: the block is logged by rule name" "$(cat "$GWLOG")" 'guardrail blocked: pii-reject:request:regex \(ssn\)'
check "log: no sample PII in any log" \
    bash -c "! grep -rqE 'bob@example|123-45-6789|4111 1111|TCK-123456|10\.1\.2\.3' '$VAR/log'"
m=$(curl -s "$GW/metrics")
like "metrics: guardrail blocks counted" "$(printf '%s' "$m" | grep '^aigw_guardrail_actions_total{' | grep 'action="blocked"')" ' [1-9][0-9]*$'
like "metrics: guardrail masks counted" "$(printf '%s' "$m" | grep '^aigw_guardrail_actions_total{' | grep 'action="masked"')" ' [1-9][0-9]*$'
done_testing
