/*
 * Routing, API key check, the /__ control endpoints, usage statistics and
 * the copy of the last /chat/completions or /embeddings request.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

struct stats {
    atomic_ullong requests;
    atomic_ullong chat;
    atomic_ullong prompt;
    atomic_ullong completion;
    atomic_ullong total;
};

/* The last recorded request: its head, then its body, in data[]. */
struct last {
    size_t head_len;
    size_t body_len;
    char data[];
};

static struct stats stats;
static pthread_mutex_t last_mu = PTHREAD_MUTEX_INITIALIZER;
static struct last *last;

static const char models_json[] =
    "{\"object\":\"list\",\"data\":[{\"id\":\"mock-gpt\",\"object\":\"model\","
    "\"created\":1700000000,\"owned_by\":\"mock\"}]}";

void stats_add(int chat, unsigned long long prompt,
               unsigned long long completion)
{
    if (chat)
        atomic_fetch_add_explicit(&stats.chat, 1, memory_order_relaxed);
    if (!prompt && !completion)
        return;
    atomic_fetch_add_explicit(&stats.prompt, prompt, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats.completion, completion,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&stats.total, prompt + completion,
                              memory_order_relaxed);
}

static void swap_last(struct last *l)
{
    struct last *old;

    pthread_mutex_lock(&last_mu);
    old = last;
    last = l;
    pthread_mutex_unlock(&last_mu);
    free(old);
}

static void last_record(const struct req *r)
{
    struct last *l = malloc(sizeof(*l) + r->head_len + r->body_len);

    if (!l)
        return;
    l->head_len = r->head_len;
    l->body_len = r->body_len;
    memcpy(l->data, r->base, r->head_len);
    memcpy(l->data + r->head_len, r->body, r->body_len);
    swap_last(l);
}

void api_cleanup(void)
{
    swap_last(NULL);
}

static void put_lower(struct buf *b, const char *s, size_t n)
{
    char tmp[256];
    size_t i;

    if (n > sizeof(tmp))
        n = sizeof(tmp);
    for (i = 0; i < n; i++)
        tmp[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    json_put_str(b, tmp, n);
}

static int same_name(const struct req *r, int i, int k)
{
    const struct span a = r->hdrs[i].name, b = r->hdrs[k].name;

    return a.len == b.len &&
           strncasecmp(r->base + a.off, r->base + b.off, a.len) == 0;
}

/* Header i's value, joined with those of later headers of the same name. */
static void put_header_value(struct buf *b, const struct req *r, int i)
{
    struct buf v = { 0 };
    int k;

    for (k = i; k < r->nhdr; k++) {
        if (k > i && !same_name(r, i, k))
            continue;
        if (k > i)
            buf_put(&v, ", ", 2);
        buf_put(&v, r->base + r->hdrs[k].val.off, r->hdrs[k].val.len);
    }
    json_put_str(b, v.p ? v.p : "", v.len);
    buf_free(&v);
}

static void put_headers(struct buf *b, const struct req *r)
{
    int i, k, first = 1;

    buf_putc(b, '{');
    for (i = 0; i < r->nhdr; i++) {
        for (k = 0; k < i && !same_name(r, i, k); k++)
            ;
        if (k < i)
            continue;
        if (!first)
            buf_putc(b, ',');
        first = 0;
        put_lower(b, r->base + r->hdrs[i].name.off, r->hdrs[i].name.len);
        buf_putc(b, ':');
        put_header_value(b, r, i);
    }
    buf_putc(b, '}');
}

static void put_span(struct buf *b, const struct req *r, struct span s)
{
    json_put_str(b, r->base + s.off, s.len);
}

/* Builds the JSON of the last request into b; -1 if there is none. */
static int last_json(struct buf *b)
{
    struct req r;
    int rc = -1;

    pthread_mutex_lock(&last_mu);
    if (last && http_parse_head(last->data, last->head_len, &r) == 0) {
        buf_puts(b, "{\"method\":");
        put_span(b, &r, r.method);
        buf_puts(b, ",\"path\":");
        put_span(b, &r, r.target);
        buf_puts(b, ",\"headers\":");
        put_headers(b, &r);
        buf_puts(b, ",\"body\":");
        json_put_str(b, last->data + last->head_len, last->body_len);
        buf_putc(b, '}');
        rc = 0;
    }
    pthread_mutex_unlock(&last_mu);
    return rc;
}

static void put_stat(struct buf *b, const char *name, atomic_ullong *v)
{
    buf_putc(b, '"');
    buf_puts(b, name);
    buf_puts(b, "\":");
    buf_put_u64(b, atomic_load_explicit(v, memory_order_relaxed));
}

static void stats_json(struct buf *b)
{
    buf_putc(b, '{');
    put_stat(b, "requests", &stats.requests);
    buf_putc(b, ',');
    put_stat(b, "chat_requests", &stats.chat);
    buf_putc(b, ',');
    put_stat(b, "prompt_tokens", &stats.prompt);
    buf_putc(b, ',');
    put_stat(b, "completion_tokens", &stats.completion);
    buf_putc(b, ',');
    put_stat(b, "total_tokens", &stats.total);
    buf_putc(b, '}');
}

static void stats_reset(void)
{
    atomic_store(&stats.requests, 0);
    atomic_store(&stats.chat, 0);
    atomic_store(&stats.prompt, 0);
    atomic_store(&stats.completion, 0);
    atomic_store(&stats.total, 0);
    swap_last(NULL);
}

static int path_is(const struct req *r, const char *lit)
{
    return span_is(r, r->path, lit);
}

static int path_ends(const struct req *r, const char *suffix)
{
    size_t n = strlen(suffix);

    return r->path.len >= n &&
           memcmp(r->base + r->path.off + r->path.len - n, suffix, n) == 0;
}

static int method_is(const struct req *r, const char *m)
{
    return span_is(r, r->method, m);
}

static int is_get(const struct req *r)
{
    return method_is(r, "GET") || method_is(r, "HEAD");
}

static void reply_text(struct conn *c, const struct req *r, int status,
                       const char *ctype, const char *text)
{
    c->body.len = 0;
    buf_puts(&c->body, text);
    http_reply(c, r, status, ctype, NULL, &c->body);
}

static void not_found(struct conn *c, const struct req *r)
{
    struct buf m = { 0 };

    buf_puts(&m, "Invalid URL (");
    buf_put(&m, r->base + r->method.off, r->method.len);
    buf_putc(&m, ' ');
    buf_put(&m, r->base + r->path.off, r->path.len);
    buf_putc(&m, ')');
    buf_putc(&m, '\0');
    http_error(c, r, 404, "invalid_request_error", NULL,
               m.oom ? "Invalid URL" : m.p);
    buf_free(&m);
}

static void control(struct conn *c, const struct req *r)
{
    c->body.len = 0;
    if (is_get(r) && path_is(r, "/__health")) {
        reply_text(c, r, 200, "text/plain", "ok");
    } else if (is_get(r) && path_is(r, "/__stats")) {
        stats_json(&c->body);
        http_reply(c, r, 200, "application/json", NULL, &c->body);
    } else if (method_is(r, "POST") && path_is(r, "/__reset")) {
        stats_reset();
        reply_text(c, r, 200, "application/json", "{}");
    } else if (is_get(r) && path_is(r, "/__last")) {
        if (last_json(&c->body) == 0)
            http_reply(c, r, 200, "application/json", NULL, &c->body);
        else
            http_error(c, r, 404, "invalid_request_error", NULL,
                       "No request recorded yet.");
    } else {
        not_found(c, r);
    }
}

/* 1 if the request may proceed; otherwise replies 401 and returns 0. */
static int auth_ok(struct conn *c, const struct req *r)
{
    const char *key = mock_opts.require_key, *v;
    size_t n, kn;

    if (!key)
        return 1;
    kn = strlen(key);
    v = req_header(r, "authorization", &n);
    if (v && n == kn + 7 && memcmp(v, "Bearer ", 7) == 0 &&
        memcmp(v + 7, key, kn) == 0)
        return 1;
    http_error(c, r, 401, "invalid_request_error", "invalid_api_key",
               "Incorrect API key provided.");
    return 0;
}

void api_handle(struct conn *c, struct req *r)
{
    int chat = path_ends(r, "/chat/completions");
    int embed = path_ends(r, "/embeddings");

    if (r->path.len >= 3 && memcmp(r->base + r->path.off, "/__", 3) == 0) {
        control(c, r);
        return;
    }
    atomic_fetch_add_explicit(&stats.requests, 1, memory_order_relaxed);
    if (chat || embed)
        last_record(r);
    chat = chat && method_is(r, "POST");
    embed = embed && method_is(r, "POST");
    stats_add(chat, 0, 0);
    if (mock_opts.latency_ms > 0 && mock_nap(mock_opts.latency_ms) < 0) {
        c->dead = 1;
        return;
    }
    if (chat || embed || (is_get(r) && path_ends(r, "/models"))) {
        if (!auth_ok(c, r))
            return;
        if (chat)
            chat_handle(c, r);
        else if (embed)
            embed_handle(c, r);
        else
            reply_text(c, r, 200, "application/json", models_json);
        return;
    }
    not_found(c, r);
}
