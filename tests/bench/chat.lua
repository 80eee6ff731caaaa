-- wrk script for tests/bench.sh: POSTs the ~1 KB chat-completion request in
-- $BENCH_BODY (default tests/bench/chat-request.json) with the API key in
-- $BENCH_KEY, and ends with one parseable line:
--   BENCH requests=N duration_us=N rps=N p50_us=N p90_us=N p99_us=N
--         max_us=N non2xx=N connect=N read=N write=N timeout=N
-- (on one line; wrk counts responses with status > 399 as "non2xx").

local function script_dir()
    local src = debug.getinfo(1, "S").source
    return (src:match("^@(.*/)") or "./")
end

local path = os.getenv("BENCH_BODY") or (script_dir() .. "chat-request.json")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "none")

function done(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d " ..
        "p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d " ..
        "timeout=%d\n",
        summary.requests, summary.duration,
        secs > 0 and summary.requests / secs or 0,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, e.status, e.connect, e.read,
        e.write, e.timeout))
end
