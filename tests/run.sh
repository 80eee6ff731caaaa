#!/usr/bin/env bash
# `make run`: the whole stack on this machine until Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export VAR=${VAR:-$ROOT/var} GW_PORT=${GW_PORT:-8080} MOCK_PORT=${MOCK_PORT:-8099}
export PG_PORT=${PG_PORT:-54329}
S="bash $ROOT/tests/stack.sh"

if [ -n "${OPENAI_API_KEY:-}" ]; then
    export AIGW_UPSTREAM_URL=${AIGW_UPSTREAM_URL:-https://api.openai.com/v1}
    echo "aigw: OPENAI_API_KEY is set: routing to $AIGW_UPSTREAM_URL"
else
    export AIGW_UPSTREAM_URL=http://127.0.0.1:$MOCK_PORT/v1
    echo "aigw: no OPENAI_API_KEY: routing to the bundled mock provider"
fi
trap '$S down; echo; echo "aigw: stopped"' EXIT
trap 'exit 0' INT TERM
$S up
eval "$($S env)"
KEY=$($S demo-key)
cat <<EOT

aigw is serving on http://127.0.0.1:$GW_PORT  (Ctrl-C or \`make stop\` stops it)

  curl -N http://127.0.0.1:$GW_PORT/v1/chat/completions \\
    -H "Authorization: Bearer $KEY" \\
    -H "Content-Type: application/json" \\
    -d '{"model":"gpt-4o-mini","stream":true,
         "messages":[{"role":"user","content":"Say hello"}]}'

  spend so far:   report/aigw-report spend --by group --from $(date -u +%Y-%m-01) --to 2100-01-01
  (database env:  eval "\$(bash tests/stack.sh env)")
  logs:           $VAR/log/aigw.log (requests) $VAR/log/error.log (lighttpd)

EOT
# until Ctrl-C, or until `make stop` ends the web server
while kill -0 "$(cat "$VAR/lighttpd.pid" 2>/dev/null)" 2>/dev/null; do
    sleep 1
done
