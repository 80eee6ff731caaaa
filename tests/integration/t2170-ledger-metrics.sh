#!/usr/bin/env bash
# The ledger's gauges through an outage: with PostgreSQL stopped, usage
# goes to the spool and /metrics says so (aigw_ledger_spooling 1, the
# spooled-events counter and spool bytes grow); once it is back and the
# spool replayed, spooling returns to 0 and the spool is empty.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key "u-t2170-$$" ops ledger-metrics)
for i in 1 2 3 4 5 6; do post /v1/chat/completions "$KEY" "$(chat mock-gpt warm)" >/dev/null; done
g() { curl -s "$GW/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
is "healthy: not spooling" "$(g aigw_ledger_spooling)" 0
is "healthy: not failing" "$(g aigw_ledger_failing)" 0
base=$(g aigw_ledger_spooled_events_total)

bash "$ROOT/tests/stack.sh" pg-stop fast
ok=0
for i in $(seq 10); do
    [ "$(post /v1/chat/completions "$KEY" "$(chat mock-gpt "down $i")" | status_of)" = 200 ] && ok=$((ok + 1))
done
is "served during the outage" "$ok" 10
for i in $(seq 30); do [ "$(g aigw_ledger_spooling)" = 1 ] && break; sleep 0.1; done
is "outage: aigw_ledger_spooling 1" "$(g aigw_ledger_spooling)" 1
sp=$(g aigw_ledger_spooled_events_total)
check "outage: spooled events counted ($base -> $sp)" test "$sp" -ge $((base + 10))
check "outage: spool bytes on disk ($(g aigw_ledger_spool_bytes))" test "$(g aigw_ledger_spool_bytes)" -gt 0
is "outage: still not failing (the spool takes usage)" "$(g aigw_ledger_failing)" 0

bash "$ROOT/tests/stack.sh" pg-start
for i in $(seq 100); do
    [ "$(g aigw_ledger_spooling)" = 0 ] && [ "$(g aigw_ledger_spool_bytes)" = 0 ] && break
    sleep 0.2
done
is "recovered: spooling back to 0" "$(g aigw_ledger_spooling)" 0
is "recovered: the spool replayed (0 bytes)" "$(g aigw_ledger_spool_bytes)" 0
done_testing
