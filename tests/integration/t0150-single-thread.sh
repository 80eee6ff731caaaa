#!/usr/bin/env bash
# The same binary one request at a time (Apache mod_fcgid style): one
# thread, started by spawn-fcgi, driven over FastCGI by cgi-fcgi directly.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key ivan ops single)
sed 's/"threads": 8/"threads": 1/' "$ROOT/tests/integration/aigw-test.json" >"$TMP/one.json"
check "spawn-fcgi started the worker" spawn_worker "$TMP/one.json"
r1=$(fcgi_call "$KEY" "$(chat mock-gpt one)")
like "first request: 200" "$r1" '^Status: 200'
like "first request: completion relayed" "$r1" '"content":"mock0 mock1'
r2=$(fcgi_call "$KEY" "$(chat mock-gpt two)")
like "second request on the same process: 200" "$r2" '^Status: 200'
r3=$(fcgi_call "$KEY" '{"model":')
like "bad JSON: 400 in OpenAI shape" "$r3" '"code":"invalid_json"'
is "one process served them all" "$(grep -c '"msg":"request"' "$TMP/worker.log")" 3
like "it ran with one thread" "$(grep -o 'serving with [0-9]* threads' "$TMP/worker.log")" 'with 1 threads'
check "it stops on SIGTERM" stop_worker
done_testing
