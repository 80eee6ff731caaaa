#!/usr/bin/env bash
# POST /v1/embeddings to an OpenAI-dialect backend: relayed, validated,
# tokens in the ledger.
. "$(dirname "$0")/lib.sh"

KEY=$(new_key judy eng embed)
r=$(post /v1/embeddings "$KEY" '{"model":"mock-gpt","input":["hello","world"]}')
is "embeddings: 200" "$(echo "$r" | status_of)" 200
b=$(echo "$r" | body_of)
is "embeddings: list of vectors" "$(echo "$b" | jq -r '.object + "/" + .data[0].object')" list/embedding
is "embeddings: upstream path" "$(curl -s "$MOCK/__last" | jq -r .path)" /v1/embeddings
rid=$(grep -h '"path":"/v1/embeddings"' "$GWLOG" | tail -n1 | jq -r .request_id)
is "embeddings: tokens in the ledger" \
    "$(wait_sql "SELECT prompt_tokens > 0 AND completion_tokens = 0 FROM usage_events WHERE request_id = '$rid'" t)" t
r=$(post /v1/embeddings "$KEY" '{"model":"mock-gpt"}')
is "embeddings without input: 400" "$(echo "$r" | status_of)" 400
r=$(post /v1/embeddings "$KEY" '{"model":"mock-gpt","input":[{"a":1}]}')
is "embeddings with bad input items: 400" "$(echo "$r" | status_of)" 400
done_testing
