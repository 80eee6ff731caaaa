/* OpenAI and OpenAI-compatible servers (Ollama, vLLM, DeepSeek, xAI,
 * Mistral, Groq, Together): the reference dialect. Requests pass through
 * with usage requested for streams; replies pass through untouched. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../buf.h"
#include "../config.h"
#include "../jscan.h"
#include "../jsonutil.h"
#include "../sse.h"
#include "../usage.h"
#include "oai.h"
#include "openai.h"
#include "provider.h"

/* "Authorization: Bearer <key>" without leaving a copy behind. */
void openai_add_auth(struct provider_call *c, const char *prefix,
                     const char *key)
{
    struct buf h = BUF_INIT(8192);

    buf_adds(&h, prefix);
    buf_adds(&h, key);
    if (buf_error(&h) == 0)
        c->hdrs = curl_slist_append(c->hdrs, h.ptr);
    if (h.ptr != NULL)
        memset(h.ptr, 0, h.len);
    buf_release(&h);
}

void openai_write_body(struct provider_call *c)
{
    if (c->op == PROV_CHAT && c->stream) {
        /* Ask for the final usage chunk so streamed tokens are counted. */
        json_object *so = json_object_new_object();

        jadd(so, "include_usage", json_object_new_boolean(1));
        jadd(c->req, "stream_options", so);
    }
    if (c->raw_body != NULL && !c->stream)
        /* nothing to change: relay the client's bytes as they came */
        buf_add(c->body, c->raw_body, c->raw_body_len);
    else
        buf_adds(c->body, json_object_to_json_string_ext(c->req,
                 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int openai_build(struct provider_call *c)
{
    const struct backend *be = c->be;

    buf_adds(c->url, be->base_url);
    buf_adds(c->url, c->op == PROV_EMBED ? "/embeddings"
                                         : "/chat/completions");
    openai_write_body(c);
    if (be->api_key != NULL)
        openai_add_auth(c, "Authorization: Bearer ", be->api_key);
    c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, c->stream
                                ? "Accept: text/event-stream"
                                : "Accept: application/json");
    return buf_error(c->url) || buf_error(c->body) ? -1 : 0;
}

/* OpenAI's usage object (absent or null: leaves ev untouched). Chat uses
 * prompt/completion tokens, embeddings prompt/total tokens. */
static void read_usage(json_object *root, struct usage_event *ev)
{
    json_object *u, *d, *v;
    long long in, out, cached = 0;

    if (!json_object_object_get_ex(root, "usage", &u) ||
        !json_object_is_type(u, json_type_object))
        return;
    in = jget_int(u, "prompt_tokens", 0);
    out = jget_int(u, "completion_tokens", 0);
    if (json_object_object_get_ex(u, "prompt_tokens_details", &d) &&
        json_object_object_get_ex(d, "cached_tokens", &v))
        cached = json_object_get_int64(v);
    oai_set_usage(ev, in, out, cached);
}

static void read_model(json_object *root, struct usage_event *ev)
{
    const char *m = jget_str(root, "model");

    if (m != NULL && ev->served_model[0] == '\0')
        usage_set(ev->served_model, sizeof(ev->served_model), m);
}

/* read_usage() and read_model() over the scanner: the reply is relayed as
 * it came, so no tree is built for the few fields the ledger needs. */
static void scan_usage(const struct jspan *u, struct usage_event *ev)
{
    static const char *const k[] = { "prompt_tokens", "completion_tokens",
                                      "prompt_tokens_details" };
    struct jspan v[3], c;
    unsigned got = jspan_members(u, k, 3, v);
    long long in = 0, out = 0, cached = 0;

    if ((got & 1) && v[0].type == JS_INT)
        in = jspan_int64(&v[0]);
    if ((got & 2) && v[1].type == JS_INT)
        out = jspan_int64(&v[1]);
    if ((got & 4) && jspan_member(&v[2], "cached_tokens", &c))
        cached = jspan_int64(&c);
    oai_set_usage(ev, in, out, cached);
}

int openai_parse(struct provider_call *c, const char *body, size_t len,
                 struct buf *out)
{
    static const char *const k[] = { "usage", "model" };
    struct jspan root, v[2];
    unsigned got;

    (void)out; /* already the unified shape */
    if (len > INT32_MAX - 1 || jscan(body, len, &root) < 0 ||
        root.type != JS_OBJECT)
        return -1;
    got = jspan_members(&root, k, 2, v);
    if ((got & 1) && v[0].type == JS_OBJECT)
        scan_usage(&v[0], c->ev);
    if ((got & 2) && c->ev->served_model[0] == '\0')
        jspan_string(&v[1], c->ev->served_model, sizeof(c->ev->served_model));
    return 0;
}

struct sse_ctx {
    struct provider_call *c;
    struct chunk_sink *sink;
    int *done;
};

static int on_event(void *ud, const char *event, const char *data,
                    size_t len)
{
    struct sse_ctx *x = ud;
    struct usage_event *ev = x->c->ev;
    int usage_only = 0;

    (void)event;
    if (*x->done)
        return 0;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        *x->done = 1;
        return 0;
    }
    /* Parse only the chunks that matter: the first (model) and the one
     * carrying a usage object; the rest pass through untouched. */
    if (ev->served_model[0] == '\0' ||
        json_has_object_member(data, len, "usage")) {
        json_object *root = jparse(data, len, NULL), *ch;

        if (root == NULL)
            return -1;
        read_model(root, ev);
        read_usage(root, ev);
        usage_only = json_object_object_get_ex(root, "choices", &ch) &&
                     json_object_is_type(ch, json_type_array) &&
                     json_object_array_length(ch) == 0;
        json_object_put(root);
    }
    return x->sink->chunk(x->sink->ctx, data, len, usage_only);
}

int openai_stream(struct provider_call *c, const char *p, size_t n,
                  struct chunk_sink *sink, int *done)
{
    struct sse_ctx x = { c, sink, done };

    return sse_feed(c->sse, p, n, on_event, &x) == 0 ? 0 : -1;
}

/* OpenAI-shaped error bodies pass through; anything else is wrapped. */
void openai_error(struct provider_call *c, long status, const char *body,
                  size_t len, struct buf *out)
{
    json_object *o = jparse(body, len, NULL), *e;
    char msg[128];

    (void)c;
    if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
        json_object_is_type(e, json_type_object) &&
        jget_str(e, "message") != NULL) {
        buf_add(out, body, len);
    } else {
        snprintf(msg, sizeof(msg), "the upstream provider answered HTTP %ld",
                 status);
        oai_error(out, msg, oai_error_type(status), "upstream_error");
    }
    json_object_put(o);
}

const struct provider_ops provider_openai = {
    .name = "openai",
    .build = openai_build,
    .raw_passthrough = 1,
    .parse = openai_parse,
    .stream = openai_stream,
    .error = openai_error,
};
