#!/usr/bin/env bash
# conf/prometheus-aigw-rules.yml: valid (`promtool check rules`), its
# alerts behave as intended (`promtool test rules`, cases in
# tests/promtool/), and every metric it names is one the gateway exposes
# (a renamed metric would leave an alert that can never fire).
. "$(dirname "$0")/lib.sh"

RULES=$ROOT/conf/prometheus-aigw-rules.yml
promtool check rules "$RULES" >"$TMP/check" 2>&1
is "promtool check rules passes" "$?" 0
like "rules found" "$(cat "$TMP/check")" 'SUCCESS: [0-9]+ rules found'
(cd "$ROOT/tests/promtool" && promtool test rules aigw-rules.test.yml) >"$TMP/test" 2>&1
rc=$?
is "promtool test rules passes" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/test" | tail -n 30
like "the monthly group quota alert exists" "$(cat "$RULES")" 'alert: AigwGroupQuotaOver80Percent'

# traffic that makes every family appear, then the names in the rules
KEY=$(new_key "u-t2140-$$" "g-t2140-$$" rules)
"$ADMIN" quota set --group "g-t2140-$$" --limit 100000 >/dev/null
post /v1/chat/completions "$KEY" "$(chat mock-gpt 'rules' ',"stream":true')" >/dev/null
curl -s "$GW/metrics" | sed -nE 's/^# TYPE ([a-zA-Z_:]+) .*/\1/p' | sort -u >"$TMP/exposed"
# (label names in "by (...)" and "$labels.x" are not metrics)
sed -E 's/by \([^)]*\)//g; s/\$labels\.[a-z_]+//g' "$RULES" |
    grep -oE '\b(aigw|gen_ai)_[a-z_]+' | sed -E 's/_(bucket|sum|count)$//' |
    sort -u >"$TMP/named"
missing=$(comm -23 "$TMP/named" "$TMP/exposed" | tr '\n' ' ')
check "the rules name $(wc -l <"$TMP/named") exposed metrics" test "$(wc -l <"$TMP/named")" -ge 8
is "every metric the rules name is exposed" "$missing" ""
# the Grafana dashboard's queries, likewise
DASH=$ROOT/conf/grafana-aigw.json
is "the dashboard is valid JSON with panels" "$(jq '.panels | length > 10' "$DASH")" true
jq -r '.panels[].targets[]?.expr' "$DASH" | sed -E 's/by \([^)]*\)//g' |
    grep -oE '\b(aigw|gen_ai)_[a-z_]+' | sed -E 's/_(bucket|sum|count)$//' |
    grep -vxE 'gen_ai_request_model|gen_ai_provider_name' | sort -u >"$TMP/dnamed"
is "every metric the dashboard queries is exposed" "$(comm -23 "$TMP/dnamed" "$TMP/exposed" | tr '\n' ' ')" ""
check "the dashboard has a quota usage panel" grep -q 'aigw_quota_used_ratio' "$DASH"
"$ADMIN" quota delete --group "g-t2140-$$" >/dev/null
done_testing
