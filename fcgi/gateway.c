#include "gateway.h"

#include <string.h>
#include <strings.h>

#include "auth.h"
#include "authcfg.h"
#include "authlimit.h"
#include "buf.h"
#include "capture.h"
#include "prices.h"
#include "relay.h"
#include "config.h"
#include "frontend_anthropic.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "models.h"
#include "quota.h"
#include "admin.h"
#include "rbac.h"
#include "request.h"
#include "trace.h"
#include "router.h"
#include "transform.h"
#include "worker.h"

const struct route *router_match(const struct config *cfg, const char *path,
                                 size_t len)
{
    const struct route *best = NULL;

    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *rt = &cfg->routes[i];
        size_t pl = rt->prefix_len;

        if (pl == 1 && rt->prefix[0] == '/')
            pl = 0;                       /* "/" matches everything */
        if (len < pl || memcmp(path, rt->prefix, pl) != 0 ||
            (len > pl && path[pl] != '/'))
            continue;
        if (best == NULL || rt->prefix_len > best->prefix_len)
            best = rt;
    }
    return best;
}

static int path_is(const struct request *r, size_t off, const char *s)
{
    size_t n = strlen(s);

    return r->path_len - off == n && memcmp(r->path + off, s, n) == 0;
}

static void health(struct request *r)
{
    const char *body = ledger_failing()
        ? "{\"status\":\"failing\",\"ledger\":\"unavailable\"}\n"
        : ledger_degraded()
        ? "{\"status\":\"ok\",\"ledger\":\"spooling\"}\n"
        : "{\"status\":\"ok\",\"ledger\":\"ok\"}\n";
    int st = ledger_failing() ? 503 : 200;

    r->ev.http_status = st;
    req_send_json(r, st, body, strlen(body), "");
}

/* GET /metrics: the host's Prometheus text exposition. */
static void metrics_handle(struct request *r)
{
    struct buf *out = &r->w->out;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        req_error(r, 405, "invalid_request_error", "method_not_allowed",
                  "use GET");
        return;
    }
    buf_reset(out);
    metrics_render(out);
    if (buf_error(out) == 0 &&
        req_start(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                  "Cache-Control: no-store\r\n") == 0 &&
        strcmp(r->method, "HEAD") != 0)
        req_write(r, out->ptr ? out->ptr : "", out->len);
}

static int authenticate(struct request *r, const struct route *rt,
                        struct identity *id)
{
    const struct auth_settings *az = r->w->cfg->authz;
    int rc;

    if (authlimit_blocked(r->remote_addr, az->fail_max, az->fail_window_ms)) {
        memset(id, 0, sizeof(*id));
        req_error(r, 429, "rate_limit_error", "too_many_failed_attempts",
                  "Too many failed authentication attempts; retry later.");
        return -1;
    }
    rc = auth_authenticate(&r->w->db, r, authcfg_route_mode(r->w->cfg, rt),
                           id);
    switch (rc) {
    case AUTH_OK:
        usage_set(r->ev.api_key_id, sizeof(r->ev.api_key_id), id->api_key_id);
        usage_set(r->ev.user_id, sizeof(r->ev.user_id), id->user_id);
        usage_set(r->ev.group_id, sizeof(r->ev.group_id), id->group_id);
        r->ident = id;
        return 0;
    case AUTH_MISSING:
        req_error(r, 401, "invalid_request_error", "missing_api_key",
                  "You didn't provide an API key. Send it as "
                  "'Authorization: Bearer <key>'.");
        return -1;
    case AUTH_UNAVAILABLE:
        req_error(r, 503, "server_error", "auth_unavailable",
                  "The key could not be verified right now; retry later.");
        return -1;
    case AUTH_BAD_TOKEN:
        authlimit_fail(r->remote_addr, az->fail_window_ms);
        req_error(r, 401, "invalid_request_error", "invalid_token",
                  "The bearer token is invalid or expired.");
        return -1;
    default:
        authlimit_fail(r->remote_addr, az->fail_window_ms);
        req_error(r, 401, "invalid_request_error", "invalid_api_key",
                  "Incorrect API key provided.");
        return -1;
    }
}

static int check_body(struct request *r)
{
    char msg[128];

    switch (r->body_state) {
    case BODY_OK:
        break;
    case BODY_TOO_LARGE:
        snprintf(msg, sizeof(msg), "the request body exceeds the limit of "
                 "%zu bytes", r->w->cfg->max_body_bytes);
        req_error(r, 413, "invalid_request_error", "request_too_large", msg);
        return -1;
    default:
        req_error(r, 400, "invalid_request_error", "invalid_body",
                  "the request body is shorter than its Content-Length");
        return -1;
    }
    if (r->content_type != NULL && *r->content_type &&
        strncasecmp(r->content_type, "application/json", 16) != 0) {
        req_error(r, 415, "invalid_request_error", "unsupported_media_type",
                  "the request body must be application/json");
        return -1;
    }
    return 0;
}

static void dispatch(const struct config *cfg, struct request *r,
                     const struct route *rt, int *ledger)
{
    struct identity id;
    size_t off = router_path_off(rt, r->path, r->path_len);
    enum route_endpoint ep = router_endpoint(rt);    /* router.c */
    int chat = ep == ROUTE_EP_CHAT || path_is(r, off, "/chat/completions");
    int embed = ep == ROUTE_EP_EMBED || path_is(r, off, "/embeddings");
    int models = path_is(r, off, "/models");
    int messages = path_is(r, off, "/messages");   /* Anthropic's API */
    int usage = path_is(r, off, "/usage");         /* own limits (quota.c) */

    if (embed || messages)
        chat = 1;            /* the same flow: POST, body, relay */
    models |= usage;         /* the same flow: GET, no body */
    if (!chat && !models) {
        req_error(r, 404, "invalid_request_error", "unknown_url",
                  "Unknown request URL.");
        return;
    }
    if (strcmp(r->method, chat ? "POST" : "GET") != 0) {
        req_error(r, 405, "invalid_request_error", "method_not_allowed",
                  chat ? "use POST" : "use GET");
        return;
    }
    if (chat && check_body(r) < 0)
        return;
    if (authenticate(r, rt, &id) < 0)
        goto out;
    if (!rbac_allow_route(cfg->authz->rbac, &id, rt->name)) {
        req_error(r, 403, "permission_error", "route_not_allowed",
                  "You do not have access to this route.");
        goto out;
    }
    if (usage) {
        quota_usage_handle(r);
        goto out;
    }
    if (models) {
        models_handle(cfg, r, rt);
        goto out;
    }
    if (ledger_failing()) {
        req_error(r, 503, "server_error", "ledger_unavailable",
                  "Usage cannot be recorded right now; retry later.");
        goto out;
    }
    *ledger = 1;             /* an authenticated inference request */
    relay_handle(r, rt, embed ? PROV_EMBED : PROV_CHAT,
                 messages ? &frontend_anthropic : &frontend_openai);
out:
    r->ident = NULL;
    auth_identity_release(&id);
}

/* The request's outcome, and its quota reservation reconciled: before the
 * client has the response, so that its next request sees the quota as
 * this one left it. */
static void conclude(struct request *r)
{
    r->ev.request_id = r->request_id;
    r->ev.latency_ms = req_elapsed_ms(r);
    if (r->ev.http_status == 0)
        r->ev.http_status = r->status ? r->status : 500;
    quota_settle(r);          /* the reservation to the real usage */
}

/* Records the usage, after the response was delivered. */
static void settle(struct request *r, int to_ledger)
{
    struct buf *ledger = &r->w->ledger_line, *line = &r->w->log_line;

    buf_reset(ledger);
    buf_reset(line);
    if (r->ev.backend != NULL)          /* the log's and metrics' cost */
        r->ev.cost_pusd = prices_cost(&r->ev);
    /* one formatting pass for both lines */
    usage_event_lines(&r->ev, r->method, r->path, to_ledger ? ledger : NULL,
                      line);
    if (to_ledger) {
        if (buf_error(ledger))
            log_error(r->request_id, "usage event too large to record");
        else
            ledger_submit_json(ledger->ptr, ledger->len);
    }
    capture_log_fields(r, line);       /* prompt/response, if captured */
    metrics_observe(&r->ev);           /* observability: metrics, span */
    trace_export(&r->ev, r->method);
    if (buf_error(line) == 0)
        log_line(line->ptr, line->len);
}

void gateway_handle(const struct config *cfg, struct request *r)
{
    const struct route *rt;
    int to_ledger = 0;

    if (r->path_len == 8 && memcmp(r->path, "/healthz", 8) == 0) {
        health(r);
        return;                       /* probes are not logged */
    }
    if (cfg->obs.metrics && metrics_enabled() &&
        path_is(r, 0, cfg->obs.metrics_path)) {
        metrics_handle(r);
        return;                       /* scrapes are not logged */
    }
    metrics_request_begin();
    trace_begin(&r->ev, r->traceparent);
    if (r->path_len >= 9 &&
        memcmp(r->path + r->path_len - 9, "/messages", 9) == 0)
        r->error_out = frontend_anthropic_error;  /* Anthropic's shape */
    rt = router_select(cfg, r);          /* router.c */
    if (r->path_len > 7 && memcmp(r->path, "/admin/", 7) == 0) {
        admin_handle(cfg, r);         /* operator API (admin.c) */
    } else if (rt == NULL) {
        req_error(r, 404, "invalid_request_error", "unknown_url",
                  "Unknown request URL.");
    } else if (router_direct(rt, r)) {   /* a fixed answer, no backend */
        r->ev.route = rt->name;
    } else {
        r->ev.route = rt->name;
        if (rt->ext != NULL) {               /* transform.c */
            r->route_headers = transform_response_headers(rt->ext->xf);
            r->route_drop = transform_response_drop(rt->ext->xf);
        }
        dispatch(cfg, r, rt, &to_ledger);
    }
    conclude(r);
    req_finish(r);          /* usage is recorded off the response path */
    settle(r, to_ledger);
    metrics_request_end();
}
