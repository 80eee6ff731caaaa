#!/usr/bin/env bash
# Quota gauges through the stack: each settled request sets
# aigw_quota_used / aigw_quota_limit / aigw_quota_used_ratio of every
# quota it counted against (subject_kind, subject, model, unit, period),
# equal to the database's balance; 429s are counted by code; the ledger
# and saturation gauges are exposed; the exposition still passes promtool.
. "$(dirname "$0")/lib.sh"

grp="q2130-$$"
KEY=$(new_key "u-$grp" "$grp" qm)
scrape() { curl -s "$GW/metrics" >"$TMP/m"; }
# val NAME LABELS: the sample's value ("" when absent)
val() { grep -F "$1{$2} " "$TMP/m" | awk '{print $NF}' | head -n1; }
G="subject_kind=\"group\",subject=\"$grp\",model=\"*\",unit=\"total_tokens\",period=\"month\""
R="subject_kind=\"group\",subject=\"$grp\",model=\"mock-gpt\",unit=\"requests\",period=\"day\""

"$ADMIN" quota set --group "$grp" --limit 1000 >/dev/null
"$ADMIN" quota set --group "$grp" --unit requests --period day --model mock-gpt --limit 3 >/dev/null
for i in 1 2; do
    is "request $i served" "$(post /v1/chat/completions "$KEY" "$(chat mock-gpt "quota gauge $i")" | status_of)" 200
done
db_used() {
    sql "SELECT p.used FROM quota_periods p JOIN quota_limits l ON l.id = p.limit_id
          WHERE l.subject_kind = 'group' AND p.subject = '$grp' AND l.unit = '$1'
          ORDER BY p.period_start DESC LIMIT 1"
}
# usage reaches the balance and the gauges with the lease sync (within
# quotas.lease_flush_ms), not with the response: wait for both to agree
# settled COND: scrape until the token gauge equals the balance and COND
settled() {
    for _ in $(seq 50); do
        scrape
        used=$(db_used total_tokens)
        [ "${used:-0}" -gt 0 ] && [ "$(val aigw_quota_used "$G")" = "$used" ] &&
            eval "$1" && return 0
        sleep 0.1
    done
}
settled '[ "$(val aigw_quota_used "$R")" = 2 ]'
check "tokens were counted ($used)" test "${used:-0}" -gt 0
is "aigw_quota_used equals the database's balance" "$(val aigw_quota_used "$G")" "$used"
is "aigw_quota_limit is the allowance" "$(val aigw_quota_limit "$G")" 1000
is "aigw_quota_used_ratio" "$(val aigw_quota_used_ratio "$G")" \
    "$(awk -v u="$used" 'BEGIN {printf "%.6f", u / 1000}')"
is "a model-scoped request quota: used" "$(val aigw_quota_used "$R")" 2
is "a model-scoped request quota: limit" "$(val aigw_quota_limit "$R")" 3

# an operator raises the allowance: the gauge follows at the next request
"$ADMIN" quota add --group "$grp" --amount 500 >/dev/null
post /v1/chat/completions "$KEY" "$(chat mock-gpt 'after add')" >/dev/null
settled '[ "$(val aigw_quota_limit "$G")" = 1500 ] && [ "$(val aigw_quota_used "$R")" = 3 ]'
is "allowance after 'quota add' (next settlement)" "$(val aigw_quota_limit "$G")" 1500
is "used after a third request" "$(val aigw_quota_used "$G")" "$(db_used total_tokens)"
is "three requests of three" "$(val aigw_quota_used_ratio "$R")" 1.000000

# the fourth request is refused: counted by code, the gauges unchanged
before=$(grep -F "aigw_rate_limit_rejections_total{route=\"default\",code=\"quota_exceeded\"}" "$TMP/m" | awk '{print $NF}')
is "fourth request: 429" "$(post /v1/chat/completions "$KEY" "$(chat mock-gpt 'over')" | status_of)" 429
scrape
after=$(grep -F "aigw_rate_limit_rejections_total{route=\"default\",code=\"quota_exceeded\"}" "$TMP/m" | awk '{print $NF}')
is "aigw_rate_limit_rejections_total{code=quota_exceeded} +1" "$after" "$(( ${before:-0} + 1 ))"
is "a refused request leaves the balance" "$(val aigw_quota_used "$R")" 3

# saturation and ledger gauges, host-wide
for g in aigw_worker_threads_busy aigw_worker_all_busy_total aigw_ledger_queued_events \
         aigw_ledger_spooling aigw_ledger_failing aigw_ledger_spooled_events_total \
         aigw_ledger_spool_bytes; do
    like "$g exposed" "$(grep "^$g " "$TMP/m")" "^$g [0-9]+$"
done
is "per-process busy-thread gauges: one per worker process" \
    "$(grep -c '^aigw_worker_process_threads{pid="[0-9]*"} 8$' "$TMP/m")" \
    "$(awk '/^aigw_worker_processes /{print $2}' "$TMP/m")"
is "the ledger is healthy: not spooling" "$(grep '^aigw_ledger_spooling ' "$TMP/m" | awk '{print $2}')" 0
promtool check metrics <"$TMP/m" >"$TMP/pt" 2>&1
is "promtool check metrics passes" "$?" 0
[ -s "$TMP/pt" ] && sed 's/^/# promtool: /' "$TMP/pt"
"$ADMIN" quota delete --group "$grp" >/dev/null
"$ADMIN" quota delete --group "$grp" --unit requests --period day --model mock-gpt >/dev/null
done_testing
