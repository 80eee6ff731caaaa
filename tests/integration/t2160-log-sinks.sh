#!/usr/bin/env bash
# The access log's file sink and rotation (conf/aigw-logrotate.example):
# one JSON line per request with an RFC 3339 UTC timestamp; after the file
# is moved away, SIGHUP makes the worker write to a new file at the path,
# losing no line. (The syslog sink needs a syslog daemon: not run here.)
. "$(dirname "$0")/lib.sh"

KEY=$(new_key "u-t2160-$$" "g-t2160-$$" sinks)
check "spawn-fcgi started the worker" spawn_worker "$ROOT/tests/integration/aigw-test.json"
pid=$(cat "$TMP/worker.pid")
rid_of() { sed -nE 's/^X-Request-Id: *([0-9a-f-]+).*/\1/ip' | tr -d '\r'; }
r1=$(fcgi_call "$KEY" "$(chat mock-gpt 'before rotation')" | rid_of)
check "request before rotation: logged" grep -q "\"request_id\":\"$r1\"" "$TMP/worker.log"
line=$(grep -h "\"request_id\":\"$r1\"" "$TMP/worker.log")
like "RFC 3339 UTC timestamp" "$(jq -r .ts <<<"$line")" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
is "one JSON object per line" "$(grep -c . "$TMP/worker.log")" "$(jq -c . "$TMP/worker.log" | wc -l)"

mv "$TMP/worker.log" "$TMP/worker.log.1"        # what logrotate does
kill -HUP "$pid"
for i in $(seq 50); do [ -s "$TMP/worker.log" ] && break; sleep 0.1; done
check "SIGHUP: a new file at the path" test -s "$TMP/worker.log"
r2=$(fcgi_call "$KEY" "$(chat mock-gpt 'after rotation')" | rid_of)
check "request after rotation: in the new file" grep -q "\"request_id\":\"$r2\"" "$TMP/worker.log"
is "request after rotation: not in the old file" "$(grep -c "\"request_id\":\"$r2\"" "$TMP/worker.log.1")" 0
is "the old file kept its line" "$(grep -c "\"request_id\":\"$r1\"" "$TMP/worker.log.1")" 1
check "it stops on SIGTERM" stop_worker
done_testing
