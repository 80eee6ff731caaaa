#!/usr/bin/env bash
# Brute force of keys is rate limited per client address: past
# identity.failed_auth.max failures in the window, 429 without a lookup;
# other addresses are unaffected. A standalone worker with a limit of 5.
. "$(dirname "$0")/lib.sh"

sed -e 's/"max": 1000, "window_s": 60/"max": 5, "window_s": 60/' \
    "$ROOT/tests/integration/aigw-test.json" >"$TMP/conf.json"
check "worker starts" spawn_worker "$TMP/conf.json"
KEY=$(new_key bf eng bf)
st() { REMOTE_ADDR=$1 fcgi_call "$2" "$(chat mock-gpt)" | sed -n 's/^Status: \([0-9]*\).*/\1/p'; }
for i in 1 2 3 4 5; do s=$(st 10.0.0.1 "sk-aigw-guess$i"); done
is "5 wrong keys: 401" "$s" 401
is "6th attempt from the same address: 429" "$(st 10.0.0.1 sk-aigw-guess6)" 429
is "even a right key is refused while blocked" "$(st 10.0.0.1 "$KEY")" 429
is "another address is not affected" "$(st 10.0.0.2 "$KEY")" 200
stop_worker
done_testing
