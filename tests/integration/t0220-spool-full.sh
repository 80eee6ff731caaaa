#!/usr/bin/env bash
# PostgreSQL down and the spool's disk full: the gateway fails closed
# (503, healthz says so) instead of serving requests whose usage would be
# lost; once space is back it recovers, and after the database is back
# every served request has its row.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key kim ops spoolfull)
KID=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
SP=$TMP/spool
mkdir -p "$SP"
if ! mount -t tmpfs -o size=256k tmpfs "$SP"; then
    not_ok "mount a small tmpfs for the spool (needs root)"
    done_testing; exit 1
fi
trap 'umount "$SP" 2>/dev/null; rm -rf "$TMP"' EXIT
check "worker started" spawn_worker "$ROOT/tests/integration/aigw-test.json" AIGW_SPOOL_DIR="$SP"
ok_ids=()
call() {
    local out
    out=$(fcgi_call "$KEY" "$(chat mock-gpt "$1")")
    echo "$out" | head -n1 | awk '{print $2}'
    echo "$out" | tr -d '\r' | awk 'tolower($1)=="x-request-id:"{print $2}' >>"$TMP/ids.$(echo "$out" | head -n1 | awk '{print $2}')"
}
is "served before the outage" "$(call a)" 200
bash "$ROOT/tests/stack.sh" pg-stop fast
is "served with the database down (spooled)" "$(call b)" 200
sleep 0.3
dd if=/dev/zero of="$SP/filler" bs=4k 2>/dev/null   # fills the tmpfs
# the spool's last page still takes a few lines; then usage cannot be
# spooled (held in memory) and new requests are refused
got=""
for i in $(seq 1 40); do
    got=$(call "c$i")
    [ "$got" = 503 ] && break
    sleep 0.15
done
is "then refused: 503 while usage cannot be stored" "$got" 503
like "the refusal says why" "$(fcgi_call "$KEY" "$(chat mock-gpt e)")" '"code":"ledger_unavailable"'
like "healthz reports the failure" "$(METHOD=GET fcgi_call "$KEY" "" /healthz)" '^Status: 503'
grep -q ALARM "$TMP/worker.log"
is "an alarm is logged" "$?" 0
rm -f "$SP/filler"
sleep 1.5
is "space back: serving again" "$(call f)" 200
bash "$ROOT/tests/stack.sh" pg-start
served=$(cat "$TMP/ids.200" | sort -u | wc -l)
ids=$(paste -sd, "$TMP/ids.200" | sed "s/,/','/g")
is "every served request has its row after recovery" \
    "$(wait_sql "SELECT count(*) FROM usage_events WHERE request_id IN ('$ids')" "$served" 150)" "$served"
is "refused requests left no row" \
    "$(sql "SELECT count(*) FROM usage_events WHERE api_key_id = '$KID' AND http_status = 503")" 0
check "worker stops" stop_worker
done_testing
