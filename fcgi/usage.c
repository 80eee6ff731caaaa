#include "usage.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"

void usage_event_init(struct usage_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->ttft_ms = -1;
    ev->cost_pusd = -1;       /* unknown until priced */
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

#define ADD_LIT(b, lit) buf_add((b), (lit), sizeof(lit) - 1)

/* n as exactly `width` digits (n >= 0) */
static char *digits(char *p, long n, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + n % 10);
        n /= 10;
    }
    return p + width;
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC), quotes included. The civil date
 * from the day count follows Howard Hinnant's days_from_civil inverse. */
static void add_ts(struct buf *b, int64_t us)
{
    int64_t sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    long frac = (long)(us - sec * 1000000);
    int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    long sod = (long)(sec - days * 86400);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = (long)(z - era * 146097);
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    char ts[40], *p = ts;

    if (y < 1 || y > 9999) {       /* not a time this gateway sees */
        struct tm tm;
        time_t t = (time_t)sec;

        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        buf_addf(b, "\"%s.%06ldZ\"", ts, frac);
        return;
    }
    *p++ = '"';
    p = digits(p, (long)y, 4);
    *p++ = '-';
    p = digits(p, m, 2);
    *p++ = '-';
    p = digits(p, d, 2);
    *p++ = 'T';
    p = digits(p, sod / 3600, 2);
    *p++ = ':';
    p = digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = digits(p, sod % 60, 2);
    *p++ = '.';
    p = digits(p, frac, 6);
    *p++ = 'Z';
    *p++ = '"';
    buf_add(b, ts, (size_t)(p - ts));
}

/* key is the literal ,"name": ; then "value", or null for empty/NULL */
static void add_str(struct buf *b, const char *key, size_t klen,
                    const char *v)
{
    buf_add(b, key, klen);
    if (v == NULL || *v == '\0')
        ADD_LIT(b, "null");
    else
        buf_add_json_str(b, v, strlen(v));
}

#define ADD_STR(b, key, v) add_str((b), key, sizeof(key) - 1, (v))

static void add_int(struct buf *b, const char *key, size_t klen,
                    long long v)
{
    buf_add(b, key, klen);
    buf_add_int(b, v);
}

#define ADD_INT(b, key, v) add_int((b), key, sizeof(key) - 1, (v))

static void add_common(const struct usage_event *ev, struct buf *b)
{
    ADD_LIT(b, "{\"request_id\":");
    buf_add_json_str(b, ev->request_id, strlen(ev->request_id));
    ADD_LIT(b, ",\"ts\":");
    add_ts(b, ev->ts_unix_us);
    ADD_STR(b, ",\"api_key_id\":", ev->api_key_id);
    ADD_STR(b, ",\"user_id\":", ev->user_id);
    ADD_STR(b, ",\"group_id\":", ev->group_id);
    ADD_STR(b, ",\"route\":", ev->route);
    ADD_STR(b, ",\"provider\":", ev->provider);
    ADD_STR(b, ",\"backend\":", ev->backend);
    ADD_STR(b, ",\"requested_model\":", ev->requested_model);
    ADD_STR(b, ",\"served_model\":", ev->served_model);
    ADD_INT(b, ",\"prompt_tokens\":", ev->prompt_tokens);
    ADD_INT(b, ",\"completion_tokens\":", ev->completion_tokens);
    ADD_INT(b, ",\"total_tokens\":", ev->total_tokens);
    ADD_INT(b, ",\"cached_tokens\":", ev->cached_tokens);
    ADD_INT(b, ",\"latency_ms\":", ev->latency_ms);
    if (ev->ttft_ms >= 0)
        ADD_INT(b, ",\"ttft_ms\":", ev->ttft_ms);
    else
        ADD_LIT(b, ",\"ttft_ms\":null");
    if (ev->stream)
        ADD_LIT(b, ",\"stream\":true");
    else
        ADD_LIT(b, ",\"stream\":false");
    if (ev->partial)
        ADD_LIT(b, ",\"partial\":true");
    else
        ADD_LIT(b, ",\"partial\":false");
    ADD_STR(b, ",\"error_type\":", ev->error_type);
    if (ev->guardrail[0] != '\0')
        ADD_STR(b, ",\"guardrail\":", ev->guardrail);
    if (ev->attempts > 1)            /* failover (relay.c) */
        ADD_INT(b, ",\"attempts\":", ev->attempts);
    if (ev->degraded[0] != '\0')     /* degrade before the wall */
        ADD_STR(b, ",\"degraded\":", ev->degraded);
}

static void add_ledger_tail(const struct usage_event *ev, struct buf *out)
{
    ADD_INT(out, ",\"http_status\":", ev->http_status);
    if (ev->has_usage)
        ADD_LIT(out, ",\"usage_source\":\"provider\"}");
    else
        ADD_LIT(out, ",\"usage_source\":\"none\"}");
}

static void add_log_tail(const struct usage_event *ev, const char *method,
                         const char *path, struct buf *out)
{
    ADD_STR(out, ",\"method\":", method);
    ADD_STR(out, ",\"path\":", path);
    ADD_INT(out, ",\"http_status_code\":", ev->http_status);
    if (ev->upstream_status > 0)
        ADD_INT(out, ",\"upstream_status\":", ev->upstream_status);
    ADD_STR(out, ",\"operation\":", ev->operation);
    if (ev->cost_pusd >= 0)
        buf_addf(out, ",\"cost_usd\":%lld.%012lld",
                 (long long)(ev->cost_pusd / 1000000000000LL),
                 (long long)(ev->cost_pusd % 1000000000000LL));
    else
        ADD_LIT(out, ",\"cost_usd\":null");
    ADD_STR(out, ",\"trace_id\":", ev->trace_id);
    ADD_STR(out, ",\"span_id\":", ev->span_id);
    ADD_LIT(out, ",\"msg\":\"request\"}");
}

void usage_event_json(const struct usage_event *ev, struct buf *out)
{
    add_common(ev, out);
    add_ledger_tail(ev, out);
}

void usage_event_log_json(const struct usage_event *ev, const char *method,
                          const char *path, struct buf *out)
{
    add_common(ev, out);
    add_log_tail(ev, method, path, out);
}

void usage_event_lines(const struct usage_event *ev, const char *method,
                       const char *path, struct buf *ledger, struct buf *log)
{
    size_t start = log->len;

    add_common(ev, log);
    if (ledger != NULL) {
        if (buf_error(log) == 0)
            buf_add(ledger, log->ptr + start, log->len - start);
        else
            add_common(ev, ledger);
        add_ledger_tail(ev, ledger);
    }
    add_log_tail(ev, method, path, log);
}
