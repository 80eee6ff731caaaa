#include "usage.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"

void usage_event_init(struct usage_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->ttft_ms = -1;
    ev->cost_pusd = -1;
}

void usage_set(char *dst, size_t dstsz, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n >= dstsz)
        n = dstsz - 1;
    if (n > 0)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

static void add_ts(struct buf *b, int64_t us)
{
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    char ts[32];

    gmtime_r(&sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    buf_addf(b, "\"%s.%06ldZ\"", ts, (long)(us % 1000000));
}

/* ,"key":"value" or ,"key":null for empty/NULL strings */
static void add_str(struct buf *b, const char *key, const char *v)
{
    buf_addf(b, ",\"%s\":", key);
    if (v == NULL || *v == '\0')
        buf_adds(b, "null");
    else
        buf_add_json_str(b, v, strlen(v));
}

static void add_common(const struct usage_event *ev, struct buf *b)
{
    buf_adds(b, "{\"request_id\":");
    buf_add_json_str(b, ev->request_id, strlen(ev->request_id));
    buf_adds(b, ",\"ts\":");
    add_ts(b, ev->ts_unix_us);
    add_str(b, "api_key_id", ev->api_key_id);
    add_str(b, "user_id", ev->user_id);
    add_str(b, "group_id", ev->group_id);
    add_str(b, "route", ev->route);
    add_str(b, "provider", ev->provider);
    add_str(b, "backend", ev->backend);
    add_str(b, "requested_model", ev->requested_model);
    add_str(b, "served_model", ev->served_model);
    buf_addf(b, ",\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
             "\"total_tokens\":%lld,\"cached_tokens\":%lld",
             (long long)ev->prompt_tokens, (long long)ev->completion_tokens,
             (long long)ev->total_tokens, (long long)ev->cached_tokens);
    buf_addf(b, ",\"latency_ms\":%ld", ev->latency_ms);
    if (ev->ttft_ms >= 0)
        buf_addf(b, ",\"ttft_ms\":%ld", ev->ttft_ms);
    else
        buf_adds(b, ",\"ttft_ms\":null");
    buf_addf(b, ",\"stream\":%s,\"partial\":%s",
             ev->stream ? "true" : "false", ev->partial ? "true" : "false");
    add_str(b, "error_type", ev->error_type);
    if (ev->guardrail[0] != '\0')
        add_str(b, "guardrail", ev->guardrail);
    if (ev->attempts > 1)            /* failover (relay.c) */
        buf_addf(b, ",\"attempts\":%d", ev->attempts);
}

void usage_event_json(const struct usage_event *ev, struct buf *out)
{
    add_common(ev, out);
    buf_addf(out, ",\"http_status\":%d,\"usage_source\":\"%s\"}",
             ev->http_status, ev->has_usage ? "provider" : "none");
}

void usage_event_log_json(const struct usage_event *ev, const char *method,
                          const char *path, struct buf *out)
{
    add_common(ev, out);
    add_str(out, "method", method);
    add_str(out, "path", path);
    buf_addf(out, ",\"http_status_code\":%d", ev->http_status);
    if (ev->upstream_status > 0)
        buf_addf(out, ",\"upstream_status\":%d", ev->upstream_status);
    add_str(out, "operation", ev->operation);
    if (ev->cost_pusd >= 0)
        buf_addf(out, ",\"cost_usd\":%lld.%012lld",
                 (long long)(ev->cost_pusd / 1000000000000LL),
                 (long long)(ev->cost_pusd % 1000000000000LL));
    else
        buf_adds(out, ",\"cost_usd\":null");
    add_str(out, "trace_id", ev->trace_id);
    add_str(out, "span_id", ev->span_id);
    buf_adds(out, ",\"msg\":\"request\"}");
}
