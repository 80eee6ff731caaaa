#!/usr/bin/env bash
# `make bench-report`: chargeback reports at scale. Generates N synthetic
# usage events (default 10M) inside PostgreSQL (generate_series) over three
# months (2003-01..2003-03; ~50 groups, ~5k API keys and users, 20 models,
# 3 providers, 2 routes), runs the rollup, leaves TAIL more events as the
# unrolled live tail, then prints the month-by-group report time on the
# rollups + tail vs a naive GROUP BY over the raw rows, aigw-report's wall
# time (connect included), and whether the totals are identical.
# Not a test (it is slow): it prints figures. Run it once, on a quiet box.
#
# Uses its own PostgreSQL cluster under var/bench-report on BENCH_PG_PORT
# (default PG_PORT + 1, so a test stack on PG_PORT can run meanwhile),
# stopped at the end unless KEEP=1.
#   N=10000000 TAIL=20000 bash tests/bench/report-bench.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export VAR=${BENCH_VAR:-$ROOT/var/bench-report}
export PG_PORT=${BENCH_PG_PORT:-$(( ${PG_PORT:-54329} + 1 ))}
bash "$ROOT/tests/stack.sh" pg-start
bash "$ROOT/tests/stack.sh" migrate
export PGHOST=$VAR/run PGPORT=$PG_PORT PGDATABASE=aigw PGUSER=aigw
N=${N:-10000000}
TAIL=${TAIL:-20000}
REPORT=$ROOT/report/aigw-report
q() { psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
ms() { local t0; t0=$(now_ms); "$@" >/dev/null; echo $(( $(now_ms) - t0 )); }
best() {  # best of 5 runs, in ms
    local b=999999999 i v
    for i in 1 2 3 4 5; do v=$(ms "$@"); [ "$v" -lt "$b" ] && b=$v; done
    echo "$b"
}
# psql -c with server-side timing (no connect): EXPLAIN ANALYZE's figure
srv_ms() {
    q "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) $1" |
        sed -nE 's/^Execution Time: ([0-9.]+) ms$/\1/p'
}
srv_best() {
    local i; for i in 1 2 3 4 5; do srv_ms "$1"; done | sort -n | head -n1
}

clean() {
    q "DROP TABLE IF EXISTS usage_events_200301, usage_events_200302,
        usage_events_200303"
    q "DELETE FROM usage_rollup_hourly WHERE hour >= '2003-01-01' AND hour < '2003-04-01'"
    q "DELETE FROM usage_rollup_daily_group WHERE day >= '2003-01-01' AND day < '2003-04-01'"
    q "DELETE FROM usage_rollup_monthly_group WHERE month >= '2003-01-01' AND month < '2003-04-01'"
}
clean
q "SELECT aigw_ensure_usage_partitions('2003-01-01', 3)"
q "SELECT aigw_rollup_hourly()" >/dev/null     # anything older is rolled
# gen FROM TO: events FROM..TO of N, time-ordered over 90 days, with
# UUIDv7-shaped request ids (as the gateway writes them).
gen() {
    q "INSERT INTO usage_events (request_id, ts, api_key_id, user_id, group_id,
        route, provider, backend, requested_model, served_model, http_status,
        prompt_tokens, completion_tokens, total_tokens, cost_pusd, usage_source)
      SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0')
                || '70008000' || lpad(to_hex(i), 12, '0'))::uuid,
        t, ('00000000-0000-4000-8000-' || lpad(k::text, 12, '0'))::uuid,
        'user' || k, 'group' || (k % 50),
        CASE WHEN i % 7 = 0 THEN 'batch' ELSE 'default' END,
        (ARRAY['openai', 'anthropic', 'bedrock'])[1 + m % 3], 'mock',
        'model-' || m, 'model-' || m, 200, p, c, p + c,
        CASE WHEN m < 19 THEN p * (100000 * (m + 1)) + c * (400000 * (m + 1)) END,
        'provider'
      FROM generate_series($1::bigint, $2::bigint) i,
        LATERAL (SELECT timestamptz '2003-01-01'
                        + ((i - 1) * 7776000 / $N) * interval '1 second' AS t,
                        (i * 7919) % 5000 AS k,
                        ((i * 7919) % 5000 + (i % 4) * (i % 20)) % 20 AS m,
                        100 + i % 400 AS p, i % 300 AS c) v"
}
echo "report bench: $N synthetic events over 2003-01..2003-03, $TAIL of them unrolled"
t=$(ms gen 1 $((N - TAIL)))
echo "  loaded $((N - TAIL)) events in ${t} ms"
t=$(ms q "SELECT aigw_rollup_hourly()")
echo "  first rollup (all of them): ${t} ms;" \
    "$(q "SELECT count(*) FROM usage_rollup_hourly WHERE hour >= '2003-01-01' AND hour < '2003-04-01'") hourly rows," \
    "$(q "SELECT count(*) FROM usage_rollup_daily_group WHERE day >= '2003-01-01' AND day < '2003-04-01'") daily and" \
    "$(q "SELECT count(*) FROM usage_rollup_monthly_group WHERE month >= '2003-01-01' AND month < '2003-04-01'") monthly group rows"
gen $((N - TAIL + 1)) "$N" >/dev/null
q "ANALYZE usage_events_200301, usage_events_200302, usage_events_200303,
    usage_rollup_hourly, usage_rollup_daily_group, usage_rollup_monthly_group"
MONTH_EVENTS=$(q "SELECT count(*) FROM usage_events WHERE ts >= '2003-03-01' AND ts < '2003-04-01'")
MONTH_TAIL=$(q "SELECT count(*) FROM usage_events WHERE ts >= '2003-03-01' AND ts < '2003-04-01'
    AND ins_xid >= (SELECT rolled_xid FROM usage_rollup_watermark)")

naive="SELECT group_id, count(*), sum(prompt_tokens), sum(completion_tokens),
    sum(total_tokens), round(coalesce(sum(cost_pusd), 0) / 1e12, 6),
    count(*) FILTER (WHERE cost_pusd IS NULL), coalesce(sum(cost_pusd), 0)
    FROM usage_events WHERE ts >= '2003-03-01' AND ts < '2003-04-01'
    GROUP BY group_id ORDER BY group_id COLLATE \"C\""
rolled="SELECT group_id, sum(requests), sum(prompt_tokens), sum(completion_tokens),
    sum(total_tokens), round(sum(cost_pusd) / 1e12, 6),
    sum(unpriced_requests), sum(cost_pusd)
    FROM aigw_usage_rollup_between('2003-03-01', '2003-04-01', 'month')
    GROUP BY group_id ORDER BY group_id COLLATE \"C\""
t_naive=$(srv_best "$naive")
t_rolled=$(srv_best "$rolled")
t_report=$(best "$REPORT" spend --by group --month 2003-03 --format csv)
t_report_gm=$(best "$REPORT" spend --by group,model --month 2003-03 --format csv)
t_report_3m=$(best "$REPORT" spend --by month,group --from 2003-01-01 --to 2003-04-01 --format csv)
t_tail_rollup=$(ms q "SELECT aigw_rollup_hourly()")
same=no
if diff <(q "$naive" | tr '|' ',') \
        <("$REPORT" spend --by group --month 2003-03 --format csv --no-total |
             tail -n +2) >/dev/null; then
    same=yes
fi
echo "month-by-group, one month (2003-03: $MONTH_EVENTS events, $MONTH_TAIL in the tail), best of 5:"
echo "  naive GROUP BY over the raw rows (server):    ${t_naive} ms"
echo "  rollups + tail, aigw_usage_rollup_between:    ${t_rolled} ms"
echo "  aigw-report spend --by group --month (wall):  ${t_report} ms"
echo "  aigw-report spend --by group,model (wall):    ${t_report_gm} ms"
echo "  aigw-report --by month,group, 3 months:       ${t_report_3m} ms"
echo "  rollup of the $TAIL-event tail:               ${t_tail_rollup} ms"
echo "  report identical to the naive GROUP BY:       $same"
if [ "${KEEP:-0}" != 1 ]; then
    clean
    bash "$ROOT/tests/stack.sh" pg-stop
fi
[ "$same" = yes ]
