#!/usr/bin/env bash
# Webhook guards (agentgateway's contract, served by the example webhook in
# tests/mock/providers/guard.mjs) and OpenAI moderation: pass, mask,
# reject, timeouts and outages under fail-open and fail-closed.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key hook-u hook-g hook)
G=$PMOCK/guard
c() { post "$1/chat/completions" "$KEY" "$(chat echo-4 "$2")"; }
content() { body_of | jq -r '.choices[0].message.content'; }

# --- webhook --------------------------------------------------------------
r=$(c /guard-hook/v1 'all fine')
is "webhook pass: 200" "$(echo "$r" | status_of)" 200
is "webhook pass: content" "$(echo "$r" | content)" 'all fine'
r=$(c /guard-hook/v1 'about project-x today')
is "webhook mask: 200" "$(echo "$r" | status_of)" 200
is "webhook mask: the provider got the masked prompt" \
    "$(curl -s "$G/__last" | jq -r .path),$(echo "$r" | content)" \
    "/guard/hook/response,about [REDACTED] today"
r=$(c /guard-hook/v1 'please BLOCKME now')
is "webhook reject: its status" "$(echo "$r" | status_of)" 422
is "webhook reject: its body as the message" "$(echo "$r" | body_of | jq -r .error.message)" \
    'blocked by policy (request)'
last=$(curl -s "$G/__last")
is "webhook: called at {base}/request" "$(echo "$last" | jq -r .path)" /guard/hook/request
is "webhook: contract body" "$(echo "$last" | jq -c '.body|fromjson|.body.messages')" \
    '[{"role":"user","content":"please BLOCKME now"}]'
is "webhook: identity and configured headers" \
    "$(echo "$last" | jq -r '[.headers["x-aigw-user-id"],.headers["x-aigw-group-id"],.headers["x-hook-token"]]|join(",")')" \
    'hook-u,hook-g,hook-token-1'
check "webhook: no credentials forwarded" \
    bash -c "! grep -qiE 'authorization|sk-aigw|CANARY' <<<'$(echo "$last" | jq -c .headers)'"
r=$(c /guard-hookresp/v1 'say BLOCKME')
is "webhook response phase: reject" "$(echo "$r" | status_of)" 422
is "webhook response phase: contract" "$(curl -s "$G/__last" | jq -c '.body|fromjson|.body.choices[0].message')" \
    '{"role":"assistant","content":"say BLOCKME"}'
r=$(c /guard-hookresp/v1 'say project-x')
is "webhook response phase: mask" "$(echo "$r" | content)" 'say [REDACTED]'
t0=$(date +%s%N)
r=$(c /guard-hook/v1 'SLOWHOOK here')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "webhook timeout, fail-closed: 503" "$(echo "$r" | status_of)" 503
is "webhook timeout: code" "$(echo "$r" | body_of | jq -r .error.code)" guardrail_unavailable
check "webhook timeout: bounded (${ms} ms)" test "$ms" -lt 2500
r=$(c /guard-hook/v1 'HOOK500 here')
is "webhook error, fail-closed: 503" "$(echo "$r" | status_of)" 503
r=$(c /guard-hookopen/v1 'SLOWHOOK here')
is "webhook timeout, fail-open: passes" "$(echo "$r" | status_of)" 200

# --- moderation -----------------------------------------------------------
r=$(c /guard-mod/v1 'a friendly note')
is "moderation: not flagged passes" "$(echo "$r" | status_of)" 200
before=$(curl -s "$G/__stats" | jq .requests)
r=$(c /guard-mod/v1 'I will kill the process')
is "moderation: flagged rejects" "$(echo "$r" | status_of)" 400
like "moderation: names the categories" "$(echo "$r" | body_of | jq -r .error.message)" '\(violence\)'
is "moderation: flagged code" "$(echo "$r" | body_of | jq -r .error.code)" content_flagged
is "moderation: no provider call" "$(curl -s "$G/__stats" | jq .requests)" $((before + 1))
last=$(curl -s "$G/__last")
is "moderation: model and input sent" "$(echo "$last" | jq -c '.body|fromjson|[.model,.input]')" \
    '["omni-moderation-latest","I will kill the process"]'
is "moderation: its own key" "$(echo "$last" | jq -r .headers.authorization)" 'Bearer sk-mod-CANARY-0001'
r=$(c /guard-moddown/v1 'hello')
is "moderation down, fail-closed: 503" "$(echo "$r" | status_of)" 503
t0=$(date +%s%N)
r=$(c /guard-mod/v1 'MODSLOW')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "moderation timeout: 503" "$(echo "$r" | status_of)" 503
check "moderation timeout: bounded (${ms} ms)" test "$ms" -lt 2500
is "ledger: moderation block recorded" \
    "$(wait_sql "SELECT guardrail||' '||prompt_tokens FROM usage_events WHERE user_id='hook-u' AND http_status=400 LIMIT 1" 'mod:request:moderation 0')" \
    'mod:request:moderation 0'
check "log: no prompt text logged" \
    bash -c "! grep -rqE 'project-x|kill the process' '$VAR/log'"
done_testing
