#!/usr/bin/env bash
# Canary secrets (the client keys used by this suite and the provider key)
# must not appear in logs, the spool, the database or error bodies.
# Runs after the other tests so that their traffic is searched too.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key frank sec canary)
for m in mock-gpt mock-error-401 mock-error-500 gpt-9; do
    post /v1/chat/completions "$KEY" "$(chat "$m")" >>"$TMP/bodies"
done
post /v1/chat/completions "${KEY}x" "$(chat mock-gpt)" >>"$TMP/bodies"
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$(chat mock-truncate x ',"stream":true')" >>"$TMP/bodies"
sleep 0.3

hits() {   # hits SECRET: counts occurrences in every place we keep data
    local s=$1 n=0
    n=$((n + $(cat "$VAR"/log/*.log "$VAR"/spool/* 2>/dev/null | grep -cF -- "$s")))
    n=$((n + $(grep -cF -- "$s" "$TMP/bodies")))
    n=$((n + $(pg_dump --data-only -d aigw 2>/dev/null | grep -cF -- "$s")))
    echo "$n"
}
is "provider key: nowhere" "$(hits "$AIGW_TEST_PROVIDER_KEY")" 0
is "client key: nowhere" "$(hits "$KEY")" 0
is "client key body (without prefix): nowhere" "$(hits "${KEY:8}")" 0
check "the canary search does find what is there" test "$(hits frank)" -gt 0
done_testing
