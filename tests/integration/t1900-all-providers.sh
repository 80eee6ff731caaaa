#!/usr/bin/env bash
# The same OpenAI SDK script against every provider kind, by model name on
# one path (/any/v1), then the ledger against what each mock billed.
. "$(dirname "$0")/lib.sh"
cd "$ROOT/tests/client"
[ -d node_modules/openai ] || npm install --no-audit --no-fund --silent >/dev/null 2>&1
KEY=$(new_key zoe eng allproviders)
KID=$(sql "SELECT id FROM api_keys WHERE key_hash = sha256('$KEY'::bytea)")
# provider kind -> mock prefix and a model it serves
PAIRS="openai:gpt-4.1-mini compat:llama3.1:8b ${ALL_PROVIDERS_EXTRA:-}"
for kind in anthropic bedrock azure gemini vertex; do
    f=$ROOT/tests/mock/providers/$kind.mjs
    [ -f "$f" ] || continue
    case $kind in
    anthropic) PAIRS="$PAIRS anthropic:claude-sonnet-4-5" ;;
    bedrock) PAIRS="$PAIRS bedrock:anthropic.claude-3-haiku-20240307-v1:0" ;;
    azure) PAIRS="$PAIRS azure:gpt-4o" ;;
    gemini) PAIRS="$PAIRS gemini:gemini-2.5-flash" ;;
    vertex) PAIRS="$PAIRS vertex:gemini-2.0-flash-001" ;;
    esac
done
models=()
for p in $PAIRS; do
    curl -s -X POST "$PMOCK/${p%%:*}/__reset" >/dev/null
    models+=("${p#*:}")
done
node sdk-all.mjs "$GW/any/v1" "$KEY" "${models[@]}"
for p in $PAIRS; do
    kind=${p%%:*} model=${p#*:}
    billed=$(curl -s "$PMOCK/$kind/__stats" | jq -r '"\(.prompt_tokens)/\(.completion_tokens)"')
    got=$(wait_sql "SELECT coalesce(sum(prompt_tokens),0) || '/' || coalesce(sum(completion_tokens),0)
        FROM usage_events WHERE api_key_id = '$KID' AND requested_model = '$model'" "$billed" 50)
    is "$kind: ledger tokens equal what the provider billed" "$got" "$billed"
    is "$kind: one ledger row per request (5)" \
        "$(sql "SELECT count(*) = 5 FROM usage_events WHERE api_key_id = '$KID' AND requested_model = '$model' AND http_status = 200")" t
done
done_testing
