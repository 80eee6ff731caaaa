#!/usr/bin/env bash
# The web server stops while requests are in flight: the workers get
# SIGTERM, drain, and flush usage: N requests in flight, N ledger rows.
# Runs last: it restarts the gateway.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key heidi ops shutdown)
KID=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
post /v1/chat/completions "$KEY" "$(chat mock-gpt warm)" >/dev/null
wait_sql "SELECT count(*) FROM usage_events WHERE api_key_id = '$KID'" 1 >/dev/null
N=6
for i in $(seq 1 $N); do
    curl -s -o /dev/null -X POST "$GW/v1/chat/completions" \
        -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d "$(chat mock-slow-1500 "inflight $i")" &
done
sleep 0.5
pids=$(pgrep -P "$(cat "$VAR/lighttpd.pid")" | paste -sd' ')
check "worker processes found ($pids)" test -n "$pids"
kill -TERM "$(cat "$VAR/lighttpd.pid")"
wait
got=$(wait_sql "SELECT count(*) FROM usage_events WHERE api_key_id = '$KID'" $((N + 1)) 100)
is "all $N in-flight requests recorded after SIGTERM" "$got" $((N + 1))
check "in-flight requests recorded with the provider's tokens" \
    test "$(sql "SELECT count(*) FROM usage_events WHERE api_key_id = '$KID' AND requested_model = 'mock-slow-1500' AND prompt_tokens > 0")" = $N
for i in $(seq 1 50); do
    alive=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
done
is "workers exited after draining" "$alive" 0
grep -q 'stopped' "$GWLOG"
is "workers logged their stop" "$?" 0
bash "$ROOT/tests/stack.sh" gw-start >/dev/null 2>&1
is "gateway restarts" "$(curl -s "$GW/healthz" | jq -r .status)" ok
done_testing
