#!/usr/bin/env bash
# The official openai npm client against the gateway.
. "$(dirname "$0")/lib.sh"
cd "$ROOT/tests/client"
if [ ! -d node_modules/openai ]; then
    npm install --no-audit --no-fund --silent >/dev/null 2>&1 ||
        { not_ok "npm install of the openai client"; done_testing; exit 1; }
fi
KEY=$(new_key grace eng sdk)
node openai-sdk.mjs "$GW/v1" "$KEY"
