#!/usr/bin/env bash
# aigw-admin and aigw-report against the test database: the key lifecycle,
# every report format, half-open periods, totals equal to SQL sums, exit
# codes. Needs PostgreSQL only; its usage rows live in 2000-12..2001-02.
. "$(dirname "$0")/lib.sh"

PERIOD="ts >= '2000-12-01' AND ts < '2001-03-01'"
cleanup() {
    sql "DELETE FROM usage_events WHERE $PERIOD" >/dev/null
    sql "DELETE FROM api_keys WHERE user_id LIKE 't0300-%'" >/dev/null
}
cleanup

# --- aigw-admin key create
S1=$("$ADMIN" key create --user t0300-alice --group t0300-eng \
    --name 'laptop, "main"' 2>"$TMP/err")
is "create: exit 0" $? 0
like "create: stdout is the secret alone" "$S1" '^sk-aigw-[A-Za-z0-9_-]{43}$'
like "create: stderr names id, hint, user and group" "$(cat "$TMP/err")" \
    '^created api key [0-9a-f-]{36} \(sk-aigw-\.\.\.[A-Za-z0-9_-]{4}\) for user t0300-alice group t0300-eng$'
K1=$(sed -nE 's/^created api key ([0-9a-f-]{36}) .*/\1/p' "$TMP/err")
is "create: key_hash is the SHA-256 of the secret" \
    "$(sql "SELECT encode(key_hash, 'hex') FROM api_keys WHERE id = '$K1'")" \
    "$(printf '%s' "$S1" | sha256sum | cut -d' ' -f1)"
is "create: key_hint masks the secret" \
    "$(sql "SELECT key_hint FROM api_keys WHERE id = '$K1'")" \
    "sk-aigw-...${S1: -4}"
is "create: the secret is stored nowhere" \
    "$(sql "SELECT count(*) FROM api_keys k WHERE strpos(k::text, '$S1') > 0")" 0
S2=$("$ADMIN" key create --user t0300-bob --group t0300-ops 2>/dev/null)
K2=$(sql "SELECT id FROM api_keys WHERE user_id = 't0300-bob'")
"$ADMIN" key create --user 't0300-carol "c"' --group t0300-eng >/dev/null 2>&1
K3=$(sql "SELECT id FROM api_keys WHERE user_id = 't0300-carol \"c\"'")
check "create: three keys" test -n "$K1" -a -n "$K2" -a -n "$K3" -a "$S1" != "$S2"
"$ADMIN" key create --user t0300-x >/dev/null 2>&1
is "create: --group missing is a usage error" $? 2
"$ADMIN" key create --user t0300-x --group "$(printf 'a\nb')" >/dev/null 2>&1
is "create: control characters are a usage error" $? 2

# --- key list
HASH1=$(printf '%s' "$S1" | sha256sum | cut -d' ' -f1)
"$ADMIN" key list >"$TMP/t"
like "list table: header" "$(head -n1 "$TMP/t")" \
    '^id +hint +name +user_id +group_id +created_at +revoked_at$'
like "list table: key row" "$(grep "$K1" "$TMP/t")" \
    "^$K1 +sk-aigw-\.\.\.[^ ]{4} +laptop, \"main\" +t0300-alice +t0300-eng +[0-9-]{10}T[0-9:]{8}Z$"
"$ADMIN" key list --format csv >"$TMP/c"
is "list csv: header" "$(head -n1 "$TMP/c")" \
    id,hint,name,user_id,group_id,created_at,revoked_at
like "list csv: RFC 4180 quoting, empty revoked_at" "$(grep "^$K1" "$TMP/c")" \
    "^$K1,sk-aigw-\.\.\.[^,]{4},\"laptop, \"\"main\"\"\",t0300-alice,t0300-eng,[0-9-]{10}T[0-9:]{8}Z,$"
like "list csv: quoted user id" "$(grep "^$K3" "$TMP/c")" ',"t0300-carol ""c""",'
"$ADMIN" key list --format json >"$TMP/j"
is "list json: fields" "$(jq -c ".[] | select(.id == \"$K1\") |
    [.name, .user_id, .group_id, .revoked_at]" "$TMP/j")" \
    '["laptop, \"main\"","t0300-alice","t0300-eng",null]'
check "list: never the hash" bash -c "! grep -qi '$HASH1' '$TMP/t' '$TMP/c' '$TMP/j'"
check "list: never the secret" bash -c "! grep -qF -- '$S1' '$TMP/t' '$TMP/c' '$TMP/j'"
"$ADMIN" key list --format xml >/dev/null 2>&1
is "list: bad --format is a usage error" $? 2

# --- key revoke
"$ADMIN" key revoke "$K2" 2>"$TMP/err"
is "revoke: exit 0" $? 0
like "revoke: stderr" "$(cat "$TMP/err")" "^revoked api key $K2 "
check "revoke: gone from the default list" \
    bash -c "! '$ADMIN' key list --format csv | grep -q '$K2'"
like "revoke: list --all shows revoked_at" \
    "$("$ADMIN" key list --all --format csv | grep "^$K2")" \
    ',t0300-bob,t0300-ops,[0-9-]{10}T[0-9:]{8}Z,[0-9-]{10}T[0-9:]{8}Z$'
"$ADMIN" key revoke "$K2" 2>"$TMP/err"
is "revoke again: exit 1" $? 1
like "revoke again: says so" "$(cat "$TMP/err")" 'already revoked'
"$ADMIN" key revoke 00000000-0000-4000-8000-000000000000 2>"$TMP/err"
is "revoke unknown key: exit 1" $? 1
like "revoke unknown key: says so" "$(cat "$TMP/err")" 'no api key'
"$ADMIN" key revoke "x'; DROP TABLE api_keys; --" 2>"$TMP/err"
is "revoke bad uuid: exit 2" $? 2
like "revoke bad uuid: names it" "$(cat "$TMP/err")" 'invalid API_KEY_ID'
"$ADMIN" key revoke >/dev/null 2>&1
is "revoke without id: exit 2" $? 2
"$ADMIN" --help >"$TMP/h"
is "admin --help: exit 0" $? 0
like "admin --help: usage on stdout" "$(head -n1 "$TMP/h")" '^usage: aigw-admin'
"$ADMIN" key frob >/dev/null 2>&1
is "admin unknown command: exit 2" $? 2

# --- usage rows: two boundaries on each side of January 2001 (UTC)
sql "SELECT aigw_ensure_usage_partitions('2000-12-01', 3)" >/dev/null
ev() {  # ev N TS KEY USER GROUP MODEL PROMPT COMPLETION [CACHED]
    printf '{"request_id":"01940000-0000-7000-8000-0000000003%02d","ts":"%s",' "$1" "$2"
    printf '"api_key_id":%s,"user_id":%s,"group_id":%s,' "$3" "$4" "$5"
    printf '"requested_model":%s,"served_model":%s,"http_status":200,' "$6" "$6"
    printf '"prompt_tokens":%s,"completion_tokens":%s,"total_tokens":%s,' \
        "$7" "$8" $(($7 + $8))
    printf '"cached_tokens":%s,"usage_source":"provider"}' "${9:-0}"
}
q() { printf '"%s"' "$1"; }
ALICE=$(q t0300-alice) BOB=$(q t0300-bob) ENG=$(q t0300-eng) OPS=$(q t0300-ops)
EVENTS="[$(ev 1 2001-01-01T00:00:00Z "$(q "$K1")" "$ALICE" "$ENG" '"gpt-4o"' 1000 500),
$(ev 2 2001-01-15T12:00:00Z "$(q "$K1")" "$ALICE" "$ENG" '"gpt-4o"' 1234 567 200),
$(ev 3 2001-01-31T23:59:59.999999Z "$(q "$K2")" "$BOB" "$OPS" '"gpt-4o-mini"' 7 3),
$(ev 4 2001-02-01T00:00:00Z "$(q "$K2")" "$BOB" "$OPS" '"gpt-4o-mini"' 100000 100000),
$(ev 5 2000-12-31T23:59:59.999999Z "$(q "$K2")" "$BOB" "$OPS" '"gpt-4o-mini"' 100000 100000),
$(ev 6 2001-01-10T00:00:00Z "$(q "$K3")" '"t0300-carol \"c\""' "$ENG" '"t0300-unpriced"' 11 22),
$(ev 7 2001-01-11T00:00:00Z null null null null 0 0),
$(ev 8 2001-01-20T00:00:00+05:00 "$(q "$K1")" "$ALICE" "$ENG" '"claude-sonnet-4-5"' 3 1)]"
is "usage: 8 events ingested" "$(sql "SELECT aigw_ingest_usage('$EVENTS'::jsonb)")" 8
sql "DELETE FROM api_keys WHERE id = '$K3'" >/dev/null   # a deleted key

JAN=(--from 2001-01-01 --to 2001-02-01)
"$REPORT" spend --by user "${JAN[@]}" --format csv >"$TMP/u.csv"
is "spend csv by user: exact output, totals row last" "$(cat "$TMP/u.csv")" \
'user_id,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd,unpriced_requests,cost_pusd
t0300-alice,3,2237,1068,3305,0.016029,0,16029000000
t0300-bob,1,7,3,10,0.000003,0,2850000
"t0300-carol ""c""",1,11,22,33,0.000000,1,0
,1,0,0,0,0.000000,1,0
TOTAL,6,2255,1093,3348,0.016032,2,16031850000'
is "spend csv --no-total: the rows alone" \
    "$("$REPORT" spend --by user "${JAN[@]}" --format csv --no-total)" \
    "$(sed '$d' "$TMP/u.csv")"

"$REPORT" spend --by api_key "${JAN[@]}" --format csv >"$TMP/k.csv"
is "spend csv by api_key: header" "$(head -n1 "$TMP/k.csv")" \
    api_key_id,user_id,group_id,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd,unpriced_requests,cost_pusd
is "spend csv by api_key: key row with its user and group" \
    "$(grep "^$K1" "$TMP/k.csv")" "$K1,t0300-alice,t0300-eng,3,2237,1068,3305,0.016029,0,16029000000"
is "spend csv by api_key: a deleted key has no user or group" \
    "$(grep "^$K3" "$TMP/k.csv")" "$K3,,,1,11,22,33,0.000000,1,0"
is "spend csv by api_key: no key sorts last, before the totals" \
    "$(tail -n2 "$TMP/k.csv")" ",,,1,0,0,0,0.000000,1,0
TOTAL,,,6,2255,1093,3348,0.016032,2,16031850000"
is "spend csv by api_key: keys ascending" \
    "$(sed 1d "$TMP/k.csv" | cut -d, -f1 | sed '$d' | sed '$d')" \
    "$(printf '%s\n' "$K1" "$K2" "$K3" | LC_ALL=C sort)"

is "spend csv by model: served else requested model, ascending" \
    "$("$REPORT" spend --by model "${JAN[@]}" --format csv | cut -d, -f1,2,6,7)" \
'model,requests,cost_usd,unpriced_requests
claude-sonnet-4-5,1,0.000024,0
gpt-4o,2,0.016005,0
gpt-4o-mini,1,0.000003,0
t0300-unpriced,1,0.000000,1
,1,0.000000,1
TOTAL,6,0.016032,2'

"$REPORT" spend --by group "${JAN[@]}" --format json >"$TMP/g.json"
is "spend json by group: typed rows, then the totals object" \
    "$(jq -c '[.[] | [.total, .group_id, .requests, .total_tokens,
    .unpriced_requests, .cost_pusd]]' "$TMP/g.json")" \
    '[[null,"t0300-eng",4,3338,1,16029000000],[null,"t0300-ops",1,10,0,2850000],[null,null,1,0,1,0],[true,null,6,3348,2,16031850000]]'
like "spend json: cost_usd is a number with 6 exact decimals" \
    "$(head -n2 "$TMP/g.json" | tail -n1)" '"cost_usd":0\.016029,'

# TOTAL lines and CSV column sums equal the SQL sums for the period.
sums() {
    sql "SELECT count(*), sum(prompt_tokens), sum(completion_tokens),
        sum(total_tokens), round(sum(cost_pusd) * 0.000000000001, 6),
        count(*) FILTER (WHERE cost_pusd IS NULL), sum(cost_pusd)
        FROM usage_events WHERE ts >= '$1' AND ts < '$2'" | tr '|' ' '
}
JANSUM=$(sums 2001-01-01 2001-02-01)
is "sql sums for January" "$JANSUM" "6 2255 1093 3348 0.016032 2 16031850000"
for by in api_key user group model; do
    "$REPORT" spend --by $by "${JAN[@]}" >"$TMP/t"
    is "spend table by $by: TOTAL equals SQL sums" \
        "$(awk '$1 == "TOTAL" { $1 = ""; print substr($0, 2) }' "$TMP/t")" \
        "$JANSUM"
    is "spend csv by $by: column sums equal SQL sums" \
        "$("$REPORT" spend --by $by "${JAN[@]}" --format csv | awk -F, '
            NR == 1 { k = NF - 7; next }
            $1 == "TOTAL" { next }
            { for (i = 1; i <= 7; i++) s[i] += $(k + i) }
            END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", s[1], s[2], s[3], s[4], s[6], s[7] }')" \
        "$(echo "$JANSUM" | awk '{ print $1, $2, $3, $4, $6, $7 }')"
    is "spend csv by $by: totals row equals SQL sums" \
        "$("$REPORT" spend --by $by "${JAN[@]}" --format csv | tail -n1 |
            awk -F, '{ k = NF - 7; print $(k+1), $(k+2), $(k+3), $(k+4), $(k+5), $(k+6), $(k+7) }')" \
        "$JANSUM"
done

# Half-open [from, to): the instant `from` is in, the instant `to` is out.
total() {  # total ARGS...: the TOTAL line's requests and cost
    "$REPORT" spend --by user "$@" | awk '$1 == "TOTAL" { print $2, $6 }'
}
is "period: from is inclusive" \
    "$(total --from 2001-01-01T00:00:00.000001Z --to 2001-02-01)" "5 0.008532"
is "period: to is exclusive" \
    "$(total --from 2001-01-01 --to 2001-01-31T23:59:59.999999Z)" "5 0.016029"
is "period: the last microsecond is in" \
    "$(total --from 2001-01-31T23:59:59.999999Z --to 2001-02-01)" "1 0.000003"
is "period: offsets are honoured" \
    "$(total --from 2001-01-01T05:00:00+05:00 --to '2001-01-31 19:00:00-05:00')" \
    "6 0.016032"
is "period: December to February" \
    "$(total --from 2000-12-01 --to 2001-03-01)" \
    "$(sums 2000-12-01 2001-03-01 | awk '{ print $1, $5 }')"
"$REPORT" spend --by user --from 2031-01-01 --to 2031-02-01 --format json >"$TMP/e"
is "empty period: json, only a zero totals object" "$(tr -d "\n" <"$TMP/e")" \
    '[{"total":true,"user_id":null,"requests":0,"prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"cost_usd":0.000000,"unpriced_requests":0,"cost_pusd":0}]'
is "empty period: json --no-total is []" \
    "$("$REPORT" spend --by user --from 2031-01-01 --to 2031-02-01 --format json --no-total)" "[]"
is "empty period: table TOTAL is zero" \
    "$(total --from 2031-01-01 --to 2031-02-01)" "0 0.000000"

# --- usage errors (exit 2, message naming the value) and DB errors (1)
"$REPORT" spend --by team "${JAN[@]}" 2>"$TMP/err" >/dev/null
is "bad --by: exit 2" $? 2
like "bad --by: named" "$(cat "$TMP/err")" "'team'"
"$REPORT" spend --by user --from 2001-02-30 --to 2001-03-01 2>"$TMP/err"
is "bad date: exit 2" $? 2
like "bad date: named" "$(cat "$TMP/err")" "--from value '2001-02-30'"
"$REPORT" spend --by user --from 2001-02-01 --to 2001-02-01 2>"$TMP/err"
is "from = to: exit 2" $? 2
"$REPORT" spend --by user --from 2001-01-01T01:00:00Z \
    --to 2001-01-01T01:30:00+01:00 2>/dev/null
is "from after to (other zone): exit 2" $? 2
"$REPORT" spend --by user "${JAN[@]}" --format xml 2>/dev/null
is "bad --format: exit 2" $? 2
"$REPORT" spend --by user --from 2001-01-01 2>/dev/null
is "missing --to: exit 2" $? 2
"$REPORT" spend --help | grep -q '^usage: aigw-report'
is "spend --help: usage on stdout" $? 0
PW=t0300-CANARY-pw
"$REPORT" --db "host=/nonexistent port=1 password=$PW" spend --by user \
    "${JAN[@]}" 2>"$TMP/err"
is "unreachable database: exit 1" $? 1
check "unreachable database: password not echoed" \
    bash -c "grep -q 'cannot connect' '$TMP/err' && ! grep -q '$PW' '$TMP/err'"
"$ADMIN" --db "postgresql://u:$PW@[::1" key list 2>"$TMP/err"
is "malformed connection URI: exit 2" $? 2
check "malformed connection URI: password not echoed" \
    bash -c "grep -q 'invalid connection string' '$TMP/err' && ! grep -q '$PW' '$TMP/err'"
"$REPORT" --db "port=$PGPORT host=$PGHOST dbname=aigw user=aigw" spend \
    --by user "${JAN[@]}" --format csv >"$TMP/db.csv"
is "--db conninfo works like the environment" "$(cat "$TMP/db.csv")" \
    "$(cat "$TMP/u.csv")"

cleanup
done_testing
