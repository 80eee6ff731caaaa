#!/usr/bin/env bash
# Optional prompt/response capture in the access log (observability.capture,
# on for the "capture" and "guard-reject" routes in the test config, 200
# bytes, capture mask ["ssn", "credit_card"]): off elsewhere; secrets are
# always masked; the capture's builtins and the route's guardrail rules
# (its request and response rules, whatever their action) mask PII; long
# texts are cut on a UTF-8 boundary and flagged; streams are joined; what
# the provider and the client see is not changed by capture.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key "u-t2150-$$" "g-t2150-$$" capture)
logline() {  # logline RID: the access-log line of request RID
    local i
    for i in $(seq 50); do
        grep -h "\"request_id\":\"$1\"" "$GWLOG" | grep '"msg":"request"' && return
        sleep 0.1
    done
}
call() {  # call PATH BODY: the reply body in $TMP/b, request id printed
    curl -s -D "$TMP/h" -o "$TMP/b" "$GW$1" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' --data-binary "$2"
    sed -nE 's/^X-Request-Id: *([0-9a-f-]+).*/\1/ip' "$TMP/h" | tr -d '\r'
}
msg() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}' "$1" "$2" "${3:-}"; }

# --- off by default: the default route logs no text
rid=$(call /v1/chat/completions "$(msg mock-gpt 'my secret plan')")
l=$(logline "$rid")
is "capture off: no prompt field" "$(jq -r 'has("prompt") or has("response")' <<<"$l")" false
is "capture off: the text is nowhere in the log" "$(grep -c 'my secret plan' "$GWLOG")" 0

# --- on: secrets always masked, the capture's builtins applied
AWS=AKIAIOSFODNN7EXAMPLE
JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U
text="key $KEY aws $AWS jwt $JWT auth Bearer abcdefghij0123 ssn 078-05-1120 mail ann@example.org"
rid=$(call /capture/v1/chat/completions \
    "{\"model\":\"echo-4\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"$text\"}]}")
l=$(logline "$rid")
is "the client's reply is not masked by capture" "$(jq -r '.choices[0].message.content' "$TMP/b")" "$text"
p=$(jq -r .prompt <<<"$l"); r=$(jq -r .response <<<"$l")
like "prompt captured with roles" "$p" '^system: be brief'$'\n''user: key '
for s in "$KEY" "$AWS" "$JWT" abcdefghij0123 078-05-1120; do
    is "secret/PII ${s:0:10}... masked in prompt and response" \
        "$(grep -cF -- "$s" <<<"$p$r")" 0
done
like "masks shown in the prompt" "$p" 'key <SECRET> aws <AWS_ACCESS_KEY> jwt <JWT> auth <SECRET> ssn <SSN>'
like "the response captured and masked too" "$r" '^key <SECRET> aws <AWS_ACCESS_KEY>'
# email is not in this test's capture mask: the route has no guardrails
like "only configured builtins apply on an unguarded route" "$p" 'mail ann@example\.org'
is "no truncation flag for a short text" "$(jq -r 'has("prompt_truncated")' <<<"$l")" false
is "the usual access-log fields stay" "$(jq -r '"\(.route) \(.http_status_code) \(.prompt_tokens > 0)"' <<<"$l")" \
    "capture 200 true"

# --- the route's guardrail rules mask the capture (guard-reject's response
# rule for email; a streamed reply is blocked by it after the first pieces)
rid=$(call /guard-reject/v1/chat/completions "$(msg echo-4 'write to zed@example.com now' ',"stream":true')")
l=$(logline "$rid")
is "route rules: email masked in the prompt" "$(jq -r .prompt <<<"$l")" 'user: write to <EMAIL> now'
like "route rules: the streamed response joined and masked" "$(jq -r .response <<<"$l")" '^write to '
is "route rules: the address is not in the log" "$(grep -c 'zed@example.com' "$GWLOG")" 0

# --- a stream in small pieces is joined whole
rid=$(call /capture/v1/chat/completions "$(msg echo-3 'a streamed answer in pieces' ',"stream":true')")
l=$(logline "$rid")
is "stream: the deltas joined" "$(jq -r .response <<<"$l")" "a streamed answer in pieces"

# --- truncation at max_bytes (200), on a UTF-8 boundary
long=$(printf 'é%.0s' $(seq 150))   # 300 bytes
rid=$(call /capture/v1/chat/completions "$(msg echo-4 "$long")")
l=$(logline "$rid")
is "the cut log line is valid JSON" "$(jq -e . <<<"$l" >/dev/null && echo valid)" valid
plen=$(jq -r .prompt <<<"$l" | head -c -1 | wc -c)
check "prompt cut to at most 200 bytes ($plen)" test "$plen" -le 200 -a "$plen" -ge 190
is "prompt_truncated flag" "$(jq -r .prompt_truncated <<<"$l")" true
is "response_truncated flag" "$(jq -r .response_truncated <<<"$l")" true
like "the cut ends on a whole character" "$(jq -r .prompt <<<"$l")" 'é$'
done_testing
