#!/usr/bin/env bash
# A host-local rate limit (quotas.limits in the config: 10 requests a
# minute per key on the "rl" route) holds host-wide across the worker
# processes, which share it through a memory-mapped file.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key "u-t2320-$$" "g-t2320-$$")
# stay clear of a minute boundary: the 30 requests must share one window
s=$(date +%S); [ "${s#0}" -lt 55 ] || sleep $((61 - ${s#0}))
for i in $(seq 1 30); do
    curl -s -o /dev/null -w '%{http_code}\n' "$GW/rl/v1/chat/completions" \
        -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        --data-binary "$(chat mock-gpt "n$i")" &
done >"$TMP/codes"
wait
is "exactly 10 admitted host-wide" "$(grep -c '^200$' "$TMP/codes")" 10
is "the rest refused with 429" "$(grep -c '^429$' "$TMP/codes")" 20
nproc=$(pgrep -fc "$ROOT/fcgi/aigw-fcgi" || true)
check "more than one worker process serves the gateway" test "$nproc" -ge 2
r=$(post /rl/v1/chat/completions "$KEY" "$(chat mock-gpt again)" -D "$TMP/h")
is "over the limit: 429" "$(echo "$r" | status_of)" 429
b=$(echo "$r" | body_of)
is "rate limit code (not a quota)" "$(echo "$b" | jq -r '.error.code + " " + .error.type')" \
    "rate_limit_exceeded requests"
is "names the limit and window" "$(echo "$b" | jq -r '.error.limit | "\(.subject) \(.window) \(.limit)"')" \
    "rl-per-key minute 10"
is "x-ratelimit-remaining-requests 0" \
    "$(grep -i '^x-ratelimit-remaining-requests:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2)" 0
like "Retry-After within the minute" "$(grep -i '^Retry-After:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2)" \
    '^([1-9]|[1-5][0-9]|60)$'
# another key has its own counter; the default route is not limited
KEY2=$(new_key "u2-t2320-$$" "g-t2320-$$")
is "another key: own counter" "$(post /rl/v1/chat/completions "$KEY2" "$(chat mock-gpt x)" | status_of)" 200
is "other routes: not limited" "$(post /v1/chat/completions "$KEY" "$(chat mock-gpt x)" | status_of)" 200
check "the shared counters file exists" test -s "$VAR/spool/ratelimit.shm"
done_testing
