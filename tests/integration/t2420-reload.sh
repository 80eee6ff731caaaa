#!/usr/bin/env bash
# Hot reload (issue 7): SIGHUP, or the file changing (reload.watch_ms),
# swaps in the edited configuration for new requests while in-flight ones
# finish on the old one (no failed request under load, either way); an
# invalid file keeps the running configuration; settings only a restart
# applies are named in a warning; max_body_bytes follows a reload.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key rolf reload-g reload)
CONF=$TMP/reload.json
# SIGHUP only at first (reload.watch_ms 0); a 64 KiB body limit
sed -e 's/^    "threads": 8,/    "threads": 8, "reload": { "watch_ms": 0 },/' \
    -e 's/^    "max_body_bytes": 1048576,/    "max_body_bytes": 65536,/' \
    "$ROOT/tests/integration/aigw-test.json" >"$CONF"
if ! spawn_worker "$CONF"; then
    not_ok "worker started" "$(cat "$TMP/worker.log" 2>/dev/null | tail -n 3)"
    done_testing; exit
fi
ok "worker started"
PID=$(cat "$TMP/worker.pid")
status() { METHOD=GET fcgi_call "$KEY" "" /lab/status | tail -n 1; }
is "before: the direct route's first body" "$(status)" '{"status":"up"}'

# set_status V [SED-EXPR...]: the direct route's body becomes
# {"status":"V"} (and other edits), written beside and renamed over CONF
set_status() {
    local v=$1; shift
    sed -e "s/{\\\\\"status\\\\\":\\\\\"[a-z0-9]*\\\\\"}/{\\\\\"status\\\\\":\\\\\"$v\\\\\"}/" "$@" "$CONF" >"$CONF.new" &&
        mv "$CONF.new" "$CONF"
}

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
    set_status "v$v"
    kill -HUP "$PID"
done
wait
is "under load: all 90 requests answered" "$(cat "$TMP"/load.* | wc -l)" 90
is "under load: none failed across 5 reloads" "$(grep -c '^Status: 200' "$TMP"/load.* | awk -F: '{s+=$2} END {print s}')" 90
is "5 reloads logged" "$(grep -c 'configuration reloaded' "$TMP/worker.log")" 5
is "after: the new body is served" "$(status)" '{"status":"v6"}'

# a broken file: the running configuration stays
cp "$CONF" "$TMP/good.json"
printf '{ "routes": [ ' >"$CONF"
kill -HUP "$PID"
for i in $(seq 50); do grep -q 'not reloaded' "$TMP/worker.log" && break; sleep 0.1; done
like "invalid config: the error is logged with its place" "$(grep 'not reloaded' "$TMP/worker.log")" 'reload.json:1'
is "invalid config: still serving the last good one" "$(status)" '{"status":"v6"}'
like "chat still works" "$(fcgi_call "$KEY" "$(chat mock-gpt hi)" | head -n 1)" '^Status: 200'

# --- reload on file change: turn the watch on (with a SIGHUP), then edit
cp "$TMP/good.json" "$CONF"
set_status v7 -e 's/"reload": { "watch_ms": 0 }/"reload": { "watch_ms": 200 }/'
kill -HUP "$PID"
for i in $(seq 50); do [ "$(status)" = '{"status":"v7"}' ] && break; sleep 0.1; done
is "watch on: v7 via SIGHUP" "$(status)" '{"status":"v7"}'
set_status v8                                     # no signal
for i in $(seq 30); do [ "$(status)" = '{"status":"v8"}' ] && break; sleep 0.1; done
is "file changed: reloaded without a signal" "$(status)" '{"status":"v8"}'
like "file change reload logged" "$(grep 'config file changed: configuration reloaded' "$TMP/worker.log")" 'reloaded from'
cp "$CONF" "$TMP/good.json"
printf '{ "backends": [ }' >"$CONF"
for i in $(seq 30); do grep -q 'config file changed: configuration not reloaded' "$TMP/worker.log" && break; sleep 0.1; done
like "invalid file on change: logged" "$(grep 'config file changed: configuration not reloaded' "$TMP/worker.log")" 'reload.json:1'
is "invalid file on change: the last good one serves" "$(status)" '{"status":"v8"}'
cp "$TMP/good.json" "$CONF"
set_status v9

# a reload during a load run, by file change: zero failed requests
for c in 1 2 3 4 5 6; do load "$c" & done
for v in 10 11 12 13 14; do sleep 0.3; set_status "v$v"; done
wait
is "file-change reloads under load: all 90 answered" "$(cat "$TMP"/load.* | wc -l)" 90
is "file-change reloads under load: none failed" "$(grep -c '^Status: 200' "$TMP"/load.* | awk -F: '{s+=$2} END {print s}')" 90
for i in $(seq 30); do [ "$(status)" = '{"status":"v14"}' ] && break; sleep 0.1; done
is "after the load: the last edit serves" "$(status)" '{"status":"v14"}'

# settings a reload cannot apply are named; max_body_bytes is applied
big=$(chat mock-gpt "$(head -c 100000 /dev/zero | tr '\0' x)")
like "64 KiB limit: a 100 KB body gets 413" "$(fcgi_call "$KEY" "$big" | head -n 1)" '^Status: 413'
set_status v15 -e 's/"threads": 8,/"threads": 4,/' \
    -e 's/"statement_timeout_ms": 3000/"statement_timeout_ms": 2500/' \
    -e 's/"max_body_bytes": 65536,/"max_body_bytes": 262144,/'
for i in $(seq 30); do [ "$(status)" = '{"status":"v15"}' ] && break; sleep 0.1; done
like "restart-only settings named in a warning" "$(grep 'need a restart' "$TMP/worker.log" | tail -n 1)" ': threads, database"'
like "max_body_bytes raised by the reload: the 100 KB body passes" "$(fcgi_call "$KEY" "$big" | head -n 1)" '^Status: 200'

# per-backend concurrency cap (per process: this one worker): 1 on cap-1
(fcgi_call "$KEY" "$(chat mock-slow-600 first)" /cap-only/v1/chat/completions | head -n 1 >"$TMP/cap1") &
sleep 0.2
like "cap reached, no other candidate: 503" "$(fcgi_call "$KEY" "$(chat mock-gpt second)" /cap-only/v1/chat/completions | head -n 1)" '^Status: 503'
like "cap reached: spills over to the next candidate" "$(fcgi_call "$KEY" "$(chat mock-gpt third)" /cap/v1/chat/completions | head -n 1)" '^Status: 200'
wait
like "the first request was not disturbed" "$(cat "$TMP/cap1")" '^Status: 200'
like "the cap is released after the call" "$(fcgi_call "$KEY" "$(chat mock-gpt fourth)" /cap-only/v1/chat/completions | head -n 1)" '^Status: 200'
check "it stops on SIGTERM" stop_worker
printf '{ "routes": [ ' >"$CONF"
like "--check-config explains a broken file" "$("$ROOT/fcgi/aigw-fcgi" --check-config "$CONF" 2>&1)" 'reload.json:1'
done_testing
