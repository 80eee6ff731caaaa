#!/usr/bin/env bash
# The worker under valgrind memcheck through a mix of requests (success,
# stream, truncated stream, upstream error, bad input, embeddings, models,
# bad key) and a SIGTERM: no memory errors, no definite leaks.
. "$(dirname "$0")/lib.sh"

if [ -n "${AIGW_SANITIZED:-}" ]; then
    # valgrind cannot run AddressSanitizer builds (make asan)
    echo "ok 1 # SKIP valgrind under a sanitizer build"
    exit 0
fi
KEY=$(new_key vg ops valgrind)
sed 's/"threads": 8/"threads": 2/' "$ROOT/tests/integration/aigw-test.json" >"$TMP/vg.json"
WRAP="$(command -v valgrind) --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --log-file=$TMP/vg.out" \
    spawn_worker "$TMP/vg.json"
is "worker started under valgrind" "$?" 0
for b in "$(chat mock-gpt x)" "$(chat mock-gpt x ',"stream":true')" \
         "$(chat mock-truncate x ',"stream":true')" "$(chat mock-error-429 x)" \
         '{"model":' "$(chat mock-crlf x ',"stream":true,"stream_options":{"include_usage":true}')" \
         "$(chat mock-hang x)"; do
    fcgi_call "$KEY" "$b" "$([ "$b" = "$(chat mock-hang x)" ] && echo /short/v1/chat/completions)" |
        head -n1 >>"$TMP/st"
done
fcgi_call "$KEY" '{"model":"mock-gpt","input":"x"}' /v1/embeddings | head -n1 >>"$TMP/st"
METHOD=GET fcgi_call "$KEY" "" /v1/models | head -n1 >>"$TMP/st"
fcgi_call "sk-aigw-bad" "$(chat mock-gpt x)" | head -n1 >>"$TMP/st"
is "statuses as expected" "$(tr -d '\r' <"$TMP/st" | awk '{print $2}' | paste -sd' ')" \
    "200 200 200 429 400 200 504 200 200 401"
check "worker stops on SIGTERM" stop_worker
like "valgrind: no errors" "$(grep 'ERROR SUMMARY' "$TMP/vg.out")" 'ERROR SUMMARY: 0 errors'
like "valgrind: no definite leaks" "$(grep -E 'definitely lost|no leaks are possible' "$TMP/vg.out" | head -n1)" \
    '(definitely lost: 0 bytes|no leaks are possible)'
done_testing
