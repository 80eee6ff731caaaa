#include "chat.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "jsonutil.h"
#include "log.h"
#include "providers/provider.h"
#include "request.h"
#include "upstream.h"
#include "worker.h"

#define MODEL_NAME_MAX 128

static int check_int(json_object *o, const char *k, int64_t min, int64_t max)
{
    json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v,
                                                        json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    n = json_object_get_int64(v);
    return n >= min && n <= max ? 0 : -1;
}

static int check_messages(json_object *req, const char **why)
{
    json_object *msgs;
    size_t n;

    if (!json_object_object_get_ex(req, "messages", &msgs)) {
        *why = "you must provide a messages parameter";
        return -1;
    }
    if (!json_object_is_type(msgs, json_type_array) ||
        (n = json_object_array_length(msgs)) == 0) {
        *why = "messages must be a non-empty array";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);

        if (!json_object_is_type(m, json_type_object) ||
            jget_str(m, "role") == NULL) {
            *why = "each message must be an object with a string role";
            return -1;
        }
    }
    return 0;
}

int chat_validate(json_object *req, struct chat_params *p, const char **why,
                  const char **param)
{
    json_object *v, *so;
    size_t mlen;

    memset(p, 0, sizeof(*p));
    *param = NULL;
    if (!json_object_is_type(req, json_type_object)) {
        *why = "the request body must be a JSON object";
        return -1;
    }
    p->model = jget_str(req, "model");
    *param = "model";
    if (p->model == NULL) {
        *why = "you must provide a model parameter (a string)";
        return -1;
    }
    mlen = strlen(p->model);
    if (mlen == 0 || mlen > MODEL_NAME_MAX ||
        mlen != (size_t)json_object_get_string_len(
                    json_object_object_get(req, "model"))) {
        *why = "model must be a non-empty name of at most 128 characters";
        return -1;
    }
    for (size_t i = 0; i < mlen; i++)
        if ((unsigned char)p->model[i] < 0x20) {
            *why = "model contains control characters";
            return -1;
        }
    *param = "messages";
    if (check_messages(req, why) < 0)
        return -1;
    *param = "stream";
    if (json_object_object_get_ex(req, "stream", &v) &&
        !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            *why = "stream must be a boolean";
            return -1;
        }
        p->stream = json_object_get_boolean(v);
    }
    *param = "stream_options";
    if (json_object_object_get_ex(req, "stream_options", &so) &&
        !json_object_is_type(so, json_type_null)) {
        if (!json_object_is_type(so, json_type_object)) {
            *why = "stream_options must be an object";
            return -1;
        }
        if (json_object_object_get_ex(so, "include_usage", &v))
            p->client_usage = json_object_get_boolean(v);
    }
    if (check_int(req, "max_tokens", 1, INT32_MAX) < 0) {
        *param = "max_tokens";
        *why = "max_tokens must be an integer between 1 and 2147483647";
        return -1;
    }
    if (check_int(req, "max_completion_tokens", 1, INT32_MAX) < 0) {
        *param = "max_completion_tokens";
        *why = "max_completion_tokens must be an integer between 1 and "
               "2147483647";
        return -1;
    }
    if (check_int(req, "n", 1, 128) < 0) {
        *param = "n";
        *why = "n must be an integer between 1 and 128";
        return -1;
    }
    *param = NULL;
    return 0;
}

struct chat_ctx {
    struct request *r;
    struct worker *w;
    const struct backend *be;
    struct chat_params p;
    struct chunk_sink sink;
    int checked;
    int sse_mode;
    int done;
    int too_big;
    int bad_event;
};

/* A unified chunk for the client: "data: {...}\n\n", flushed at once. */
static int send_chunk(void *ud, const char *json, size_t len, int usage_only)
{
    struct chat_ctx *cx = ud;
    struct request *r = cx->r;

    if (usage_only && !cx->p.client_usage)
        return 0;       /* we asked for it; the client did not */
    if (r->ev.ttft_ms < 0)
        r->ev.ttft_ms = req_elapsed_ms(r);
    if (req_write(r, "data: ", 6) < 0 || req_write(r, json, len) < 0 ||
        req_write(r, "\n\n", 2) < 0 || req_flush(r) < 0)
        return -1;
    return 0;
}

static int on_event(void *ud, const char *event, const char *data,
                    size_t len)
{
    struct chat_ctx *cx = ud;

    (void)event;
    if (cx->done)
        return 0;
    if (cx->be->ops->chat_event(data, len, &cx->sink, &cx->r->ev,
                                &cx->done) < 0) {
        if (!cx->r->client_gone)
            cx->bad_event = 1;
        return -1;
    }
    return 0;
}

static int is_event_stream(struct worker *w)
{
    char *ct = NULL;

    curl_easy_getinfo(w->curl, CURLINFO_CONTENT_TYPE, &ct);
    return ct != NULL && strncasecmp(ct, "text/event-stream", 17) == 0;
}

static int on_data(void *ud, const char *p, size_t n)
{
    struct chat_ctx *cx = ud;
    struct worker *w = cx->w;
    int rc;

    if (!cx->checked) {
        long st = upstream_status(w);

        cx->checked = 1;
        cx->r->ev.upstream_status = (int)st;
        cx->sse_mode = cx->p.stream && st >= 200 && st < 300 &&
                       is_event_stream(w);
        if (cx->sse_mode &&
            req_start(cx->r, 200, "text/event-stream",
                      "Cache-Control: no-cache\r\n"
                      "X-Accel-Buffering: no\r\n") < 0)
            return -1;
    }
    if (cx->sse_mode) {
        rc = sse_feed(&w->sse, p, n, on_event, cx);
        if (rc == GW_ETOOBIG)
            cx->too_big = 1;
        return rc == 0 ? 0 : -1;
    }
    if (w->resp.len + n > cx->be->max_response_bytes) {
        cx->too_big = 1;
        return -1;
    }
    buf_add(&w->resp, p, n);
    return 0;
}

/* The stream broke off after the client got its headers: say so in the
 * stream and record what was generated as partial. */
static void end_stream_early(struct chat_ctx *cx,
                             const struct upstream_result *res)
{
    struct request *r = cx->r;
    const char *code = res->fail == UP_TIMEOUT ? "upstream_timeout"
                     : cx->too_big ? "upstream_response_too_large"
                     : cx->bad_event ? "upstream_bad_event"
                                     : "upstream_truncated";
    struct buf b = BUF_INIT(1024);

    r->ev.partial = 1;
    r->ev.error_type = code;
    if (r->client_gone) {
        r->ev.error_type = "client_closed";
        r->ev.http_status = 499;
        buf_release(&b);
        return;
    }
    buf_addf(&b, "data: {\"error\":{\"message\":\"the upstream stream ended "
             "before completion (%s)\",\"type\":\"upstream_error\","
             "\"param\":null,\"code\":\"%s\"}}\n\n", code, code);
    req_write(r, b.ptr, b.len);
    req_flush(r);
    buf_release(&b);
}

static void relay_stream_end(struct chat_ctx *cx,
                             const struct upstream_result *res)
{
    struct request *r = cx->r;

    r->ev.http_status = 200;
    if (!cx->done || res->fail != UP_OK) {
        end_stream_early(cx, res);
        return;
    }
    if (req_write(r, "data: [DONE]\n\n", 14) < 0 || req_flush(r) < 0) {
        r->ev.error_type = "client_closed";
        r->ev.http_status = 499;
    }
}

/* An upstream error reply: passed through with its status when it is
 * OpenAI-shaped JSON, wrapped otherwise. */
static void relay_error(struct chat_ctx *cx, long status)
{
    struct request *r = cx->r;
    struct worker *w = cx->w;
    json_object *o = jparse(w->resp.ptr ? w->resp.ptr : "", w->resp.len,
                            NULL), *e;
    int st = status >= 400 && status <= 599 ? (int)status : 502;

    r->ev.error_type = "upstream_error";
    if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
        json_object_is_type(e, json_type_object)) {
        r->ev.http_status = st;
        req_send_json(r, st, w->resp.ptr, w->resp.len, "");
    } else {
        char msg[128];

        snprintf(msg, sizeof(msg), "the upstream provider answered HTTP %ld",
                 status);
        req_error(r, st, "upstream_error", "upstream_error", msg);
    }
    json_object_put(o);
}

static void relay_reply(struct chat_ctx *cx, const struct upstream_result *res)
{
    struct request *r = cx->r;
    struct worker *w = cx->w;

    if (res->fail == UP_CONNECT) {
        req_error(r, 502, "upstream_error", "upstream_unreachable",
                  "the upstream provider could not be reached");
    } else if (res->fail == UP_TIMEOUT) {
        req_error(r, 504, "upstream_error", "upstream_timeout",
                  "the upstream provider did not answer in time");
    } else if (cx->too_big) {
        req_error(r, 502, "upstream_error", "upstream_response_too_large",
                  "the upstream response exceeded the configured limit");
    } else if (res->fail != UP_OK) {
        req_error(r, 502, "upstream_error", "upstream_broken",
                  "the upstream connection failed before the response was "
                  "complete");
    } else if (res->status < 200 || res->status > 299) {
        relay_error(cx, res->status);
    } else {
        buf_reset(&w->out);
        if (cx->be->ops->chat_parse(w->resp.ptr ? w->resp.ptr : "",
                                    w->resp.len, &w->out, &r->ev) < 0) {
            req_error(r, 502, "upstream_error", "upstream_bad_response",
                      "the upstream provider sent an unreadable response");
            return;
        }
        r->ev.http_status = 200;
        if (w->out.len > 0)
            req_send_json(r, 200, w->out.ptr, w->out.len, "");
        else
            req_send_json(r, 200, w->resp.ptr, w->resp.len, "");
        if (r->client_gone) {
            r->ev.http_status = 499;
            r->ev.error_type = "client_closed";
        }
    }
}

static int parse_request(struct request *r, json_object **req,
                         struct chat_params *p)
{
    const char *why = NULL, *param = NULL;
    char msg[256];

    *req = jparse(r->body, r->body_len, &why);
    if (*req == NULL) {
        snprintf(msg, sizeof(msg), "the request body is not valid JSON: %s",
                 why ? why : "parse error");
        req_error(r, 400, "invalid_request_error", "invalid_json", msg);
        return -1;
    }
    if (chat_validate(*req, p, &why, &param) < 0) {
        req_error(r, 400, "invalid_request_error",
                  param ? "invalid_value" : "invalid_request", why);
        return -1;
    }
    return 0;
}

void chat_handle(struct request *r, const struct route *rt)
{
    struct worker *w = r->w;
    const struct backend *be = rt->backend;
    struct chat_ctx cx = { .r = r, .w = w, .be = be };
    struct curl_slist *hdrs = NULL;
    struct upstream_result res;
    json_object *req = NULL;

    if (parse_request(r, &req, &cx.p) < 0)
        goto out;
    usage_set(r->ev.requested_model, sizeof(r->ev.requested_model),
              cx.p.model);
    r->ev.stream = cx.p.stream;
    if (!backend_serves(be, cx.p.model)) {
        char msg[256];

        snprintf(msg, sizeof(msg), "The model `%s` does not exist or you do "
                 "not have access to it.", cx.p.model);
        req_error(r, 404, "invalid_request_error", "model_not_found", msg);
        goto out;
    }
    buf_reset(&w->url);
    buf_reset(&w->upbody);
    buf_reset(&w->resp);
    sse_reset(&w->sse);
    if (be->ops->chat_build(be, req, cx.p.stream, &w->url, &w->upbody,
                            &hdrs) < 0) {
        curl_slist_free_all(hdrs);
        req_error(r, 500, "server_error", "internal_error",
                  "the request could not be prepared for the provider");
        goto out;
    }
    cx.sink.chunk = send_chunk;
    cx.sink.ctx = &cx;
    upstream_call(w, be, w->url.ptr, w->upbody.ptr, w->upbody.len, hdrs,
                  on_data, &cx, &res);
    if (res.fail != UP_OK && res.fail != UP_ABORTED)
        log_warn(r->request_id, "upstream %s: %s", be->name, res.detail);
    if (cx.sse_mode)
        relay_stream_end(&cx, &res);
    else
        relay_reply(&cx, &res);
out:
    json_object_put(req);
}
