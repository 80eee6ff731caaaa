#!/usr/bin/env bash
# GET /metrics: host-wide totals from the shared segment (every worker
# process adds to it), equal to the ledger under concurrent load; the
# exposition passes `promtool check metrics`; logs, metrics and the ledger
# agree on one request's tokens; no secret in the scrape.
. "$(dirname "$0")/lib.sh"

metric() {  # metric NAME LABEL-REGEX: the sum of matching samples
    curl -s "$GW/metrics" | grep -E "^$1\{[^}]*$2" |
        awk '{s += $NF} END {printf "%d", s}'
}

U=t2100-$$
KEY=$(new_key "$U" "$U-g" metrics)
KID=$(sql "SELECT id FROM api_keys WHERE user_id = '$U'")

# --- concurrent load over both worker processes (GW_PROCS=2)
N=40
for i in $(seq $N); do
    if [ $((i % 4)) = 0 ]; then
        curl -sN -o /dev/null "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
            -H 'Content-Type: application/json' \
            -d "$(chat mock-gpt "load $i" ',"stream":true')" &
    else
        curl -s -o /dev/null "$GW/v1/chat/completions" -H "Authorization: Bearer $KEY" \
            -H 'Content-Type: application/json' -d "$(chat mock-gpt "load number $i")" &
    fi
done
wait
wait_sql "SELECT count(*) FROM usage_events WHERE api_key_id = '$KID'" $N >/dev/null
led=$(sql "SELECT sum(prompt_tokens) || ' ' || sum(completion_tokens) FROM usage_events WHERE api_key_id = '$KID'")
pids=$(ps -o pid= --ppid "$(cat "$VAR/lighttpd.pid")" | wc -l)
check "the stack runs several worker processes ($pids)" test "$pids" -ge 2
# scrape several times: whichever process answers, the totals are the host's
for s in 1 2 3 4; do
    got="$(metric tokens_consumed_total "api_key_id=\"$KID\".*type=\"input\"") $(metric tokens_consumed_total "api_key_id=\"$KID\".*type=\"output\"")"
    is "scrape $s: tokens_consumed_total equals the ledger's (input output)" "$got" "$led"
done
# the access log agrees too: one line per request, the same token sums
logt=$(grep -h '"msg":"request"' "$GWLOG" | jq -r --arg k "$KID" \
    'select(.api_key_id == $k) | "\(.prompt_tokens) \(.completion_tokens)"' |
    awk '{n++; p += $1; c += $2} END {printf "%d %d %d", n, p, c}')
is "access log: $N lines with the ledger's token sums" "$logt" "$N $led"
# cost: the metric's total for the group equals the log lines' (USD)
cost_m=$(curl -s "$GW/metrics" | grep -F "aigw_cost_usd_total{group_id=\"$U-g\",model=\"mock-gpt\"}" | awk '{print $NF}')
cost_l=$(grep -h '"msg":"request"' "$GWLOG" | jq -r --arg k "$KID" 'select(.api_key_id == $k) | .cost_usd // 0' |
    awk '{s += $1} END {printf "%.9f", s}')
check "cost total for the group is exposed ($cost_m)" test -n "$cost_m"
is "aigw_cost_usd_total equals the access log's cost sum" \
    "$(awk -v a="${cost_m:-0}" 'BEGIN {printf "%.9f", a}')" "$cost_l"
is "requests by route/provider/model/status count all $N" \
    "$(( $(metric aigw_requests_total 'route="default",provider="openai",model="mock-gpt",status="200"') >= N ))" 1
check "every worker process counts into one segment" \
    test "$(curl -s "$GW/metrics" | awk '/^aigw_worker_processes /{print $2}')" -ge 2
# (grep on a file: `like` pipes into grep -q, which a large text SIGPIPEs)
has() { curl -s "$GW/metrics" >"$TMP/m"; if grep -qE -- "$2" "$TMP/m"; then ok "$1"; else not_ok "$1" "no /$2/"; fi; }
has "saturation gauges" 'aigw_worker_threads [0-9]+'
like "in-flight gauge" \
    "$(curl -s "$GW/metrics" | grep '^aigw_requests_in_flight ')" '^aigw_requests_in_flight [0-9]+$'
has "TTFT histogram for streams" \
    'gen_ai_server_time_to_first_token_seconds_count\{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="mock-gpt"\} [1-9]'
has "request duration histogram" \
    'gen_ai_server_request_duration_seconds_bucket\{gen_ai_operation_name="chat",[^}]*le="\+Inf"\} [1-9]'

# --- logs, metrics and the ledger agree on one request's tokens
K2=$(new_key "$U-one" "$U-g" one)
K2ID=$(sql "SELECT id FROM api_keys WHERE user_id = '$U-one'")
r=$(curl -s -D "$TMP/h" "$GW/v1/chat/completions" -H "Authorization: Bearer $K2" \
    -H 'Content-Type: application/json' -d "$(chat mock-gpt 'one request to compare')")
rid=$(sed -nE 's/^X-Request-Id: *([0-9a-f-]+).*/\1/ip' "$TMP/h" | tr -d '\r')
wait_sql "SELECT count(*) FROM usage_events WHERE request_id = '$rid'" 1 >/dev/null
ledger_t=$(sql "SELECT prompt_tokens || ' ' || completion_tokens FROM usage_events WHERE request_id = '$rid'")
log_t=$(grep -h "\"request_id\":\"$rid\"" "$GWLOG" | grep '"msg":"request"' |
    jq -r '"\(.prompt_tokens) \(.completion_tokens)"')
metric_t="$(metric tokens_consumed_total "api_key_id=\"$K2ID\".*type=\"input\"") $(metric tokens_consumed_total "api_key_id=\"$K2ID\".*type=\"output\"")"
check "the request used tokens ($ledger_t)" test -n "$ledger_t" -a "$ledger_t" != "0 0"
is "log line tokens equal the ledger's" "$log_t" "$ledger_t"
is "metrics tokens equal the ledger's" "$metric_t" "$ledger_t"
is "reply usage equals the ledger's" "$(echo "$r" | jq -r '"\(.usage.prompt_tokens) \(.usage.completion_tokens)"')" "$ledger_t"
like "the log line has the access-log fields" \
    "$(grep -h "\"request_id\":\"$rid\"" "$GWLOG" | jq -c 'keys')" \
    'api_key_id.*cost_usd.*group_id.*http_status_code.*latency_ms.*route.*served_model.*trace_id.*ttft_ms.*upstream_status.*user_id'

# --- upstream errors: a provider's 500 is counted by provider and type
m_err() { curl -s "$GW/metrics" | grep -F 'aigw_upstream_errors_total{provider="openai",backend="openai",error_type="upstream_error"}' | awk '{print $NF}'; }
e0=$(m_err)
post /openai/v1/chat/completions "$K2" "$(chat gpt-error-500 'fail please')" >/dev/null
is "aigw_upstream_errors_total counts a provider 500" "$(m_err)" "$(( ${e0:-0} + 1 ))"
has "errors by route, status and type" \
    'aigw_request_errors_total\{route="openai",status="5[0-9]{2}",error_type="upstream_error"\} [1-9]'
has "label-set accounting exposed" 'aigw_metrics_overflow_total\{family="tokens_consumed_total"\} [0-9]+'

# --- the exposition format
curl -s "$GW/metrics" -D "$TMP/mh" -o "$TMP/metrics.txt"
like "text format content type" "$(cat "$TMP/mh")" 'Content-Type: text/plain; version=0.0.4'
promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.out" 2>&1
is "promtool check metrics passes" "$?" 0
[ -s "$TMP/promtool.out" ] && sed 's/^/# promtool: /' "$TMP/promtool.out"
is "POST /metrics: 405" "$(curl -s -o /dev/null -w '%{http_code}' -d '' "$GW/metrics")" 405
for secret in "$KEY" "$K2" "$AIGW_TEST_PROVIDER_KEY" sk-openai-CANARY; do
    check "no secret in the scrape (${secret:0:12}...)" bash -c "! grep -qF -- '$secret' '$TMP/metrics.txt'"
done
is "scrapes are not access-logged" "$(grep -c '"path":"/metrics"' "$GWLOG")" 0
done_testing
