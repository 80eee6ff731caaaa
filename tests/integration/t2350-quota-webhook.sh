#!/usr/bin/env bash
# Threshold webhook: when a quota's usage crosses its threshold share (80%
# by default), the "quota_threshold" event is also POSTed as JSON to
# quotas.threshold_webhook (the mock receiver), once per crossing, off the
# request path: a receiver that hangs neither delays nor fails requests.
. "$(dirname "$0")/lib.sh"

G="g-t2350-$$"
KEY=$(new_key "u-t2350-$$" "$G")
H=$PMOCK/quotahook
curl -s -X POST "$H/__reset" >/dev/null
"$ADMIN" quota set --group "$G" --unit requests --period day --limit 5 >/dev/null
codes=""
for i in 1 2 3 4 5; do
    codes="$codes$(post /v1/chat/completions "$KEY" "$(chat mock-gpt "w$i")" | status_of) "
done
is "requests served up to the limit" "$codes" "200 200 200 200 200 "
for i in $(seq 50); do
    [ "$(curl -s "$H/__stats" | jq .requests)" -ge 1 ] 2>/dev/null && break
    sleep 0.1
done
last=$(curl -s "$H/__last")
is "webhook: POSTed as JSON" \
    "$(echo "$last" | jq -r '.method + " " + .headers["content-type"]')" "POST application/json"
is "webhook: the quota_threshold event" \
    "$(echo "$last" | jq -r '.body | fromjson | "\(.event) \(.subject_kind) \(.subject) \(.unit) \(.period) \(.threshold_pct) \(.limit)"')" \
    "quota_threshold group $G requests day 80 5"
# usage is pushed in batches by the lease sync: the crossing is seen at 4
# (the 4th request alone) or 5 (the 4th and 5th in one push)
used=$(echo "$last" | jq -r '.body | fromjson | .used')
check "webhook: used at the crossing is 4 or 5 ($used)" test "$used" -ge 4 -a "$used" -le 5
is "webhook: the same event as the log line" \
    "$(grep -F "\"subject\":\"$G\"" "$GWLOG" | grep -c '"event":"quota_threshold"')" 1
sleep 0.3
is "webhook: once per crossing" "$(curl -s "$H/__stats" | jq .requests)" 1
"$ADMIN" quota delete --group "$G" --unit requests --period day >/dev/null

# a receiver that hangs (5 s) with a 1 s bound: requests stay fast
G2="g-t2350b-$$"
KEY2=$(new_key "u2-t2350-$$" "$G2")
"$ADMIN" quota set --group "$G2" --unit requests --period day --limit 1 >/dev/null
sed 's#"threshold_webhook": "${AIGW_PMOCK_URL}/quotahook/events"#"threshold_webhook": "${AIGW_PMOCK_URL}/quotahook/slow"#' \
    "$ROOT/tests/integration/aigw-test.json" >"$TMP/slow.json"
check "spawn-fcgi started the worker" spawn_worker "$TMP/slow.json"
t0=$(date +%s%N)
r=$(fcgi_call "$KEY2" "$(chat mock-gpt slow)")
r2=$(fcgi_call "$KEY2" "$(chat mock-gpt slow2)")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "slow receiver: the crossing request served" "$r" '^Status: 200'
like "slow receiver: the next one refused by the quota, not the hook" "$r2" '^Status: 429'
check "slow receiver: both answered in under 1 s ($ms ms)" test "$ms" -lt 1000
for i in $(seq 30); do grep -q 'threshold webhook failed' "$TMP/worker.log" && break; sleep 0.1; done
like "slow receiver: the call gave up after its bound (logged)" \
    "$(grep -o 'threshold webhook failed: [^"]*' "$TMP/worker.log" | head -1)" 'Timeout'
check "the worker stops on SIGTERM" stop_worker
"$ADMIN" quota delete --group "$G2" --unit requests --period day >/dev/null
done_testing
