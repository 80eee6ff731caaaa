#!/usr/bin/env bash
# The same binary one request at a time (Apache mod_fcgid style): one
# thread, started by spawn-fcgi, driven over FastCGI by cgi-fcgi directly.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key ivan ops single)
sed 's/"threads": 8/"threads": 1/' "$ROOT/tests/integration/aigw-test.json" >"$TMP/one.json"
SOCK=$TMP/aigw.sock
AIGW_CONFIG=$TMP/one.json AIGW_SPOOL_DIR=$VAR/spool AIGW_LOG_FILE=$TMP/one.log \
AIGW_UPSTREAM_URL=$MOCK/v1 AIGW_PMOCK_URL=$PMOCK AIGW_TEST_CREDENTIALS=$VAR/credentials \
    spawn-fcgi -s "$SOCK" -P "$TMP/pid" -- "$ROOT/fcgi/aigw-fcgi" >/dev/null
sleep 0.3
check "spawn-fcgi started the worker" test -s "$TMP/pid"
call() {   # call BODY: one FastCGI request, prints the raw CGI response
    REQUEST_METHOD=POST REQUEST_URI=/v1/chat/completions \
    CONTENT_TYPE=application/json CONTENT_LENGTH=${#1} \
    HTTP_AUTHORIZATION="Bearer $KEY" SERVER_PROTOCOL=HTTP/1.1 \
        cgi-fcgi -bind -connect "$SOCK" <<<"$1"
}
r1=$(call "$(chat mock-gpt one)")
like "first request: 200" "$r1" '^Status: 200'
like "first request: completion relayed" "$r1" '"content":"mock0 mock1'
r2=$(call "$(chat mock-gpt two)")
like "second request on the same process: 200" "$r2" '^Status: 200'
r3=$(call '{"model":')
like "bad JSON: 400 in OpenAI shape" "$r3" '"code":"invalid_json"'
is "one process served them all" "$(grep -c '"msg":"request"' "$TMP/one.log")" 3
like "it ran with one thread" "$(grep -o 'serving with [0-9]* threads' "$TMP/one.log")" 'with 1 threads'
kill -TERM "$(cat "$TMP/pid")"
sleep 0.5
# gone, or a zombie waiting for its reaper (spawn-fcgi has exited)
is "it stops on SIGTERM" "$(ps -o stat= -p "$(cat "$TMP/pid")" | grep -cv Z)" 0
done_testing
