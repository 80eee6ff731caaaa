#!/usr/bin/env bash
# Month-by-group report time over N synthetic ledger rows: aigw-report's
# rollup + tail vs a naive GROUP BY over the raw rows. Not a timed test:
# it prints figures. Runs its own PostgreSQL under var/bench (port 27433,
# or $VAR and $PG_PORT), stopped at the end unless KEEP=1.
#   N=5000000 bash tests/bench/report-bench.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# a private PostgreSQL by default (var/bench), so `make test` can run meanwhile
export VAR=${VAR:-$ROOT/var/bench} PG_PORT=${PG_PORT:-27433}
bash "$ROOT/tests/stack.sh" pg-start && bash "$ROOT/tests/stack.sh" migrate
eval "$(bash "$ROOT/tests/stack.sh" env)"
N=${N:-5000000}
TAIL=${TAIL:-20000}          # rows left unrolled (the live tail)
q() { psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
clean() {
    q "DELETE FROM usage_rollup_daily WHERE day >= '2003-01-01' AND day < '2003-02-01'"
    q "DROP TABLE IF EXISTS usage_events_200301"
}
clean
q "SELECT aigw_ensure_usage_partitions('2003-01-01', 1)"
gen() {  # gen FROM TO: rows FROM..TO straight into the partition
    q "INSERT INTO usage_events (request_id, ts, api_key_id, user_id, group_id,
        route, provider, backend, requested_model, served_model, http_status,
        prompt_tokens, completion_tokens, total_tokens, cost_pusd)
      SELECT md5('bench' || i)::uuid,
        timestamptz '2003-01-01' + (i::bigint * 2677 % 2678400) * interval '1 second',
        md5('key' || (i % 2000))::uuid, 'user' || (i % 2000), 'group' || (i % 50),
        'default', 'openai', 'mock', 'gpt-4o-mini', 'gpt-4o-mini', 200,
        100 + i % 400, i % 300, 100 + i % 400 + i % 300,
        (100 + i % 400) * 150000 + (i % 300) * 600000
      FROM generate_series($1, $2) i"
}
echo "loading $N synthetic events into 2003-01 ..."
t=$(ms gen 1 $((N - TAIL)))
echo "  loaded $((N - TAIL)) rows in ${t} ms"
t=$(ms q "SELECT aigw_rollup_usage()")
echo "  first rollup: ${t} ms ($(q "SELECT count(*) FROM usage_rollup_daily WHERE day >= '2003-01-01' AND day < '2003-02-01'") rollup rows)"
gen $((N - TAIL + 1)) "$N" >/dev/null
q "ANALYZE usage_events_200301"; q "ANALYZE usage_rollup_daily"
echo "  $TAIL more rows left as the unrolled tail"
naive="SELECT group_id, count(*), sum(total_tokens), sum(cost_pusd) FROM usage_events
       WHERE ts >= '2003-01-01' AND ts < '2003-02-01' GROUP BY group_id"
best() { local b=999999 i v; for i in 1 2 3; do v=$(ms "$@"); [ "$v" -lt "$b" ] && b=$v; done; echo "$b"; }
t_naive=$(best q "$naive")
t_report=$(best "$ROOT/report/aigw-report" spend --by group --month 2003-01 --format csv)
t_sql=$(best q "SELECT group_id, sum(requests), sum(total_tokens), sum(cost_pusd) FROM aigw_usage_between('2003-01-01', '2003-02-01') GROUP BY group_id")
same=$(diff <(q "$naive" | awk -F'|' '{print $1 "|" $2 "|" $3}' | sort) \
    <(q "SELECT group_id, sum(requests), sum(total_tokens) FROM aigw_usage_between('2003-01-01', '2003-02-01') GROUP BY group_id" | sort) >/dev/null && echo yes || echo NO)
echo "month-by-group over $N events (best of 3):"
echo "  naive GROUP BY over raw rows:          ${t_naive} ms"
echo "  rollup + tail (SQL):                   ${t_sql} ms"
echo "  aigw-report spend --by group --month:  ${t_report} ms (incl. connect)"
echo "  identical totals: $same"
[ "${KEEP:-0}" = 1 ] || { clean; bash "$ROOT/tests/stack.sh" pg-stop; }
