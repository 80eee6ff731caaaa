#include "relay.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "authcfg.h"
#include "capture.h"
#include "circuit.h"
#include "config.h"
#include "failover.h"
#include "jscan.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "rbac.h"
#include "providers/oai.h"
#include "quota.h"
#include "request.h"
#include "trace.h"
#include "router.h"
#include "transform.h"
#include "upstream.h"
#include "worker.h"

/* Replaces the value of the first "model" member of json with name, into
 * out; returns 1 when it did. */
int relay_rewrite_model(const char *json, size_t len, const char *name,
                        struct buf *out)
{
    const char *p = json, *end = json + len, *v, *q;

    for (; end - p >= 7 && (p = memchr(p, '"', (size_t)(end - p))) != NULL;
         p++) {
        if (end - p < 7 || memcmp(p, "\"model\"", 7) != 0)
            continue;
        v = p + 7;
        while (v < end && (*v == ' ' || *v == '\t' || *v == '\n' ||
                           *v == '\r'))
            v++;
        if (v < end && *v == ':') {
            for (v++; v < end && (*v == ' ' || *v == '\t' || *v == '\n' ||
                                  *v == '\r'); v++)
                ;
            if (v >= end || *v != '"')
                return 0;
            for (q = v + 1; q < end && *q != '"'; q++)
                if (*q == '\\')
                    q++;
            if (q >= end)
                return 0;
            buf_add(out, json, (size_t)(v - json));
            buf_add_json_str(out, name, strlen(name));
            buf_add(out, q + 1, (size_t)(end - q - 1));
            return buf_error(out) == 0;
        }
    }
    return 0;
}

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

    struct buf rw = BUF_INIT(1 << 24);
    int rc;

    if (x->r->ev.ttft_ms < 0 && !usage_only)
        x->r->ev.ttft_ms = req_elapsed_ms(x->r);
    if (x->report_model != NULL &&      /* virtualized model name */
        relay_rewrite_model(json, len, x->report_model, &rw)) {
        json = rw.ptr;
        len = rw.len;
    }
    if (!usage_only)
        capture_chunk(x->r, json, len);      /* off: one check */
    if (x->guard.set != NULL)          /* guardrails check the stream */
        rc = guard_relay_chunk(x, json, len, usage_only);
    else
        rc = x->fe->chunk(x, json, len, usage_only);
    buf_release(&rw);
    return rc;
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
        if (x->report_model != NULL) {     /* virtualized model name */
            const char *src = w->out.len ? w->out.ptr : w->resp.ptr;
            size_t n = w->out.len ? w->out.len : w->resp.len;
            struct buf rw = BUF_INIT((size_t)1 << 30);

            if (src != NULL && relay_rewrite_model(src, n, x->report_model,
                                                   &rw)) {
                buf_reset(&w->out);
                buf_add(&w->out, rw.ptr, rw.len);
            }
            buf_release(&rw);
        }
        capture_reply(x->r, w->out.len ? w->out.ptr : w->resp.ptr,
                      w->out.len ? w->out.len : w->resp.len);
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

/* One upstream exchange; the outcome is in *io and *res, nothing has been
 * answered unless a stream started (r->headers_sent). */
static void call_upstream(struct relay *x, struct relay_io *io,
                          struct upstream_result *res)
{
    struct worker *w = x->r->w;
    const struct backend *be = x->call.be;
    struct upstream_extra extra = { x->call.aws_sigv4, x->call.userpwd };

    *io = (struct relay_io){ .x = x };
    io->sink.chunk = client_chunk;
    io->sink.ctx = x;
    {   /* W3C trace context: the provider sees the gateway's span */
        char tp[96];

        trace_header(&x->r->ev, tp, sizeof(tp));
        x->call.hdrs = curl_slist_append(x->call.hdrs, tp);
    }
    upstream_call(w, be, w->url.ptr, w->upbody.ptr, w->upbody.len,
                  x->call.hdrs, &extra, on_data, io, res);
    x->call.hdrs = NULL;          /* freed by upstream_call */
    if (res->fail != UP_OK && res->fail != UP_ABORTED)
        log_warn(x->r->request_id, "upstream %s: %s", be->name, res->detail);
}

static void deliver(struct relay_io *io, const struct upstream_result *res)
{
    if (io->sse_mode)
        stream_finish(io, res);
    else
        relay_reply(io, res);
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
    x->call.hdrs = NULL;
    x->call.userpwd = NULL;
    x->call.st = NULL;
    x->call.be = NULL;
}

/* --- candidates and failover (failover.c, circuit.c) ------------------ */

/* Prepares the call to candidate c: model, body, headers. 0, or -1 when
 * the client has been answered. */
static int prepare(struct relay *x, const struct route *rt,
                   const struct fo_cand *c, json_object *req, int modified,
                   const char *body_model)
{
    struct request *r = x->r;
    struct worker *w = r->w;
    const char *cur = jget_str(req, "model");

    release_call(x);                  /* the previous attempt's */
    if (req != NULL && (cur == NULL || strcmp(cur, c->model) != 0))
        jadd(req, "model", json_object_new_string(c->model));
    if (body_model == NULL || strcmp(body_model, c->model) != 0)
        modified = 1;                 /* virtualized: not the client's */
    r->ev.backend = c->be->name;
    r->ev.provider = c->be->provider;
    r->ev.served_model[0] = '\0';
    r->ev.upstream_status = 0;
    r->ev.prompt_tokens = r->ev.completion_tokens = 0;
    r->ev.total_tokens = r->ev.cached_tokens = 0;
    r->ev.has_usage = 0;
    r->ev.error_type = NULL;
    buf_reset(&w->url);
    buf_reset(&w->upbody);
    buf_reset(&w->resp);
    buf_reset(&w->scratch);
    sse_reset(&w->sse);
    x->call = (struct provider_call){
        .be = c->be, .op = x->call.op, .req = req, .model = c->model,
        .stream = x->p.stream, .request_id = r->request_id, .ev = &r->ev,
        .sse = &w->sse, .scratch = &w->scratch, .url = &w->url,
        .body = &w->upbody,
        .raw_body = x->fe->passthrough && !modified ? r->body : NULL,
        .raw_body_len = x->fe->passthrough && !modified ? r->body_len : 0,
    };
    if (c->be->ops->build(&x->call) < 0) {
        int st = x->call.build_status;

        fail(x, st ? st : 400, st ? "upstream_auth_failed"
                                  : "unsupported_operation",
             w->scratch.len > 0 ? w->scratch.ptr
             : "this model's provider does not support the operation");
        return -1;
    }
    x->call.hdrs = transform_headers(rt->ext ? rt->ext->xf : NULL,
                                     x->call.hdrs, r);
    return 0;
}

/* Whether a later candidate could still be tried; fresh: one that is
 * not held off by a Retry-After either. */
static int more_left(const struct fo_cand *c, size_t from, size_t n,
                     int fresh)
{
    for (size_t i = from; i < n; i++) {
        enum circuit_state st = circuit_peek(c[i].be->name);

        if (st == CB_CLOSED || st == CB_HALF_OPEN ||
            (!fresh && st == CB_HELD))
            return 1;
    }
    return 0;
}

/* Whether candidate i may be called now: open circuits are skipped; a
 * backend held off by Retry-After only while another can be tried (a
 * model-specific 429 must not take a lone backend out). */
static int may_call(const struct fo_cand *c, size_t i, size_t n)
{
    switch (circuit_peek(c[i].be->name)) {
    case CB_CLOSED:
        return 1;
    case CB_HELD:
        return !more_left(c, i + 1, n, 1);
    case CB_HALF_OPEN:
        return circuit_allow(c[i].be->name);   /* the one probe */
    default:
        return 0;
    }
}

/* Records the outcome for the circuit breaker (logging an ejection) and
 * Retry-After. */
static void judge(const struct config *cfg, const struct backend *be,
                  const struct upstream_result *res, const char *req_id)
{
    struct circuit_ejection ej;
    int bad;
    long ra;

    bad = res->fail == UP_CONNECT || res->fail == UP_TIMEOUT ||
          res->fail == UP_BROKEN ||
          (res->fail == UP_OK && res->status >= 500);
    if (circuit_result(be->name, !bad, failover_circuit(cfg, be), &ej) > 0) {
        log_warn(req_id, "circuit: backend %s ejected for %ld ms "
                 "(ejection %d in a row; %s %d of %d)", be->name, ej.ms,
                 ej.count, ej.by_rate ? "error rate: failed" :
                 "consecutive failures:", ej.fails, ej.total);
        metrics_ejection(be->name, ej.by_rate);
    }
    if (res->status == 429 || res->status == 503) {
        ra = failover_retry_after_ms(cfg->routing, res->retry_after,
                                     (long)time(NULL));
        if (ra > 0)
            circuit_hold(be->name, ra);
    }
}

static void relay_attempts(struct relay *x, const struct route *rt,
                           const struct fo_cand *c, size_t n,
                           json_object *req, int modified,
                           const char *body_model, unsigned *seed)
{
    struct request *r = x->r;
    const struct config *cfg = r->w->cfg;
    const struct routing_settings *rs = cfg->routing;
    struct relay_io io;
    struct upstream_result res;
    int tried = 0, pending = 0;

    for (size_t i = 0; i < n; i++) {
        int cap = failover_max_concurrent(cfg, c[i].be);
        long pause;

        if (!circuit_enter(c[i].be->name, cap))
            continue;             /* at its concurrency cap */
        if (!may_call(c, i, n)) { /* open, or held off */
            circuit_leave(c[i].be->name, cap);
            continue;
        }
        if (tried > 0 && (pause = failover_backoff_ms(rs, tried + 1,
                                                      seed)) > 0)
            usleep((useconds_t)pause * 1000);
        r->ev.attempts = ++tried;
        pending = 0;                  /* prepare() resets the buffers */
        if (prepare(x, rt, &c[i], req, modified, body_model) < 0) {
            circuit_leave(c[i].be->name, cap);
            return;
        }
        x->report_model = rs->report_requested &&
                          strcmp(c[i].model, x->p.model) != 0
                          ? x->p.model : NULL;
        if (rt->ext && rt->ext->report_requested >= 0)
            x->report_model = rt->ext->report_requested &&
                              strcmp(c[i].model, x->p.model) != 0
                              ? x->p.model : NULL;
        call_upstream(x, &io, &res);
        circuit_leave(c[i].be->name, cap);
        judge(cfg, c[i].be, &res, r->request_id);
        pending = 1;
        if (r->headers_sent || io.too_big || r->client_gone ||
            !failover_retryable(rs, res.fail, res.status) ||
            tried >= rs->max_attempts || !more_left(c, i + 1, n, 0) ||
            req_elapsed_ms(r) >= rs->deadline_ms)
            break;
        log_warn(r->request_id, "failover: backend %s (model %s) failed "
                 "(%s, HTTP %ld); trying the next candidate", c[i].be->name,
                 c[i].model, res.fail == UP_OK ? "status" : res.detail,
                 res.status);
    }
    if (pending) {
        deliver(&io, &res);
    } else if (tried == 0) {
        fail(x, 503, "no_healthy_backend", "every backend for this model is "
             "unavailable right now (circuit open, rate-limited or at its "
             "concurrency limit); retry later");
    } else {        /* the last failed one can't be answered any more */
        fail(x, 502, "upstream_failover_exhausted", "every backend for "
             "this model failed");
    }
}

/* The model the route imposes, checked like the body's. */
static const char *route_model(const struct route *rt, struct request *r,
                               char *buf, size_t bufsz)
{
    const char *m = router_model(rt, r, buf, bufsz);

    if (m == NULL || *m == '\0' || strlen(m) > 128)
        return NULL;
    for (const char *p = m; *p; p++)
        if ((unsigned char)*p < 0x20)
            return NULL;
    return m;
}

/* Drops the candidates RBAC and key scopes forbid; returns the count. */
static size_t allowed(struct request *r, const struct route *rt,
                      struct fo_cand *c, size_t n)
{
    size_t k = 0;

    if (r->ident == NULL)
        return n;
    for (size_t i = 0; i < n; i++)
        if (rbac_allow_model(r->w->cfg->authz->rbac, r->ident, rt->name,
                             c[i].be->name, c[i].model))
            c[k++] = c[i];
    return k;
}

/* Degrade: the completion capped at cap tokens (quota.c). */
static void cap_max_tokens(json_object *req, long cap)
{
    static const char *const keys[] = { "max_completion_tokens",
                                        "max_tokens" };
    int seen = 0;

    for (int i = 0; i < 2; i++) {
        int64_t v = jget_int(req, keys[i], -1);

        if (v >= 0)
            seen = 1;
        if (v < 0 ? 0 : v > cap)
            jadd(req, keys[i], json_object_new_int64(cap));
    }
    if (!seen)
        jadd(req, "max_tokens", json_object_new_int64(cap));
}

/* The openai frontend only validates the body: does anything here need
 * it as a json-c tree? Everything that reads or rewrites the request does
 * (streams, guards, quotas, body transforms, a candidate serving another
 * model name, a provider that translates); relaying the client's bytes to
 * OpenAI(-compatible) backends as they came does not. */
static int needs_tree(struct relay *x, const struct route *rt,
                      const struct fo_cand *c, size_t n)
{
    if (x->p.stream || !x->fe->passthrough || quota_active(x->r->w->cfg) ||
        (rt->ext != NULL && rt->ext->xf != NULL) ||
        guard_relay_wants_request(x))
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!c[i].be->ops->raw_passthrough ||
            strcmp(c[i].model, x->p.model_buf) != 0)
            return 1;
    return 0;
}

void relay_handle(struct request *r, const struct route *rt,
                  enum provider_op op, const struct frontend *fe)
{
    struct relay x = { .r = r, .fe = fe };
    struct quota_degrade deg = { NULL, 0 };
    json_object *req = NULL, *asked = NULL;
    const char *body_model;
    struct fo_cand cands[FO_MAX_CANDS];
    char qbuf[160];
    const char *forced;
    size_t n;
    int aliased, modified;
    unsigned seed = (unsigned)r->t_start.tv_nsec ^ (unsigned)r->w->idx << 20;

    x.call.op = op;
    if (fe->parse(r, op, &req, &x.p) < 0)
        goto out;
    /* x.p.model borrows the body's string: keep it while the body's model
     * is replaced per candidate */
    if ((forced = route_model(rt, r, qbuf, sizeof(qbuf))) != NULL)
        x.p.model = forced;          /* path, header or query decides */
    usage_set(r->ev.requested_model, sizeof(r->ev.requested_model),
              x.p.model);
    r->ev.stream = x.p.stream;
    r->ev.operation = op == PROV_EMBED ? "embeddings" : "chat";
    if (!plan_allows_model(r, x.p.model)) {     /* plan.c */
        fail(&x, 403, "model_not_allowed", "Your plan does not include "
             "this model.");
        goto out;
    }
    /* degrade before the wall (quota.c), never to a model outside the
     * caller's plan */
    if (quota_degrade(r, x.p.model, &deg) && deg.model != NULL) {
        if (plan_allows_model(r, deg.model)) {
            x.p.model = deg.model;
        } else {
            log_warn(r->request_id, "degrade: %s is outside the caller's "
                     "plan; the model is kept", deg.model);
            deg.model = NULL;
            if (deg.max_tokens == 0)
                r->ev.degraded[0] = '\0';
        }
    }
    n = failover_candidates(r->w->cfg, rt, x.p.model, cands, FO_MAX_CANDS,
                            &seed, &aliased);
    if (n == 0) {
        char msg[256];

        snprintf(msg, sizeof(msg), "The model `%s` does not exist or you do "
                 "not have access to it.", x.p.model);
        fail(&x, 404, "model_not_found", msg);
        goto out;
    }
    if ((n = allowed(r, rt, cands, n)) == 0) {
        fail(&x, 403, "model_not_allowed", "You do not have access to "
             "this model.");
        goto out;
    }
    if (req == NULL && needs_tree(&x, rt, cands, n)) {
        /* validated by the scanner: the same text json-c accepts */
        if ((req = jparse(r->body, r->body_len, NULL)) == NULL) {
            req_error(r, 400, "invalid_request_error", "invalid_json",
                      "the request body is not valid JSON: parse error");
            goto out;
        }
    }
    /* the body's model, kept while the body's model is replaced per
     * candidate (x.p.model may be the route's forced one) */
    asked = json_object_get(json_object_object_get(req, "model"));
    body_model = asked != NULL ? json_object_get_string(asked)
               : req == NULL ? x.p.model_buf : NULL;
    if (deg.max_tokens > 0 && req != NULL)
        cap_max_tokens(req, deg.max_tokens);
    if (quota_admit(r, x.p.model, req, op == PROV_EMBED) < 0)
        goto out;                /* 429: a rate limit or quota (quota.c) */
    r->ev.backend = cands[0].be->name;
    r->ev.provider = cands[0].be->provider;
    if (guard_relay_request(&x, req) < 0)   /* blocked: no provider call */
        goto out;
    modified = x.guard.modified || deg.max_tokens > 0;  /* rebuild */
    if (transform_body(rt->ext ? rt->ext->xf : NULL, req, r))
        modified = 1;
    capture_request(r, req);     /* the prompt as sent (capture.c) */
    relay_attempts(&x, rt, cands, n, req, modified, body_model, &seed);
out:
    guard_relay_finish(&x);
    release_call(&x);
    json_object_put(req);
    json_object_put(asked);
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
