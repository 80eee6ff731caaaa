#!/usr/bin/env bash
# Hot reload (issue 7): SIGHUP swaps in the edited configuration for new
# requests while in-flight ones finish on the old one (no failed request
# under load); an invalid file keeps the running configuration.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key rolf reload-g reload)
CONF=$TMP/reload.json
cp "$ROOT/tests/integration/aigw-test.json" "$CONF"
if ! spawn_worker "$CONF"; then
    not_ok "worker started" "$(cat "$TMP/worker.log" 2>/dev/null | tail -n 3)"
    done_testing; exit
fi
ok "worker started"
PID=$(cat "$TMP/worker.pid")
status() { METHOD=GET fcgi_call "$KEY" "" /lab/status | tail -n 1; }
is "before: the direct route's first body" "$(status)" '{"status":"up"}'

# load: 6 clients x 15 requests that take 100 ms each, HUPs meanwhile
load() {
    local i
    for i in $(seq 15); do
        fcgi_call "$KEY" "$(chat mock-slow-100 "c$1 r$i")" | head -n 1
    done >"$TMP/load.$1"
}
for c in 1 2 3 4 5 6; do load "$c" & done
for v in 2 3 4 5 6; do
    sleep 0.25
    sed "s/{\\\\\"status\\\\\":\\\\\"[a-z0-9]*\\\\\"}/{\\\\\"status\\\\\":\\\\\"v$v\\\\\"}/" "$CONF" >"$CONF.new" && mv "$CONF.new" "$CONF"
    kill -HUP "$PID"
done
wait
is "under load: all 90 requests answered" "$(cat "$TMP"/load.* | wc -l)" 90
is "under load: none failed across 5 reloads" "$(grep -c '^Status: 200' "$TMP"/load.* | awk -F: '{s+=$2} END {print s}')" 90
is "5 reloads logged" "$(grep -c 'configuration reloaded' "$TMP/worker.log")" 5
is "after: the new body is served" "$(status)" '{"status":"v6"}'

# a broken file: the running configuration stays
printf '{ "routes": [ ' >"$CONF"
kill -HUP "$PID"
for i in $(seq 50); do grep -q 'not reloaded' "$TMP/worker.log" && break; sleep 0.1; done
like "invalid config: the error is logged with its place" "$(grep 'not reloaded' "$TMP/worker.log")" 'reload.json:1'
is "invalid config: still serving the last good one" "$(status)" '{"status":"v6"}'
like "chat still works" "$(fcgi_call "$KEY" "$(chat mock-gpt hi)" | head -n 1)" '^Status: 200'

# per-backend concurrency cap (per process: this one worker): 1 on cap-1
(fcgi_call "$KEY" "$(chat mock-slow-600 first)" /cap-only/v1/chat/completions | head -n 1 >"$TMP/cap1") &
sleep 0.2
like "cap reached, no other candidate: 503" "$(fcgi_call "$KEY" "$(chat mock-gpt second)" /cap-only/v1/chat/completions | head -n 1)" '^Status: 503'
like "cap reached: spills over to the next candidate" "$(fcgi_call "$KEY" "$(chat mock-gpt third)" /cap/v1/chat/completions | head -n 1)" '^Status: 200'
wait
like "the first request was not disturbed" "$(cat "$TMP/cap1")" '^Status: 200'
like "the cap is released after the call" "$(fcgi_call "$KEY" "$(chat mock-gpt fourth)" /cap-only/v1/chat/completions | head -n 1)" '^Status: 200'
check "it stops on SIGTERM" stop_worker
like "--check-config explains a broken file" "$("$ROOT/fcgi/aigw-fcgi" --check-config "$CONF" 2>&1)" 'reload.json:1'
done_testing
