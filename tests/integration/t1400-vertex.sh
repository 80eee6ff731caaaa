#!/usr/bin/env bash
# Vertex AI (Gemini models) through the real stack: a service-account JWT
# exchanged at the mock's token endpoint (tests/mock/providers/vertex.mjs
# verifies its RS256 signature), the access token cached and shared,
# refreshed, dropped on a 401, and a 502 when none can be had.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key vera eng vertex)
R=/vertex/v1
M=gemini-2.0-flash-001
PROCS=${GW_PROCS:-2}
CREDS=$VAR/credentials/vertex-sa.json

last() { curl -s "$PMOCK/vertex/__last"; }
sent() { last | jq -c ".body | fromjson | $1"; }
tokens() { curl -s "$PMOCK/vertex/__tokens" | jq -r ".$1"; }
mode() { curl -s -X POST "$PMOCK/vertex/__token_mode" -d "$1" >/dev/null; }
stats() { curl -s "$PMOCK/vertex/__stats" | jq -r '"\(.prompt_tokens) \(.completion_tokens)"'; }
call() {
    local b=$1; shift
    curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X POST \
        "$GW$R/chat/completions" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' --data-binary "$b" "$@" >"$TMP/st"
    cat "$TMP/st"
}
rid() { grep -i '^x-request-id' "$TMP/h" | tr -d '\r' | awk '{print $2}'; }
row() { wait_sql "SELECT $1 FROM usage_events WHERE request_id = '$2'" "$3"; }
sdk_tap() {
    local l
    while IFS= read -r l; do
        case $l in
        "ok "*) ok "${l#ok * - }" ;;
        "not ok "*) not_ok "${l#not ok * - }" ;;
        "#"*) echo "$l" ;;
        esac
    done <"$TMP/sdk"
}
# settles "CODES" FINAL: each process answers 401 at most once (its
# cached token was revoked), every other answer is FINAL, the last too
settles() {
    local c n401=0 last=
    for c in $1; do
        case $c in
        401) n401=$((n401 + 1)) ;;
        "$2") ;;
        *) return 1 ;;
        esac
        last=$c
    done
    [ "$n401" -le "$PROCS" ] && [ "$last" = "$2" ]
}
mode '{}'

# --- chat ----------------------------------------------------------------
read -r p0 c0 <<<"$(stats)"
is "non-stream: 200" "$(call '{"model":"'$M'","messages":[{"role":"system","content":"Be terse."},
    {"role":"user","content":"hi"}],"temperature":0.5,"max_tokens":32}')" 200
is "non-stream: content" "$(jq -r '.choices[0].message.content' "$TMP/b")" "Hello from vertex!"
is "upstream path: publisher model generateContent" "$(last | jq -r .path)" \
    "/vertex/v1/projects/aigw-test/locations/us-central1/publishers/google/models/$M:generateContent"
like "upstream: a bearer token from the token endpoint" "$(last | jq -r .headers.authorization)" '^Bearer ya29\.mock-'
is "upstream: no API key header" "$(last | jq -r '.headers["x-goog-api-key"] // "none"')" none
check "client key absent from the upstream request" \
    bash -c "! grep -qF -- '$KEY' <<<'$(last | jq -c .)'"
is "system + config translated" "$(sent '[.systemInstruction, .generationConfig]')" \
    '[{"parts":[{"text":"Be terse."}]},{"maxOutputTokens":32,"temperature":0.5}]'
read -r p1 c1 <<<"$(stats)"
is "ledger row = billed" "$(row "prompt_tokens || ' ' || completion_tokens || ' ' || provider || ' ' || usage_source" "$(rid)" \
    "$((p1 - p0)) $((c1 - c0)) vertex provider")" "$((p1 - p0)) $((c1 - c0)) vertex provider"

call "$(chat $M hi ',"stream":true,"stream_options":{"include_usage":true}')" -N >/dev/null
is "stream: upstream alt=sse" "$(last | jq -r .path)" \
    "/vertex/v1/projects/aigw-test/locations/us-central1/publishers/google/models/$M:streamGenerateContent?alt=sse"
is "stream: deltas" "$(grep '^data: {' "$TMP/b" | sed 's/^data: //' |
    jq -r '.choices[0].delta.content // empty' | grep -v '^$' | tr '\n' '|')" "Hello| from vertex|!|"
is "stream: usage chunk when asked" "$(grep -c '"choices":\[\]' "$TMP/b")" 1
is "stream: [DONE]" "$(grep '^data:' "$TMP/b" | tail -n1)" "data: [DONE]"

# --- embeddings: text-embedding models at :predict -----------------------
st=$(curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' "$GW$R/embeddings" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"model":"text-embedding-005","input":["hello there","second text"],"dimensions":4}')
is "embeddings: 200" "$st" 200
is "embeddings: :predict upstream" "$(last | jq -r .path | sed 's/.*://')" predict
is "embeddings: instances and dimensions sent" \
    "$(sent '[.instances[].content, .parameters.outputDimensionality]')" '["hello there","second text",4]'
is "embeddings: two vectors of 4" "$(jq -c '[.data[].embedding | length]' "$TMP/b")" '[4,4]'
is "embeddings: OpenAI list shape" "$(jq -r '.object + "/" + .data[1].object + "/" + (.data[1].index|tostring)' "$TMP/b")" list/embedding/1
eid=$(rid)
is "embeddings: token count in the ledger" "$(row "prompt_tokens" "$eid" 6)" 6
is "embeddings: usage in the reply" "$(jq -r .usage.prompt_tokens "$TMP/b")" 6

# --- Claude on Vertex AI: Anthropic's publisher, Messages dialect ---------
C=claude-opus-4-1@20250805
is "claude on vertex: 200" "$(call "$(chat $C hi ',"max_tokens":64')")" 200
is "claude on vertex: rawPredict under publishers/anthropic" "$(last | jq -r .path)" \
    "/vertex/v1/projects/aigw-test/locations/us-central1/publishers/anthropic/models/$C:rawPredict"
is "claude on vertex: anthropic_version in the body, no model" \
    "$(sent '[.anthropic_version, has("model"), .max_tokens]')" '["vertex-2023-10-16",false,64]'
like "claude on vertex: bearer token, no API key" "$(last | jq -r '.headers.authorization + " " + (.headers["x-api-key"] // "none")')" \
    '^Bearer ya29\.mock-.* none$'
is "claude on vertex: text" "$(jq -r .choices[0].message.content "$TMP/b")" "Hello from anthropic!"
cid=$(rid)
is "claude on vertex: ledger row priced by its model" \
    "$(row "backend || '/' || (prompt_tokens > 0) || '/' || (completion_tokens > 0)" "$cid" "vertex/true/true")" \
    "vertex/true/true"
call "$(chat $C hi ',"stream":true')" -N >/dev/null
is "claude on vertex: streamRawPredict" "$(last | jq -r .path | sed 's/.*://')" streamRawPredict
is "claude on vertex: streamed deltas" "$(grep '^data: {' "$TMP/b" | sed 's/^data: //' |
    jq -r '.choices[0].delta.content // empty' | grep -v '^$' | tr '\n' '|')" "Hello| from anthropic|!|"
is "claude on vertex: stream ends with [DONE]" "$(grep '^data:' "$TMP/b" | tail -n1)" "data: [DONE]"
is "429: status and Google's status code" "$(call "$(chat vertex-error-429)")/$(jq -r .error.code "$TMP/b")" \
    "429/RESOURCE_EXHAUSTED"
like "429: Retry-After passed on" "$(tr -d '\r' <"$TMP/h")" '^Retry-After: 7$'

# --- the token is fetched once per worker process and reused ------------
i0=$(tokens issued)
for i in $(seq 10); do call "$(chat $M "n$i")" >/dev/null; done
i1=$(tokens issued)
check "10 requests: at most one new token per process ($((i1 - i0)) <= $PROCS)" \
    test $((i1 - i0)) -le "$PROCS"

# --- a revoked token: the 401 passes, the gateway drops the token -------
mode '{"expires_in":6}'
curl -s -X POST "$PMOCK/vertex/__revoke" >/dev/null
codes=""
for i in $(seq 6); do codes="$codes $(call "$(chat $M "r$i")")"; done
check "after revocation: at most one 401 per process, then 200s ($codes)" \
    settles "$codes" 200
# tokens of 6 s are refreshed at half-life: after 3.2 s every process
# fetches a new one before using it
i0=$(tokens issued)
sleep 3.2
codes=""
for i in $(seq 4); do codes="$codes $(call "$(chat $M "e$i")")"; done
is "short-lived tokens: requests go on" "$codes" " 200 200 200 200"
i1=$(tokens issued)
check "short-lived tokens: refreshed before expiry ($i0 -> $i1)" test "$i1" -gt "$i0"

# --- the token endpoint fails: 502 upstream_auth_failed -----------------
mode '{"fail":503}'
curl -s -X POST "$PMOCK/vertex/__revoke" >/dev/null
codes=""
for i in $(seq 6); do
    c=$(call "$(chat $M "f$i")")
    codes="$codes $c"
    [ "$c" = 502 ] && cp "$TMP/b" "$TMP/b502" && cp "$TMP/h" "$TMP/h502"
done
check "token endpoint down: 502s after at most one 401 per process ($codes)" \
    settles "$codes" 502
is "502: code upstream_auth_failed" "$(jq -r .error.code "$TMP/b502" 2>/dev/null)" upstream_auth_failed
like "502: the reason" "$(jq -r .error.message "$TMP/b502" 2>/dev/null)" \
    'could not obtain a Google access token.*HTTP 503'
rid502=$(grep -i '^x-request-id' "$TMP/h502" | tr -d '\r' | awk '{print $2}')
is "502: ledger row" "$(row "http_status || ' ' || error_type" "$rid502" "502 upstream_auth_failed")" \
    "502 upstream_auth_failed"
mode '{}'
sleep 1.1    # the gateway does not retry a failed endpoint for 1 s
is "token endpoint back: 200" "$(call "$(chat $M back)")" 200

# --- the official SDK ----------------------------------------------------
cd "$ROOT/tests/client"
if [ ! -d node_modules/openai ]; then
    npm install --no-audit --no-fund --silent >/dev/null 2>&1 ||
        not_ok "npm install of the openai client"
fi
node sdk-gemini.mjs "$GW$R" "$KEY" "$M" vertex vertex-error-429 >"$TMP/sdk" 2>&1
sdk_rc=$?
sdk_tap
is "official openai SDK: exit status" "$sdk_rc" 0
cd "$ROOT"

# --- start-up checks of the credentials ---------------------------------
checkcfg() {   # checkcfg CREDENTIALS_PATH: aigw-fcgi --check's output
    sed "s|\${AIGW_TEST_CREDENTIALS}/vertex-sa.json|$1|" \
        "$ROOT/tests/integration/aigw-test.json" >"$TMP/cfg.json"
    local out rc
    out=$(AIGW_SPOOL_DIR=$VAR/spool AIGW_UPSTREAM_URL=$MOCK/v1 \
          AIGW_PMOCK_URL=$PMOCK AIGW_TEST_PROVIDER_KEY=x \
          "$ROOT/fcgi/aigw-fcgi" --check --config "$TMP/cfg.json" 2>&1)
    rc=$?
    echo "$out rc=$rc" | tr '\n' ' '
}
like "start-up: the test key file loads" "$(checkcfg "$CREDS")" 'ok .*rc=0'
like "start-up: missing key file stops it" "$(checkcfg /nonexistent/sa.json)" \
    'credentials_file /nonexistent/sa.json: No such file.*rc=1'
echo '{"type":"authorized_user","client_id":"x"}' >"$TMP/user.json"
like "start-up: not a service account stops it" "$(checkcfg "$TMP/user.json")" \
    'not a service-account key.*rc=1'

# --- secrets stay secret -------------------------------------------------
keyline=$(jq -r .private_key "$CREDS" | sed -n 2p)
check "private key never in the logs" bash -c "! grep -qF -- '$keyline' '$GWLOG' '$ERRLOG'"
check "access tokens never in the logs" bash -c "! grep -qF 'ya29.' '$GWLOG' '$ERRLOG'"
done_testing
