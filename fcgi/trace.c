#include "trace.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "usage.h"
#include "xalloc.h"

#define SPAN_MAX (64 << 10)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stopping;
    char **ring;
    size_t cap, head, count, batch;
    long flush_ms, timeout_ms;
    const char *endpoint;
    const char *service;
    atomic_ulong dropped;
} tr = { .lock = PTHREAD_MUTEX_INITIALIZER,
         .wake = PTHREAD_COND_INITIALIZER };

/* --- ids ---------------------------------------------------------------- */

static _Thread_local uint64_t rs[2];

static uint64_t rnd(void)
{
    uint64_t a, b;

    if ((rs[0] | rs[1]) == 0 &&
        (getrandom(rs, sizeof(rs), 0) != (ssize_t)sizeof(rs) ||
         (rs[0] | rs[1]) == 0)) {
        rs[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&a;
        rs[1] = 0x9E3779B97F4A7C15ull;
    }
    a = rs[0];
    b = rs[1];
    rs[0] = b;
    a ^= a << 23;
    rs[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return rs[1] + b;
}

static void hex_id(char *out, int words)
{
    for (int i = 0; i < words; i++) {
        uint64_t v;

        do
            v = rnd();
        while (v == 0);
        snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)v);
    }
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* n lowercase hex digits, not all zero */
static int id_ok(const char *s, size_t n)
{
    int nonzero = 0;

    for (size_t i = 0; i < n; i++) {
        if (!is_hex(s[i]))
            return 0;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

/* version "00": exactly 55 characters; later versions may append
 * "-..." fields, which are ignored. Version "ff" is invalid. */
int trace_parse(const char *s, char trace_id[33], char parent_id[17],
                unsigned char *flags)
{
    size_t n;
    unsigned v;

    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    n = strcspn(s, " \t");
    if (n < 55 || !is_hex(s[0]) || !is_hex(s[1]) ||
        memcmp(s, "ff", 2) == 0 || s[2] != '-' || s[35] != '-' ||
        s[52] != '-' || !is_hex(s[53]) || !is_hex(s[54]))
        return -1;
    if ((memcmp(s, "00", 2) == 0 && n != 55) || (n > 55 && s[55] != '-'))
        return -1;
    if (!id_ok(s + 3, 32) || !id_ok(s + 36, 16))
        return -1;
    memcpy(trace_id, s + 3, 32);
    trace_id[32] = '\0';
    memcpy(parent_id, s + 36, 16);
    parent_id[16] = '\0';
    if (sscanf(s + 53, "%2x", &v) != 1)
        return -1;
    *flags = (unsigned char)v;
    return 0;
}

void trace_begin(struct usage_event *ev, const char *traceparent)
{
    if (trace_parse(traceparent, ev->trace_id, ev->parent_span_id,
                    &ev->trace_flags) < 0) {
        hex_id(ev->trace_id, 2);
        ev->parent_span_id[0] = '\0';
        ev->trace_flags = 1;            /* a trace we start is sampled */
    }
    hex_id(ev->span_id, 1);
}

void trace_header(const struct usage_event *ev, char *out, size_t outsz)
{
    snprintf(out, outsz, "traceparent: 00-%s-%s-%02x", ev->trace_id,
             ev->span_id, ev->trace_flags & 1);
}

/* --- spans -------------------------------------------------------------- */

static void attr_str(struct buf *b, int *first, const char *k, const char *v)
{
    if (v == NULL || *v == '\0')
        return;
    buf_adds(b, *first ? "" : ",");
    *first = 0;
    buf_addf(b, "{\"key\":\"%s\",\"value\":{\"stringValue\":", k);
    buf_add_json_str(b, v, strlen(v));
    buf_adds(b, "}}");
}

static void attr_int(struct buf *b, int *first, const char *k, long long v)
{
    buf_adds(b, *first ? "" : ",");
    *first = 0;
    buf_addf(b, "{\"key\":\"%s\",\"value\":{\"intValue\":\"%lld\"}}", k, v);
}

void trace_span_json(const struct usage_event *ev, const char *method,
                     long long end_unix_us, struct buf *b)
{
    const char *op = ev->operation ? ev->operation : "http";
    const char *model = ev->requested_model[0] ? ev->requested_model : NULL;
    int first = 1;

    buf_addf(b, "{\"traceId\":\"%s\",\"spanId\":\"%s\"", ev->trace_id,
             ev->span_id);
    if (ev->parent_span_id[0])
        buf_addf(b, ",\"parentSpanId\":\"%s\"", ev->parent_span_id);
    buf_adds(b, ",\"name\":");
    {
        char name[192];

        snprintf(name, sizeof(name), "%s%s%s", op, model ? " " : "",
                 model ? model : "");
        buf_add_json_str(b, name, strlen(name));
    }
    buf_addf(b, ",\"kind\":2,\"startTimeUnixNano\":\"%lld000\","
             "\"endTimeUnixNano\":\"%lld000\",\"attributes\":[",
             (long long)ev->ts_unix_us, end_unix_us);
    attr_str(b, &first, "gen_ai.operation.name", ev->operation);
    attr_str(b, &first, "gen_ai.provider.name", ev->provider);
    attr_str(b, &first, "gen_ai.request.model", ev->requested_model);
    attr_str(b, &first, "gen_ai.response.model", ev->served_model);
    if (ev->operation != NULL) {
        attr_int(b, &first, "gen_ai.usage.input_tokens", ev->prompt_tokens);
        attr_int(b, &first, "gen_ai.usage.output_tokens",
                 ev->completion_tokens);
    }
    attr_str(b, &first, "http.request.method", method);
    attr_int(b, &first, "http.response.status_code", ev->http_status);
    attr_str(b, &first, "error.type", ev->error_type);
    attr_str(b, &first, "aigw.request_id", ev->request_id);
    attr_str(b, &first, "aigw.route", ev->route);
    attr_str(b, &first, "aigw.backend", ev->backend);
    attr_str(b, &first, "aigw.api_key_id", ev->api_key_id);
    attr_str(b, &first, "user.id", ev->user_id);
    attr_str(b, &first, "aigw.group_id", ev->group_id);
    if (ev->stream && ev->ttft_ms >= 0)
        attr_int(b, &first, "aigw.ttft_ms", ev->ttft_ms);
    buf_adds(b, "]");
    if (ev->error_type != NULL || ev->http_status >= 500) {
        buf_adds(b, ",\"status\":{\"code\":2,\"message\":");
        buf_add_json_str(b, ev->error_type ? ev->error_type : "error",
                         strlen(ev->error_type ? ev->error_type : "error"));
        buf_adds(b, "}");
    }
    buf_adds(b, "}");
}

void trace_export(const struct usage_event *ev, const char *method)
{
    struct buf b = BUF_INIT(SPAN_MAX);
    struct timespec now;
    char *line;

    if (!tr.running || !(ev->trace_flags & 1) || ev->trace_id[0] == '\0')
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    trace_span_json(ev, method, (long long)now.tv_sec * 1000000 +
                    now.tv_nsec / 1000, &b);
    if (buf_error(&b)) {
        buf_release(&b);
        return;
    }
    line = buf_detach(&b, NULL);
    pthread_mutex_lock(&tr.lock);
    if (tr.count < tr.cap) {
        tr.ring[(tr.head + tr.count) % tr.cap] = line;
        if (++tr.count >= tr.batch)
            pthread_cond_signal(&tr.wake);
        line = NULL;
    }
    pthread_mutex_unlock(&tr.lock);
    if (line != NULL) {                  /* collector slow or down */
        atomic_fetch_add(&tr.dropped, 1);
        free(line);
    }
}

/* --- the exporter thread ------------------------------------------------ */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static void post(CURL *c, struct buf *body, size_t n)
{
    struct curl_slist *h = NULL;
    long st = 0;
    CURLcode rc;

    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, tr.endpoint);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->ptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, tr.timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    if (rc != CURLE_OK || st < 200 || st > 299)
        log_warn(NULL, "traces: %zu spans not exported to the collector: %s",
                 n, rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error");
}

/* Takes up to batch spans off the ring into body; returns how many. */
static size_t take(struct buf *body)
{
    size_t n = 0;

    buf_reset(body);
    buf_adds(body, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
             "{\"key\":\"service.name\",\"value\":{\"stringValue\":");
    buf_add_json_str(body, tr.service, strlen(tr.service));
    buf_adds(body, "}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"aigw\"},"
             "\"spans\":[");
    pthread_mutex_lock(&tr.lock);
    while (tr.count > 0 && n < tr.batch) {
        char *s = tr.ring[tr.head];

        tr.head = (tr.head + 1) % tr.cap;
        tr.count--;
        if (n++ > 0)
            buf_addc(body, ',');
        buf_adds(body, s);
        free(s);
    }
    pthread_mutex_unlock(&tr.lock);
    buf_adds(body, "]}]}]}");
    return n;
}

static void *exporter(void *arg)
{
    CURL *c = curl_easy_init();
    struct buf body = BUF_INIT((size_t)1 << 30);

    (void)arg;
    for (;;) {
        struct timespec dl;
        int stop;
        size_t n;

        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += tr.flush_ms / 1000;
        dl.tv_nsec += (tr.flush_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&tr.lock);
        while (!tr.stopping && tr.count < tr.batch &&
               pthread_cond_timedwait(&tr.wake, &tr.lock, &dl) == 0)
            ;
        stop = tr.stopping;
        pthread_mutex_unlock(&tr.lock);
        while ((n = take(&body)) > 0 && c != NULL) {
            post(c, &body, n);
            if (!stop)
                break;
        }
        if (stop)
            break;
    }
    buf_release(&body);
    if (c != NULL)
        curl_easy_cleanup(c);
    return NULL;
}

int trace_start(const struct config *cfg)
{
    const struct obs_settings *o = &cfg->obs;

    if (o->otlp_endpoint == NULL)
        return 0;
    tr.endpoint = o->otlp_endpoint;
    tr.service = o->service_name;
    tr.batch = (size_t)o->otlp_batch_spans;
    tr.flush_ms = o->otlp_flush_ms;
    tr.timeout_ms = o->otlp_timeout_ms;
    tr.cap = (size_t)o->otlp_queue_max;
    tr.ring = xcalloc(tr.cap, sizeof(char *));
    if (pthread_create(&tr.thread, NULL, exporter, NULL) != 0)
        return -1;
    tr.running = 1;
    return 0;
}

void trace_stop(void)
{
    if (!tr.running)
        return;
    pthread_mutex_lock(&tr.lock);
    tr.stopping = 1;
    pthread_cond_signal(&tr.wake);
    pthread_mutex_unlock(&tr.lock);
    pthread_join(tr.thread, NULL);
    tr.running = 0;
}
