#!/usr/bin/env bash
# aigw-fcgi --check-config (issue 7): JSON syntax errors name line:column
# and show the line with a caret; semantic errors name the JSON path;
# a good file passes with exit 0, a bad one exits 1.
. "$(dirname "$0")/lib.sh"

BIN=$ROOT/fcgi/aigw-fcgi
cat >"$TMP/good.json" <<'JSON'
// comments are allowed
{
    "database": { "conninfo": "dbname=aigw" },
    "backends": [ { "name": "a", "base_url": "http://127.0.0.1:9/v1" },
                  { "name": "b", "base_url": "http://127.0.0.1:9/v1" } ],
    "routing": { "aliases": { "fast": [ { "backend": "b", "model": "m" } ] } },
    "routes": [
        { "name": "one", "prefix": "/v1", "backend": "a" },
        { "name": "two", "prefix": "/two", "backends": ["a", "b"] }
    ]
}
/* a trailing comment */
JSON
out=$("$BIN" --check-config "$TMP/good.json" 2>&1); rc=$?
is "a good file: exit 0" "$rc" 0
like "a good file: ok with counts" "$out" 'good.json: ok \(2 backends, 2 routes\)'

# check NAME SED-EXPR: the good file edited, checked; output in $out
bad() {
    sed "$2" "$TMP/good.json" >"$TMP/$1.json"
    out=$("$BIN" --check-config "$TMP/$1.json" 2>&1); rc=$?
}
bad comma 's/"backend": "a" }/"backend": "a",, }/'
is "syntax error: exit 1" "$rc" 1
like "syntax error: file:line:column" "$out" 'comma.json:8:58: '
like "syntax error: the offending line is shown" "$out" '"name": "one", "prefix": "/v1", "backend": "a",, \},'
is "syntax error: a caret under the column" \
    "$(printf '%s\n' "$out" | sed -n 3p)" "  $(printf '%57s' '')^"
bad unclosed '/^}$/d'
like "unclosed file: where the data ended" "$out" 'unclosed.json:[0-9]+:[0-9]+: unexpected end of data'
bad garbage '$a trailing'
like "text after the object: its place" "$out" 'garbage.json:13:1: text after the top-level object'
bad backend 's/"backends": \["a", "b"\]/"backends": ["a", "x"]/'
is "unknown backend: exit 1" "$rc" 1
like "unknown backend: its JSON path and name" "$out" 'backend.json: routes\[1\]\.backends\[1\]: unknown backend "x"'
bad one 's/"backend": "a" }/"backend": "nope" }/'
like "unknown single backend: its JSON path" "$out" 'routes\[0\]\.backend: unknown backend "nope"'
bad alias 's/"backend": "b", "model"/"backend": "zz", "model"/'
like "unknown backend in an alias: its JSON path" "$out" 'routing\.aliases\.fast\[0\]\.backend: unknown backend "zz"'
bad circuit 's/"name": "a", "base_url"/"name": "a", "circuit": {"error_rate_pct": 150}, "base_url"/'
like "circuit setting out of range: named" "$out" 'error_rate_pct: must be between 0 and 100'
bad prefix 's|"prefix": "/two"|"prefix": "two"|'
like "a route setting: its JSON path" "$out" 'routes\[1\]'
like "--help mentions --check-config" "$("$BIN" --help)" '--check-config FILE'
done_testing
