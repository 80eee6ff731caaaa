#!/usr/bin/env bash
# Routing (issue 7): the seed labs' three ways to pick a model (a path per
# model, a header on a fixed path, a query parameter), regex paths, hosts,
# methods, precedence, aliases and virtualized model names, transforms
# seen at the mock, direct responses.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key rita routing-g route)
# rpost PATH BODY [curl args]: "<status> <request id>" then the body in $TMP/b
rpost() {
    local path=$1 body=$2; shift 2
    curl -sS -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' -X POST "$GW$path" \
        -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        --data-binary "$body" "$@"
    printf ' %s\n' "$(grep -i '^x-request-id:' "$TMP/h" | tr -d '\r' | cut -d' ' -f2)"
}
row() { wait_sql "SELECT count(*) FROM usage_events WHERE request_id='$1'" 1 >/dev/null; sql "SELECT route||'|'||backend||'|'||requested_model||'|'||coalesce(served_model,'') FROM usage_events WHERE request_id='$1'"; }
last() { curl -s "$MOCK/__last"; }

# --- lab 1: a path per model (exact path, the route forces the model)
read -r st rid < <(rpost /lab/openai/gpt-4o-mini "$(chat whatever hi)")
is "path per model: 200" "$st" 200
like "path per model: the mock was asked for gpt-4o-mini" "$(last)" '\\"model\\":\\"gpt-4o-mini\\"'
is "path per model: ledger" "$(row "$rid" 'lab-path|mock|gpt-4o-mini|gpt-4o-mini')" 'lab-path|mock|gpt-4o-mini|gpt-4o-mini'
read -r st _ < <(rpost /lab/openai/gpt-4o-mini/extra "$(chat whatever hi)")
is "exact path: a longer path does not match it" "$st" 404

# regex path
read -r st rid < <(rpost /lab/re/team-a/v1/chat/completions "$(chat mock-gpt hi)")
is "regex path: 200" "$st" 200
is "regex path: its route" "$(row "$rid" 'lab-path-re|mock|mock-gpt|mock-gpt')" 'lab-path-re|mock|mock-gpt|mock-gpt'
read -r st _ < <(rpost /lab/re/Team_A/v1/chat/completions "$(chat mock-gpt hi)")
is "regex path: no match -> 404" "$st" 404

# --- lab 2: a fixed path, the x-model header decides
read -r st rid < <(rpost /lab/hdr/v1/chat/completions "$(chat whatever hi)" -H 'x-model: gpt-4o-mini')
is "header x-model=gpt-4o-mini: 200" "$st" 200
is "header exact match: mock backend, model from the header" "$(row "$rid" 'lab-hdr-mini|mock|gpt-4o-mini|gpt-4o-mini')" 'lab-hdr-mini|mock|gpt-4o-mini|gpt-4o-mini'
read -r st rid < <(rpost /lab/hdr/v1/chat/completions "$(chat whatever hi)" -H 'x-model: claude-haiku-4-5')
is "header regex ^claude-: 200" "$st" 200
is "header regex: the anthropic backend" "$(row "$rid" 'lab-hdr-claude|anthropic|claude-haiku-4-5' | cut -d'|' -f1-3)" 'lab-hdr-claude|anthropic|claude-haiku-4-5'
read -r st rid < <(rpost /lab/hdr/v1/chat/completions "$(chat whatever hi)" -H 'x-model: gpt-4o-mini' -H 'x-debug: 1')
is "header present + exact: the more specific route wins" "$(row "$rid" 'lab-hdr-debug|mock|mock-nousage|mock-nousage')" 'lab-hdr-debug|mock|mock-nousage|mock-nousage'
read -r st _ < <(rpost /lab/hdr/v1/chat/completions "$(chat whatever hi)")
is "no header: the catch-all direct route answers 400" "$st" 400
like "no header: its body" "$(cat "$TMP/b")" '"code":"x_model_required"'

# --- lab 3: a fixed path, ?model= decides
read -r st rid < <(rpost '/lab/q/v1/chat/completions?model=gpt-4o-mini' "$(chat whatever hi)")
is "query model=gpt-4o-mini: 200" "$st" 200
is "query: mock backend, model from the query" "$(row "$rid" 'lab-q-mini|mock|gpt-4o-mini|gpt-4o-mini')" 'lab-q-mini|mock|gpt-4o-mini|gpt-4o-mini'
read -r st rid < <(rpost '/lab/q/v1/chat/completions?x=1&model=claude-sonnet-4-5' "$(chat whatever hi)")
is "query regex: 200" "$st" 200
is "query regex: anthropic backend" "$(row "$rid" x | cut -d'|' -f1-3)" 'lab-q-claude|anthropic|claude-sonnet-4-5'
read -r st _ < <(rpost '/lab/q/v1/chat/completions?model=nope' "$(chat whatever hi)")
is "query without a matching route: 404" "$st" 404

# --- host and method
read -r st rid < <(rpost /v1/chat/completions "$(chat mock-gpt hi)" -H 'Host: api.tenant.test')
is "host *.tenant.test: its route beats the plain /v1 route" "$(row "$rid" 'lab-host|mock|mock-nousage|mock-nousage')" 'lab-host|mock|mock-nousage|mock-nousage'
read -r st rid < <(rpost /v1/chat/completions "$(chat mock-gpt hi)" -H 'Host: tenant.test.evil')
is "another host: the default route" "$(row "$rid" 'default|mock|mock-gpt|mock-gpt')" 'default|mock|mock-gpt|mock-gpt'
is "GET /lab/status: direct 200" "$(curl -s -o "$TMP/s" -w '%{http_code}' "$GW/lab/status")" 200
is "direct body" "$(cat "$TMP/s")" '{"status":"up"}'
is "POST /lab/status: the GET-only route does not match" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{}' "$GW/lab/status")" 404
curl -s -D "$TMP/mh" -o "$TMP/m" "$GW/lab/maint/anything"
like "direct 503 with its headers" "$(cat "$TMP/mh")" '^HTTP/1.1 503'
like "direct: Retry-After header" "$(cat "$TMP/mh")" 'Retry-After: 120'
is "direct: body and no backend call" "$(cat "$TMP/m")" "down for maintenance"

# --- aliases and virtualization
read -r st rid < <(rpost /virt/v1/chat/completions "$(chat gpt-4 hi)")
is "alias gpt-4: 200" "$st" 200
like "report_model=requested: the reply says gpt-4" "$(cat "$TMP/b")" '"model":"gpt-4"'
is "ledger: requested gpt-4, served mock-gpt" "$(row "$rid" 'virt|mock|gpt-4|mock-gpt')" 'virt|mock|gpt-4|mock-gpt'
like "the mock was asked for mock-gpt" "$(last)" '\\"model\\":\\"mock-gpt\\"'
read -r st rid < <(rpost /v1/chat/completions "$(chat gpt-4 hi)")
like "default report_model=served: the reply says mock-gpt" "$(cat "$TMP/b")" '"model":"mock-gpt"'
curl -sN -o "$TMP/sse" "$GW/virt/v1/chat/completions" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$(chat gpt-4 hi ',"stream":true')"
is "stream: every chunk names gpt-4" "$(grep -c '"model":"gpt-4"' "$TMP/sse")" "$(grep -c '"model"' "$TMP/sse")"
like "stream: chunks were relayed" "$(grep -c '^data: {' "$TMP/sse")" '^[1-9]'
read -r st rid < <(rpost /v1/chat/completions "$(chat fast hi)")
is "group fast: its first candidate" "$(row "$rid" 'default|mock|fast|mock-nousage')" 'default|mock|fast|mock-nousage'

# --- GET /models: the route's models, then its aliases and groups, once
M=$(curl -s "$GW/v1/models" -H "Authorization: Bearer $KEY")
is "models: real models, then aliases served on this route" "$(jq -c '[.data[].id]' <<<"$M")" '["mock-gpt","gpt-4o-mini","unpriced-model","gpt-4","fast"]'
is "models: no duplicates" "$(jq '[.data[].id] | length == (unique | length)' <<<"$M")" true
is "models: an alias is owned by aigw" "$(jq -r '.data[] | select(.id == "gpt-4") | .owned_by' <<<"$M")" aigw
M=$(curl -s "$GW/failover/v1/models" -H "Authorization: Bearer $KEY")
like "models: the failover route lists gpt-5" "$(jq -c '[.data[].id]' <<<"$M")" '"gpt-5"'
check "models: an alias whose backends are not on the route is left out" bash -c "! jq -e '.data[] | select(.id == \"gpt-4\")' <<<'$M' >/dev/null"

# --- transforms, seen at the mock
read -r st rid < <(rpost /xform/v1/chat/completions '{"model":"mock-gpt","max_tokens":500,"logit_bias":{"1":2},"messages":[{"role":"user","content":"hi"}]}')
is "transform: 200" "$st" 200
L=$(last)
like "response header set by the route" "$(cat "$TMP/h")" 'X-Served-By: aigw-xform'
like "header set from identity: x-user-id" "$L" '"x-user-id":"rita"'
like "header set from identity: x-group-id" "$L" '"x-group-id":"routing-g"'
like "header template: route" "$L" '"x-route":"xform"'
check "header removed: accept" bash -c "! grep -q '\"accept\"' <<<'$L'"
check "provider key still sent" grep -q 'Bearer sk-provider-CANARY' <<<"$L"
B=$(printf '%s' "$L" | jq -r .body)
is "max_tokens capped" "$(jq -c .max_tokens <<<"$B")" 100
is "temperature set" "$(jq -c .temperature <<<"$B")" 0.2
is "top_p defaulted" "$(jq -c .top_p <<<"$B")" 0.9
is "logit_bias removed" "$(jq -c .logit_bias <<<"$B")" null
is "user forced" "$(jq -r .user <<<"$B")" rita
is "prompt: system prepended, user appended" "$(jq -c '[.messages[].content]' <<<"$B")" '["Be kind to rita.","hi","Answer briefly."]'
read -r st _ < <(rpost /xform/v1/chat/completions '{"model":"mock-gpt","temperature":1.5,"messages":[{"role":"user","content":"x"}],"top_p":0.5}')
B=$(last | jq -r .body)
is "override beats the client's value" "$(jq -c .temperature <<<"$B")" 0.2
is "a default leaves the client's value" "$(jq -c .top_p <<<"$B")" 0.5

# --- transforms from JWT claims ({{claim.PATH}}), a response header removed
node "$ROOT/tests/mock/jwt-mint.mjs" "$VAR/jwt-keys" >"$TMP/tok.json" <<'JSON'
[{"name":"t", "key":"rsa1", "claims":{"email":"dana@example.test",
  "preferred_username":"dana", "groups":["eng","ops"], "org":{"tenant":"acme"}}}]
JSON
curl -s -X POST "$PMOCK/jwks/set" --data-binary @"$VAR/jwt-keys/jwks1.json" >/dev/null
curl -sS -D "$TMP/h" -o "$TMP/b" -X POST "$GW/xform-jwt/v1/chat/completions" \
    -H "Authorization: Bearer $(jq -r .t "$TMP/tok.json")" \
    -H 'Content-Type: application/json' --data-binary "$(chat mock-gpt hi)"
like "claims route: 200" "$(head -n 1 "$TMP/h")" ' 200'
L=$(last)
like "header from a claim: email" "$L" '"x-user-email":"dana@example.test"'
like "header from a nested claim: org.tenant" "$L" '"x-tenant":"acme"'
like "header from an array claim: joined" "$L" '"x-groups":"eng,ops"'
like "a missing claim expands to nothing" "$L" '"x-missing":"\[\]"'
is "prompt template with a claim" "$(printf '%s' "$L" | jq -r .body | jq -r '.messages[0].content')" 'Tenant acme, user dana.'
check "response header removed: X-Request-Id" bash -c "! grep -qi '^x-request-id:' '$TMP/h'"
like "the route's own header still set" "$(cat "$TMP/h")" 'X-Served-By: aigw-claims'
like "content type kept" "$(cat "$TMP/h")" 'Content-Type: application/json'
read -r st _ < <(rpost /xform-jwt/v1/chat/completions "$(chat mock-gpt hi)")
is "an API key on the JWT route: 401" "$st" 401
done_testing
