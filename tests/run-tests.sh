#!/usr/bin/env bash
# Runs the unit tests, then the integration tests against a private stack
# (its own PostgreSQL, mock provider and lighttpd on private ports), and
# ends with one line: "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
what=${1:-all}
pass=0 fail=0 skip=0
failed_names=()

# Counts TAP lines ("ok N - x" / "not ok N - x") from one test program.
count() {
    local name=$1 out=$2 rc=$3 p f s
    p=$(grep -cE '^ok ' "$out" || true)
    s=$(grep -cE '^ok .*# SKIP' "$out" || true)
    p=$((p - s)) skip=$((skip + s))
    f=$(grep -cE '^not ok ' "$out" || true)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc"
    fi
    pass=$((pass + p)) fail=$((fail + f))
    [ "$f" -eq 0 ] || failed_names+=("$name")
}

run_one() {
    local name=$1; shift
    local out
    out=$(mktemp)
    echo "# $name"
    "$@" >"$out" 2>&1
    local rc=$?
    grep -E '^(ok|not ok|#)' "$out" | sed 's/^/  /'
    if [ $rc -ne 0 ] || grep -qE '^not ok' "$out"; then
        echo "  --- output of $name ---"
        tail -n 40 "$out" | sed 's/^/  | /'
    fi
    count "$name" "$out" $rc
    rm -f "$out"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
    for t in build/unit/test_*; do
        [ -x "$t" ] || continue
        run_one "unit/$(basename "$t")" "$t"
    done
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
    export VAR=$ROOT/var/test GW_PORT=${GW_PORT:-18080}
    export MOCK_PORT=${MOCK_PORT:-18099} PG_PORT=${PG_PORT:-15432}
    export PMOCK_PORT=${PMOCK_PORT:-18100}
    export GW_CONFIG=$ROOT/tests/integration/aigw-test.json GW_PROCS=2
    export AIGW_TEST_PROVIDER_KEY=sk-provider-CANARY-7f3a9c1e5b
    unset OPENAI_API_KEY AIGW_UPSTREAM_URL
    bash tests/stack.sh down >/dev/null 2>&1
    rm -rf "$VAR"
    if bash tests/stack.sh up; then
        for t in tests/integration/t[0-9]*.sh; do
            run_one "integration/$(basename "$t")" bash "$t"
        done
    else
        echo "not ok - the test stack did not start"
        fail=$((fail + 1))
    fi
    bash tests/stack.sh down >/dev/null 2>&1
fi

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "# failed: ${failed_names[*]}"
fi
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
