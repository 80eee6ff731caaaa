#!/usr/bin/env bash
# `make bench-quota`: global-quota admissions per second on one subject,
# host leases vs one PostgreSQL round trip per request (quota-bench.c),
# against a private PostgreSQL (port BENCH_PG_PORT, 25433; state in
# var/bench-quota). Settings: BENCH_THREADS (32), BENCH_SECONDS (3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export VAR=$ROOT/var/bench-quota PG_PORT=${BENCH_PG_PORT:-25433}
export AIGW_SPOOL_DIR=$VAR/spool AIGW_TEST_PROVIDER_KEY=sk-provider-bench-0000
export AIGW_UPSTREAM_URL=http://127.0.0.1:9/v1
S="bash $ROOT/tests/stack.sh"
trap '$S pg-stop >/dev/null 2>&1' EXIT
rm -rf "$VAR"
mkdir -p "$AIGW_SPOOL_DIR"
$S pg-start >/dev/null
$S migrate >/dev/null
eval "$($S env)"
grp=bench
id=$(psql -qAtX -c "INSERT INTO quota_limits (subject_kind, subject, unit,
        period, limit_value) VALUES ('group', '$grp', 'total_tokens', 'month',
        1000000000000) RETURNING id" | head -n1)
read -r ps pe < <(psql -qAtX -F' ' -c "SELECT extract(epoch FROM ps)::bigint,
        extract(epoch FROM pe)::bigint FROM aigw_period_bounds('month', now(), 'UTC')")
BENCH_PS=$ps BENCH_PE=$pe BENCH_SHM=$VAR/spool/quotalease.shm \
    "$ROOT/build/bench/quota-bench" "$ROOT/tests/bench/aigw-bench.json" "$id" "$grp"
psql -qAtX -c "SELECT 'balance after: used ' || used || ', reserved ' || reserved
               FROM quota_periods WHERE limit_id = $id"
