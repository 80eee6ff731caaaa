#!/usr/bin/env bash
# Failover (issue 7): the seed demo (gpt-5 rate-limited on the primary,
# answered by the fallback), 500 / dead backend / truncated reply, no
# retry once a stream reached the client, Retry-After, one ledger row per
# client request with its attempts, weighted spread, and the host-wide
# circuit breaker opening, half-opening and closing across processes.
. "$(dirname "$0")/lib.sh"

U=fiona-$$-$RANDOM
KEY=$(new_key "$U" failover-g fo)
rpost() {
    local path=$1 body=$2; shift 2
    curl -sS -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' -X POST "$GW$path" \
        -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        --data-binary "$body" "$@"
    printf ' %s\n' "$(grep -i '^x-request-id:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2)"
}
row() { wait_sql "SELECT count(*) FROM usage_events WHERE request_id='$1'" 1 >/dev/null; sql "SELECT backend||'|'||requested_model||'|'||coalesce(served_model,'')||'|'||attempts||'|'||http_status FROM usage_events WHERE request_id='$1'"; }
FO=/failover/v1/chat/completions

# --- the seed demo: 429 on the primary, gpt-4o answers on the fallback
sleep 1.1                                   # any earlier Retry-After is over
read -r st rid < <(rpost $FO "$(chat gpt-5 Hello)")
cp "$TMP/b" "$TMP/b1"
# at once, within the primary's Retry-After (1 s), however slow the checks
read -r st2 rid2 < <(rpost $FO "$(chat gpt-5 Hello)")
is "demo: the first call already succeeds" "$st" 200
like "demo: answered by gpt-4o, not gpt-5" "$(cat "$TMP/b1")" '"model":"gpt-4o"'
is "demo: one ledger row, 2 attempts, served by the fallback" "$(row "$rid" 'p-fallback|gpt-5|gpt-4o|2|200')" 'p-fallback|gpt-5|gpt-4o|2|200'
is "demo: exactly one row for the request" "$(sql "SELECT count(*) FROM usage_events WHERE request_id='$rid'")" 1
like "demo: the failover is logged" "$(grep "$rid" "$GWLOG" | grep -c 'failover: backend p-429')" '^[1-9]'
like "demo: the access log line has attempts" "$(grep "\"request_id\":\"$rid\"" "$GWLOG" | grep '"msg":"request"')" '"attempts":2'
like "demo: the failover is counted in metrics" \
    "$(curl -s "$GW/metrics" | grep '^aigw_failovers_total{' | grep 'backend="p-fallback"')" ' [1-9][0-9]*$'
is "Retry-After honoured: the primary is skipped (1 attempt)" "$(row "$rid2" 'p-fallback|gpt-5|gpt-4o|1|200')" 'p-fallback|gpt-5|gpt-4o|1|200'
sleep 1.2
read -r st rid < <(rpost $FO "$(chat gpt-5 Hello)")
is "after Retry-After the primary is tried again" "$(row "$rid" 'p-fallback|gpt-5|gpt-4o|2|200')" 'p-fallback|gpt-5|gpt-4o|2|200'

# --- each fault kind
read -r st rid < <(rpost $FO "$(chat prio-500 hi)")
is "500 on priority 0: fallback answers" "$(row "$rid" 'p-fallback|prio-500|mock-gpt|2|200')" 'p-fallback|prio-500|mock-gpt|2|200'
read -r st rid < <(rpost $FO "$(chat prio-dead hi)")
is "dead backend (connect refused): fallback answers" "$(row "$rid" 'p-fallback|prio-dead|mock-gpt|2|200')" 'p-fallback|prio-dead|mock-gpt|2|200'
read -r st rid < <(rpost $FO "$(chat prio-trunc hi)")
is "truncated reply (not streamed): fallback answers" "$(row "$rid" 'p-fallback|prio-trunc|mock-gpt|2|200')" 'p-fallback|prio-trunc|mock-gpt|2|200'
read -r st rid < <(rpost $FO "$(chat prio-hang hi)")
is "hanging backend (idle timeout): fallback answers" "$(row "$rid" x)" 'p-fallback|prio-hang|mock-gpt|2|200'
read -r st rid < <(rpost $FO "$(chat prio-reset hi)")
is "connection reset before the reply: fallback answers" "$(row "$rid" x)" 'p-fallback|prio-reset|mock-gpt|2|200'
read -r st rid < <(rpost $FO "$(chat prio-429date hi)")
read -r st rid2 < <(rpost $FO "$(chat prio-429date hi)")    # at once
is "429 with Retry-After as an HTTP-date: fallback answers" "$(row "$rid" x)" 'p-fallback|prio-429date|mock-gpt|2|200'
is "HTTP-date Retry-After honoured: the primary is skipped" "$(row "$rid2" x)" 'p-fallback|prio-429date|mock-gpt|1|200'
sleep 2.1
read -r st rid < <(rpost $FO "$(chat prio-429date hi)")
is "after the date the primary is tried again" "$(row "$rid" x)" 'p-fallback|prio-429date|mock-gpt|2|200'
read -r st rid < <(rpost $FO "$(chat all-bad hi)")
is "every candidate fails: the last error reaches the client" "$st" 502
is "every candidate fails: one row, 2 attempts" "$(row "$rid" 'p-500|all-bad||2|502' | cut -d'|' -f1,2,4,5)" 'p-500|all-bad|2|502'

# --- a stream never fails over once its first byte reached the client
curl -sN -D "$TMP/sh" -o "$TMP/sse" "$GW$FO" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$(chat prio-trunc hi ',"stream":true')"
rid=$(grep -i '^x-request-id:' "$TMP/sh" | tr -d '\r' | cut -d' ' -f2)
like "stream: 200 and the truncation event" "$(cat "$TMP/sse")" '"code":"upstream_truncated"'
check "stream: nothing from the fallback" bash -c "! grep -q 'mock0 mock1 mock2 mock3 mock4' '$TMP/sse'"
is "stream: one attempt, on the primary, partial" "$(wait_sql "SELECT backend||'|'||attempts||'|'||partial FROM usage_events WHERE request_id='$rid'" 'p-trunc|1|true')" 'p-trunc|1|true'

# --- a stream fails over while nothing reached the client yet
for fault in prio-500 prio-reset; do
    curl -sN -D "$TMP/sh" -o "$TMP/sse" "$GW$FO" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -d "$(chat $fault hi ',"stream":true')"
    rid=$(grep -i '^x-request-id:' "$TMP/sh" | tr -d '\r' | cut -d' ' -f2)
    like "stream, $fault before the first byte: the fallback streams" "$(cat "$TMP/sse")" 'data: \[DONE\]'
    is "stream, $fault: 2 attempts, served by the fallback" "$(wait_sql "SELECT backend||'|'||attempts||'|'||http_status FROM usage_events WHERE request_id='$rid'" 'p-fallback|2|200')" 'p-fallback|2|200'
done

# --- weighted spread within one priority (w-a weight 3, w-b weight 1)
for i in $(seq 40); do
    curl -s -o /dev/null -X POST "$GW/weighted/v1/chat/completions" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -d "$(chat mock-gpt "w$i")" &
    [ $((i % 8)) -eq 0 ] && wait
done
wait
wait_sql "SELECT count(*) FROM usage_events WHERE route='weighted' AND user_id='$U'" 40 >/dev/null
a=$(sql "SELECT count(*) FROM usage_events WHERE route='weighted' AND user_id='$U' AND backend='w-a'")
b=$(sql "SELECT count(*) FROM usage_events WHERE route='weighted' AND user_id='$U' AND backend='w-b'")
is "weighted: all 40 served" "$((a + b))" 40
check "weighted: w-a (3/4) got $a of 40, within 22..38" test "$a" -ge 22 -a "$a" -le 38
check "weighted: w-b (1/4) got $b, at least 2" test "$b" -ge 2

# --- circuit breaker: 2 consecutive failures open it for 1.5 s, host-wide
CB=/cb/v1/chat/completions
sleep 1.6                                   # closed from any earlier run
rpost $CB "$(chat mock-gpt ok)" >/dev/null
read -r st _ < <(rpost $CB "$(chat mock-error-500 f1)"); is "cb: failure 1 passes through" "$st" 500
read -r st _ < <(rpost $CB "$(chat mock-error-500 f2)"); is "cb: failure 2 passes through" "$st" 500
codes=""
for i in 1 2 3 4 5 6; do read -r st _ < <(rpost $CB "$(chat mock-gpt "o$i")"); codes="$codes$st "; done
is "cb: open, every process answers 503 at once" "$codes" "503 503 503 503 503 503 "
like "cb: the reason" "$(cat "$TMP/b")" '"code":"no_healthy_backend"'
sleep 1.6
read -r st _ < <(rpost $CB "$(chat mock-gpt probe)"); is "cb: half-open probe succeeds" "$st" 200
read -r st _ < <(rpost $CB "$(chat mock-gpt after)"); is "cb: closed again" "$st" 200
rpost $CB "$(chat mock-error-500 f3)" >/dev/null; rpost $CB "$(chat mock-error-500 f4)" >/dev/null
sleep 1.6
read -r st _ < <(rpost $CB "$(chat mock-error-500 probe)"); is "cb: a failing probe" "$st" 500
read -r st _ < <(rpost $CB "$(chat mock-gpt after)"); is "cb: reopened by the failed probe" "$st" 503
sleep 1.6
read -r st _ < <(rpost $CB "$(chat mock-gpt heal)"); is "cb: healed" "$st" 200

# --- outlier ejection by error rate (er-flaky: >= 50% of >= 6 calls in
# 10 s; never two failures in a row), host-wide, growing ejection time
ER=/er/v1/chat/completions
sleep 1.6
codes=""
for m in mock-gpt mock-error-500 mock-gpt mock-error-502 mock-gpt mock-error-500; do
    read -r st _ < <(rpost $ER "$(chat $m x)"); codes="$codes$st "
done
is "er: 3 failures of 6, none consecutive, pass through" "$codes" "200 500 200 502 200 500 "
codes=""
for i in 1 2 3 4 5 6; do read -r st _ < <(rpost $ER "$(chat mock-gpt "e$i")"); codes="$codes$st "; done
is "er: ejected, every process answers 503" "$codes" "503 503 503 503 503 503 "
like "er: the ejection is logged" "$(grep 'circuit: backend er-flaky ejected' "$GWLOG" | tail -n 1)" 'ejected for 1500 ms .*error rate: failed 3 of 6'
sleep 1.6
read -r st _ < <(rpost $ER "$(chat mock-error-500 probe)"); is "er: the half-open probe fails" "$st" 500
sleep 1.6
read -r st _ < <(rpost $ER "$(chat mock-gpt early)"); is "er: ejected again for twice as long (still out at 1.6 s)" "$st" 503
like "er: the second ejection is logged" "$(grep 'circuit: backend er-flaky ejected' "$GWLOG" | tail -n 1)" 'ejected for 3000 ms \(ejection 2 in a row'
sleep 1.5
read -r st _ < <(rpost $ER "$(chat mock-gpt probe2)"); is "er: probed back in" "$st" 200
read -r st _ < <(rpost $ER "$(chat mock-gpt after)"); is "er: closed again" "$st" 200
done_testing
