#include "relay.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "authcfg.h"
#include "config.h"
#include "jscan.h"
#include "jsonutil.h"
#include "log.h"
#include "rbac.h"
#include "providers/oai.h"
#include "request.h"
#include "upstream.h"
#include "worker.h"

struct relay_io {
    struct relay *x;
    struct chunk_sink sink;
    int checked;
    int sse_mode;
    int done;
    int too_big;
    int bad_stream;
};

static int client_chunk(void *ud, const char *json, size_t len,
                        int usage_only)
{
    struct relay *x = ud;

    if (x->r->ev.ttft_ms < 0 && !usage_only)
        x->r->ev.ttft_ms = req_elapsed_ms(x->r);
    if (x->guard.set != NULL)          /* guardrails check the stream */
        return guard_relay_chunk(x, json, len, usage_only);
    return x->fe->chunk(x, json, len, usage_only);
}

static int is_stream_type(struct worker *w)
{
    char *ct = NULL;

    curl_easy_getinfo(w->curl, CURLINFO_CONTENT_TYPE, &ct);
    return ct != NULL &&
           (strncasecmp(ct, "text/event-stream", 17) == 0 ||
            strncasecmp(ct, "application/vnd.amazon.eventstream", 34) == 0);
}

static int on_data(void *ud, const char *p, size_t n)
{
    struct relay_io *io = ud;
    struct relay *x = io->x;
    struct worker *w = x->r->w;

    if (!io->checked) {
        long st = upstream_status(w);

        io->checked = 1;
        x->r->ev.upstream_status = (int)st;
        io->sse_mode = x->p.stream && st >= 200 && st < 300 &&
                       is_stream_type(w);
        if (io->sse_mode &&
            req_start(x->r, 200, "text/event-stream",
                      "Cache-Control: no-cache\r\n"
                      "X-Accel-Buffering: no\r\n") < 0)
            return -1;
    }
    if (io->sse_mode) {
        if (x->call.be->ops->stream(&x->call, p, n, &io->sink,
                                    &io->done) < 0) {
            if (!x->r->client_gone)
                io->bad_stream = 1;
            return -1;
        }
        return 0;
    }
    if (w->resp.len + n > x->call.be->max_response_bytes) {
        io->too_big = 1;
        return -1;
    }
    buf_add(&w->resp, p, n);
    return 0;
}

/* The stream broke off after the client got its headers: say so in the
 * stream and record what was generated as partial. */
static void stream_finish(struct relay_io *io,
                          const struct upstream_result *res)
{
    struct relay *x = io->x;
    struct request *r = x->r;
    const char *code = NULL;

    r->ev.http_status = 200;
    if (x->guard.blocked && !r->client_gone) {   /* a guardrail stopped it */
        r->ev.partial = 1;
        r->ev.error_type = "guardrail";
        x->fe->stream_end(x, "guardrail_blocked");
        return;
    }
    if (!io->done || res->fail != UP_OK) {
        code = res->fail == UP_TIMEOUT ? "upstream_timeout"
             : io->bad_stream ? "upstream_bad_event"
                              : "upstream_truncated";
        r->ev.partial = 1;
        r->ev.error_type = code;
    }
    if (r->client_gone) {
        r->ev.error_type = "client_closed";
        r->ev.http_status = 499;
        return;
    }
    x->fe->stream_end(x, code);
    if (r->client_gone) {
        r->ev.error_type = "client_closed";
        r->ev.http_status = 499;
    }
}

static void fail(struct relay *x, int status, const char *code,
                 const char *msg)
{
    struct buf b = BUF_INIT(4096);

    x->r->ev.http_status = status;
    x->r->ev.error_type = code;
    oai_error(&b, msg, oai_error_type(status), code);
    x->fe->error(x, status, b.ptr, b.len, "");
    buf_release(&b);
}

/* A non-2xx reply: mapped by the provider to OpenAI's shape, with the
 * status kept (and Retry-After passed on). */
static void relay_upstream_error(struct relay *x,
                                 const struct upstream_result *res)
{
    struct worker *w = x->r->w;
    struct buf *out = &w->out;
    char extra[96] = "";
    int st = res->status >= 400 && res->status <= 599 ? (int)res->status
                                                       : 502;

    buf_reset(out);
    x->call.be->ops->error(&x->call, res->status,
                           w->resp.ptr ? w->resp.ptr : "", w->resp.len, out);
    if (res->retry_after[0] != '\0')
        snprintf(extra, sizeof(extra), "Retry-After: %s\r\n",
                 res->retry_after);
    x->r->ev.http_status = st;
    x->r->ev.error_type = "upstream_error";
    x->fe->error(x, st, out->ptr ? out->ptr : "", out->len, extra);
}

static void relay_reply(struct relay_io *io,
                        const struct upstream_result *res)
{
    struct relay *x = io->x;
    struct worker *w = x->r->w;

    if (res->fail == UP_CONNECT) {
        fail(x, 502, "upstream_unreachable",
             "the upstream provider could not be reached");
    } else if (res->fail == UP_TIMEOUT) {
        fail(x, 504, "upstream_timeout",
             "the upstream provider did not answer in time");
    } else if (io->too_big) {
        fail(x, 502, "upstream_response_too_large",
             "the upstream response exceeded the configured limit");
    } else if (res->fail != UP_OK) {
        fail(x, 502, "upstream_broken", "the upstream connection failed "
             "before the response was complete");
    } else if (res->status < 200 || res->status > 299) {
        relay_upstream_error(x, res);
    } else {
        buf_reset(&w->out);
        if (x->call.be->ops->parse(&x->call, w->resp.ptr ? w->resp.ptr : "",
                                   w->resp.len, &w->out) < 0) {
            fail(x, 502, "upstream_bad_response",
                 "the upstream provider sent an unreadable response");
            return;
        }
        x->r->ev.http_status = 200;
        if (w->out.len > 0) {
            if (guard_relay_reply(x, w->out.ptr, w->out.len) == 0)
                x->fe->reply(x, w->out.ptr, w->out.len);
        } else if (guard_relay_reply(x, w->resp.ptr ? w->resp.ptr : "",
                                     w->resp.len) == 0) {
            x->fe->reply(x, w->resp.ptr ? w->resp.ptr : "", w->resp.len);
        }
        if (x->r->client_gone) {
            x->r->ev.http_status = 499;
            x->r->ev.error_type = "client_closed";
        }
    }
}

static void call_upstream(struct relay *x)
{
    struct worker *w = x->r->w;
    const struct backend *be = x->call.be;
    struct relay_io io = { .x = x };
    struct upstream_result res;
    struct upstream_extra extra = { x->call.aws_sigv4, x->call.userpwd };

    io.sink.chunk = client_chunk;
    io.sink.ctx = x;
    upstream_call(w, be, w->url.ptr, w->upbody.ptr, w->upbody.len,
                  x->call.hdrs, &extra, on_data, &io, &res);
    x->call.hdrs = NULL;          /* freed by upstream_call */
    if (res.fail != UP_OK && res.fail != UP_ABORTED)
        log_warn(x->r->request_id, "upstream %s: %s", be->name, res.detail);
    if (io.sse_mode)
        stream_finish(&io, &res);
    else
        relay_reply(&io, &res);
}

static void release_call(struct relay *x)
{
    if (x->call.be != NULL && x->call.be->ops->finish != NULL)
        x->call.be->ops->finish(&x->call);
    curl_slist_free_all(x->call.hdrs);
    if (x->call.userpwd != NULL) {
        memset(x->call.userpwd, 0, strlen(x->call.userpwd));
        free(x->call.userpwd);
    }
}

void relay_handle(struct request *r, const struct route *rt,
                  enum provider_op op, const struct frontend *fe)
{
    struct worker *w = r->w;
    struct relay x = { .r = r, .fe = fe };
    json_object *req = NULL;
    const struct backend *be;

    if (fe->parse(r, op, &req, &x.p) < 0)
        goto out;
    usage_set(r->ev.requested_model, sizeof(r->ev.requested_model),
              x.p.model);
    r->ev.stream = x.p.stream;
    be = route_backend(rt, x.p.model);
    if (be == NULL) {
        char msg[256];

        snprintf(msg, sizeof(msg), "The model `%s` does not exist or you do "
                 "not have access to it.", x.p.model);
        fail(&x, 404, "model_not_found", msg);
        goto out;
    }
    if (r->ident != NULL &&      /* RBAC and key scopes on the model */
        !rbac_allow_model(r->w->cfg->authz->rbac, r->ident, rt->name,
                          be->name, x.p.model)) {
        fail(&x, 403, "model_not_allowed", "You do not have access to "
             "this model.");
        goto out;
    }
    r->ev.backend = be->name;
    r->ev.provider = be->provider;
    buf_reset(&w->url);
    buf_reset(&w->upbody);
    buf_reset(&w->resp);
    buf_reset(&w->scratch);
    sse_reset(&w->sse);
    x.call = (struct provider_call){
        .be = be, .op = op, .req = req, .model = x.p.model,
        .stream = x.p.stream, .request_id = r->request_id, .ev = &r->ev,
        .sse = &w->sse, .scratch = &w->scratch, .url = &w->url,
        .body = &w->upbody,
        .raw_body = fe->passthrough ? r->body : NULL,
        .raw_body_len = fe->passthrough ? r->body_len : 0,
    };
    if (req == NULL && (x.call.stream || x.call.raw_body == NULL ||
                        !be->ops->raw_passthrough ||
                        guard_relay_wants_request(&x))) {
        /* validated by the scanner: the same text json-c accepts */
        x.call.req = req = jparse(r->body, r->body_len, NULL);
        if (req == NULL) {
            req_error(r, 400, "invalid_request_error", "invalid_json",
                      "the request body is not valid JSON: parse error");
            goto out;
        }
    }
    if (guard_relay_request(&x, req) < 0)   /* blocked: no provider call */
        goto out;
    if (x.guard.modified) {                 /* masked: rebuild the body */
        x.call.raw_body = NULL;
        x.call.raw_body_len = 0;
    }
    if (be->ops->build(&x.call) < 0) {
        int st = x.call.build_status;

        fail(&x, st ? st : 400, st ? "upstream_auth_failed"
                                   : "unsupported_operation",
             w->scratch.len > 0 ? w->scratch.ptr
             : "this model's provider does not support the operation");
        goto out;
    }
    call_upstream(&x);
out:
    guard_relay_finish(&x);
    release_call(&x);
    json_object_put(req);
}

/* --- the OpenAI dialect: the unified shape itself ---------------------- */

/* The body is checked with the scanner and relayed as it came; no tree
 * is built unless a guard or the provider needs one (relay_handle). A
 * body the scanner refuses (or a bare null) takes the json-c path for
 * json-c's own message. */
static int openai_parse_req(struct request *r, enum provider_op op,
                            json_object **out, struct chat_params *p)
{
    const char *why = NULL, *param = NULL;
    struct jspan root;
    char msg[256];
    int rc;

    *out = NULL;
    if (r->body_len <= INT32_MAX - 1 &&
        jscan(r->body, r->body_len, &root) == 0 && root.type != JS_NULL) {
        rc = op == PROV_EMBED ? embed_validate_scan(&root, p, &why, &param)
                              : chat_validate_scan(&root, p, &why, &param);
    } else {
        *out = jparse(r->body, r->body_len, &why);
        if (*out == NULL) {
            snprintf(msg, sizeof(msg),
                     "the request body is not valid JSON: %s",
                     why ? why : "parse error");
            req_error(r, 400, "invalid_request_error", "invalid_json", msg);
            return -1;
        }
        rc = op == PROV_EMBED ? embed_validate(*out, p, &why, &param)
                              : chat_validate(*out, p, &why, &param);
    }
    if (rc < 0) {
        req_error(r, 400, "invalid_request_error",
                  param ? "invalid_value" : "invalid_request", why);
        return -1;
    }
    return 0;
}

static int openai_chunk(struct relay *x, const char *json, size_t len,
                        int usage_only)
{
    struct request *r = x->r;

    if (usage_only && !x->p.client_usage)
        return 0;       /* we asked for it; the client did not */
    if (req_write(r, "data: ", 6) < 0 || req_write(r, json, len) < 0 ||
        req_write(r, "\n\n", 2) < 0 || req_flush(r) < 0)
        return -1;
    return 0;
}

static void openai_stream_end(struct relay *x, const char *code)
{
    struct request *r = x->r;
    struct buf b = BUF_INIT(1024);

    if (code == NULL) {
        req_write(r, "data: [DONE]\n\n", 14);
    } else {
        buf_adds(&b, "data: ");
        oai_error(&b, strcmp(code, "guardrail_blocked") == 0
                  ? "the response was blocked by the guardrail policy"
                  : "the upstream stream ended before completion",
                  "upstream_error", code);
        buf_adds(&b, "\n\n");
        req_write(r, b.ptr, b.len);
    }
    req_flush(r);
    buf_release(&b);
}

static void openai_reply(struct relay *x, const char *json, size_t len)
{
    req_send_json(x->r, 200, json, len, "");
}

static void openai_error_out(struct relay *x, int status, const char *json,
                             size_t len, const char *extra)
{
    req_send_json(x->r, status, json, len, extra);
}

const struct frontend frontend_openai = {
    .name = "openai",
    .passthrough = 1,
    .parse = openai_parse_req,
    .chunk = openai_chunk,
    .stream_end = openai_stream_end,
    .reply = openai_reply,
    .error = openai_error_out,
};
