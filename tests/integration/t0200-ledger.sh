#!/usr/bin/env bash
# The usage ledger: one row per inference request with identity, models,
# status, tokens and an exact cost at the price in effect; unpriced models
# stay unpriced; the ledger agrees with what the mock billed.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key dave finance ledger)
KID=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
curl -s -X POST "$MOCK/__reset" >/dev/null
n=0
for i in $(seq 1 5); do post /v1/chat/completions "$KEY" "$(chat mock-gpt "n$i")" >/dev/null; n=$((n+1)); done
for i in $(seq 1 3); do
    curl -sN "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' -d "$(chat gpt-4o-mini "s$i" ',"stream":true')" >/dev/null
    n=$((n+1))
done
post /v1/chat/completions "$KEY" "$(chat unpriced-model)" >/dev/null; n=$((n+1))
post /v1/chat/completions "$KEY" "$(chat mock-error-500)" >/dev/null; n=$((n+1))
post /v1/chat/completions "$KEY" '{"model":' >/dev/null; n=$((n+1))

Q="FROM usage_events WHERE api_key_id = '$KID'"
is "one row per request" "$(wait_sql "SELECT count(*) $Q" $n)" $n
is "identity recorded" "$(sql "SELECT DISTINCT user_id || '/' || group_id $Q")" dave/finance
stats=$(curl -s "$MOCK/__stats")
is "ledger tokens equal what the provider billed" \
    "$(sql "SELECT sum(prompt_tokens) || '/' || sum(completion_tokens) $Q AND http_status = 200")" \
    "$(echo "$stats" | jq -r '"\(.prompt_tokens)/\(.completion_tokens)"')"
is "streamed rows flagged and counted" \
    "$(sql "SELECT count(*) || '/' || min(completion_tokens) || '/' || bool_and(ttft_ms IS NOT NULL) $Q AND stream")" 3/5/true
is "cost is exact at the row's prices (mock-gpt \$1/\$2 per 1M)" \
    "$(sql "SELECT bool_and(cost_pusd = prompt_tokens * 1000000 + completion_tokens * 2000000) $Q AND served_model = 'mock-gpt'")" t
is "unit prices stored on the row" \
    "$(sql "SELECT DISTINCT input_per_mtok || '/' || output_per_mtok $Q AND served_model = 'gpt-4o-mini'")" 150000/600000
is "unpriced model: cost NULL, not zero" \
    "$(sql "SELECT count(*) $Q AND served_model = 'unpriced-model' AND cost_pusd IS NULL AND prompt_tokens > 0")" 1
is "upstream error recorded with its status" \
    "$(sql "SELECT http_status || '/' || error_type $Q AND requested_model = 'mock-error-500'")" 500/upstream_error
is "bad request recorded as 400" "$(sql "SELECT count(*) $Q AND http_status = 400")" 1
is "request ids are UUIDv7" "$(sql "SELECT count(*) $Q AND substr(request_id::text, 15, 1) <> '7'")" 0

# a new price applies from its effective time on; history is kept
sql "INSERT INTO model_prices (model, effective_from, input_per_mtok, output_per_mtok)
     VALUES ('mock-gpt', now(), 3000000, 4000000)" >/dev/null
post /v1/chat/completions "$KEY" "$(chat mock-gpt after)" >/dev/null; n=$((n+1))
wait_sql "SELECT count(*) $Q" $n >/dev/null
is "new price used for new rows" \
    "$(sql "SELECT input_per_mtok || '/' || output_per_mtok $Q ORDER BY ts DESC LIMIT 1")" 3000000/4000000
is "old rows keep their price" \
    "$(sql "SELECT count(*) $Q AND served_model = 'mock-gpt' AND input_per_mtok = 1000000")" 5
sql "DELETE FROM model_prices WHERE model = 'mock-gpt' AND effective_from > '-infinity'" >/dev/null

# dated snapshot names are priced as their model; else the requested model
rid1=$(uuidgen --time-v7 2>/dev/null || sql "SELECT gen_random_uuid()")
rid2=$(sql "SELECT gen_random_uuid()")
sql "SELECT aigw_ingest_usage('[
  {\"request_id\":\"$rid1\",\"ts\":\"2026-01-05T00:00:00Z\",\"served_model\":\"gpt-4o-2024-08-06\",
   \"requested_model\":\"gpt-4o\",\"http_status\":200,\"prompt_tokens\":10,\"completion_tokens\":1},
  {\"request_id\":\"$rid2\",\"ts\":\"2026-01-05T00:00:00Z\",\"served_model\":\"acme-snapshot-x\",
   \"requested_model\":\"gpt-4o-mini\",\"http_status\":200,\"prompt_tokens\":10,\"completion_tokens\":1}]')" >/dev/null
is "dated served model priced as its base model" \
    "$(sql "SELECT cost_pusd FROM usage_events WHERE request_id = '$rid1'")" $((10 * 2500000 + 10000000))
is "unknown served model priced by the requested model" \
    "$(sql "SELECT cost_pusd FROM usage_events WHERE request_id = '$rid2'")" $((10 * 150000 + 600000))
sql "DELETE FROM usage_events WHERE request_id IN ('$rid1', '$rid2')" >/dev/null

# the log line agrees with the ledger row
rid=$(sql "SELECT request_id $Q ORDER BY ts DESC LIMIT 1")
line=$(grep -F "\"request_id\":\"$rid\"" "$GWLOG" | grep '"msg":"request"' | tail -n1)
is "access log line: tokens as in the ledger" \
    "$(echo "$line" | jq -r '"\(.prompt_tokens)/\(.completion_tokens)/\(.http_status_code)/\(.user_id)"')" \
    "$(sql "SELECT prompt_tokens || '/' || completion_tokens || '/' || http_status || '/' || user_id $Q AND request_id = '$rid'")"
done_testing
