#!/usr/bin/env bash
# After the whole suite: no secret it used appears in the gateway's logs,
# its spool, the database or /metrics — provider keys (every CANARY in the
# test config), full client keys, JWTs, private keys.
. "$(dirname "$0")/lib.sh"

curl -s "$GW/metrics" >"$TMP/metrics"
pg_dump --data-only -d aigw >"$TMP/db.sql" 2>/dev/null
places=("$VAR"/log/*.log "$VAR"/spool/*.jsonl "$TMP/metrics" "$TMP/db.sql")
scan() {   # scan NAME REGEX
    local hits
    hits=$(cat "${places[@]}" 2>/dev/null | grep -cE -- "$2")
    is "$1: not in logs, spool, database or metrics" "$hits" 0
}
check "there is something to scan" test "$(cat "${places[@]}" 2>/dev/null | wc -l)" -gt 1000
# every provider credential of the test config, and the upstream canary
grep -oE '"[^"]*CANARY[^"]*"' "$ROOT/tests/integration/aigw-test.json" | tr -d '"' | sort -u >"$TMP/canaries"
echo "$AIGW_TEST_PROVIDER_KEY" >>"$TMP/canaries"
check "canaries collected ($(wc -l <"$TMP/canaries"))" test "$(wc -l <"$TMP/canaries")" -ge 6
while read -r c; do
    [ -n "$c" ] && scan "provider secret ${c:0:10}..." "$(printf '%s' "$c" | sed 's/[.[\*^$()+?{|]/\\&/g')"
done <"$TMP/canaries"
scan "full client API keys" 'sk-aigw-[A-Za-z0-9_-]{43}'
scan "JWTs" 'eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.'
scan "private keys" 'BEGIN (RSA |EC )?PRIVATE KEY'
scan "bearer access tokens" 'ya29\.[A-Za-z0-9_-]+'
done_testing
