#!/usr/bin/env bash
# PostgreSQL stops in the middle of traffic and comes back: every request
# served gets exactly one ledger row (spooled, then replayed), and known
# keys keep working meanwhile.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key erin ops outage)
KID=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
# warm both worker processes' key caches
for i in 1 2 3 4 5 6; do post /v1/chat/completions "$KEY" "$(chat mock-gpt warm)" >/dev/null; done

send() {   # $1 = count; appends "status request-id" lines to $TMP/sent
    local i
    for i in $(seq 1 "$1"); do
        curl -s -o /dev/null -D - -X POST "$GW/v1/chat/completions" \
            -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
            -d "$(chat mock-gpt "outage $i")" |
            tr -d '\r' | awk '/^HTTP/{s=$2} tolower($1)=="x-request-id:"{print s, $2}'
    done >>"$TMP/sent"
}
send 20
bash "$ROOT/tests/stack.sh" pg-stop fast
send 60
curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -D "$TMP/h" \
    -d "$(chat mock-gpt down ',"stream":true')" >/dev/null
echo "200 $(grep -i '^x-request-id' "$TMP/h" | tr -d '\r' | awk '{print $2}')" >>"$TMP/sent"
h=$(for i in 1 2 3 4 5 6; do curl -s "$GW/healthz" | jq -r .ledger; done | sort -u | paste -sd,)
like "healthz reports spooling while the database is down ($h)" "$h" spooling
spooled=$(cat "$VAR"/spool/spool-*.jsonl 2>/dev/null | wc -l)
check "usage spooled to disk during the outage ($spooled lines)" test "$spooled" -gt 0
bash "$ROOT/tests/stack.sh" pg-start
send 20

served=$(awk '$1 == 200' "$TMP/sent" | wc -l)
total=$(wc -l <"$TMP/sent")
is "every request was served during the outage" "$served" "$total"
awk '$1 == 200 {print $2}' "$TMP/sent" | sort >"$TMP/ids"
ids=$(paste -sd, "$TMP/ids" | sed "s/,/','/g")
got=$(wait_sql "SELECT count(*) FROM usage_events WHERE request_id IN ('$ids')" "$served" 150)
is "every served request has a ledger row after recovery" "$got" "$served"
is "no request has two rows" \
    "$(sql "SELECT count(*) FROM (SELECT request_id FROM usage_events WHERE api_key_id = '$KID' GROUP BY 1 HAVING count(*) > 1) d")" 0
is "spool emptied after replay" "$(cat "$VAR"/spool/spool-*.jsonl 2>/dev/null | wc -l)" 0
is "healthz back to ok" "$(curl -s "$GW/healthz" | jq -r .ledger)" ok
done_testing
