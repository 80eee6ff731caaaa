#include "guard_relay.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "guard_webhook.h"
#include "jsonutil.h"
#include "log.h"
#include "moderation.h"
#include "providers/oai.h"
#include "relay.h"
#include "request.h"
#include "worker.h"

#define GUARD_TEXT_MAX (64u << 20)

static const struct guardrails *cfg_guards(const struct relay *x)
{
    return x->r->w->cfg->guardrails;
}

/* Records what acted in the usage event (ledger, access log, metrics). */
static void record(struct relay *x, enum guard_outcome o, const char *phase,
                   const char *check)
{
    struct usage_event *ev = &x->r->ev;

    if ((int)o < ev->guard_outcome)
        return;
    ev->guard_outcome = (int)o;
    snprintf(ev->guardrail, sizeof(ev->guardrail), "%s:%s:%s",
             x->guard.set->name, phase, check);
}

static void block(struct relay *x, int status, const char *code,
                  const char *msg, const char *phase, const char *check)
{
    struct buf b = BUF_INIT(8192);

    record(x, GUARD_BLOCKED, phase, check);
    x->r->ev.http_status = status;
    x->r->ev.error_type = "guardrail";
    oai_error(&b, msg, oai_error_type(status), code);
    x->fe->error(x, status, b.ptr ? b.ptr : "", b.len, "");
    buf_release(&b);
}

static void block_rules(struct relay *x, const struct guard_dir *d,
                        const char *phase)
{
    char msg[384];
    const struct guard_hits *h = &x->guard.hits;

    if (h->error)
        snprintf(msg, sizeof(msg), "The %s could not be checked by the "
                 "guardrail (%s: match limit reached) and was blocked.",
                 phase, h->names);
    else if (d->message != NULL)
        snprintf(msg, sizeof(msg), "%s", d->message);
    else
        snprintf(msg, sizeof(msg), "The %s was blocked by the guardrail "
                 "policy (matched: %s).", phase, h->names);
    block(x, d->status, "guardrail_violation", msg, phase, "regex");
}

/* Scans holder[key] (a string); masks it in place. 1 masked, 0 clean, -1
 * blocked (not answered yet). */
static int scan_field(struct relay *x, const struct guard_dir *d,
                      json_object *holder, const char *key, int *masked)
{
    struct buf out = BUF_INIT(GUARD_TEXT_MAX);
    json_object *v;
    int rc;

    if (!json_object_object_get_ex(holder, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return 0;
    rc = guard_scan(cfg_guards(x), d, json_object_get_string(v),
                    (size_t)json_object_get_string_len(v), &out,
                    &x->guard.hits);
    if (rc < 0 || (rc > 0 && d->mode == GUARD_REJECT) || buf_error(&out)) {
        buf_release(&out);
        return -1;
    }
    if (rc > 0) {
        json_object_object_add(holder, key, json_object_new_string_len(
                                                out.ptr ? out.ptr : "",
                                                (int)out.len));
        *masked = 1;
    }
    buf_release(&out);
    return rc > 0;
}

static unsigned role_of(json_object *msg)
{
    const char *r = jget_str(msg, "role");
    static const char *names[] = { "system", "user", "assistant", "tool",
                                   "developer" };

    for (unsigned i = 0; r != NULL && i < 5; i++)
        if (strcmp(r, names[i]) == 0)
            return 1u << i;
    return 0;
}

static int regex_request(struct relay *x, json_object *msgs)
{
    const struct guard_set *s = x->guard.set;
    int masked = 0;

    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *c;

        if ((role_of(m) & s->roles) == 0 ||
            !json_object_object_get_ex(m, "content", &c))
            continue;
        if (json_object_is_type(c, json_type_string)) {
            if (scan_field(x, &s->req, m, "content", &masked) < 0)
                return -1;
            continue;
        }
        if (!json_object_is_type(c, json_type_array))
            continue;
        for (size_t k = 0; k < json_object_array_length(c); k++)
            if (scan_field(x, &s->req, json_object_array_get_idx(c, k),
                           "text", &masked) < 0)
                return -1;
    }
    if (masked) {
        x->guard.modified = 1;
        record(x, GUARD_MASKED, "request", "regex");
    }
    return 0;
}

/* {"role":..,"content":"text"} of a message into b. */
static void simple_message(struct buf *b, json_object *m)
{
    const char *role = jget_str(m, "role");
    json_object *c = NULL;
    struct buf t = BUF_INIT(GUARD_TEXT_MAX);

    json_object_object_get_ex(m, "content", &c);
    oai_content_text(c, &t);
    buf_adds(b, "{\"role\":");
    buf_add_json_str(b, role ? role : "user", strlen(role ? role : "user"));
    buf_adds(b, ",\"content\":");
    buf_add_json_str(b, t.ptr ? t.ptr : "", t.len);
    buf_addc(b, '}');
    buf_release(&t);
}

/* Sets dst[i].content from the webhook's masked list src[i].content. */
static int apply_mask(json_object *dst, json_object *src, const char *inner)
{
    int changed = 0;

    if (src == NULL || !json_object_is_type(src, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(src) &&
                       i < json_object_array_length(dst); i++) {
        json_object *s = json_object_array_get_idx(src, i);
        json_object *d = json_object_array_get_idx(dst, i), *c;

        if (inner != NULL && (!json_object_object_get_ex(s, inner, &s) ||
                              !json_object_object_get_ex(d, inner, &d)))
            continue;
        if (!json_object_object_get_ex(s, "content", &c) ||
            !json_object_is_type(c, json_type_string))
            continue;
        json_object_object_add(d, "content", json_object_get(c));
        changed = 1;
    }
    return changed;
}

/* Calls the webhook for phase; 0 pass/masked, -1 blocked (answered). */
static int webhook(struct relay *x, const char *phase, json_object *list,
                   const char *inner)
{
    const struct guard_webhook *wh = x->guard.set->webhook;
    const char *key = inner ? "choices" : "messages";
    struct buf b = BUF_INIT(GUARD_TEXT_MAX);
    struct wh_result res;
    json_object *masked = NULL;

    buf_addf(&b, "{\"body\":{\"%s\":[", key);
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *m = json_object_array_get_idx(list, i);

        if (i > 0)
            buf_addc(&b, ',');
        if (inner != NULL) {
            json_object_object_get_ex(m, inner, &m);
            buf_adds(&b, "{\"message\":");
        }
        simple_message(&b, m);
        if (inner != NULL)
            buf_addc(&b, '}');
    }
    buf_adds(&b, "]}}");
    guard_webhook_call(wh, phase, b.ptr ? b.ptr : "{}", b.len, &x->r->ev,
                       x->r->request_id, &res);
    buf_release(&b);
    switch (res.verdict) {
    case WH_PASS:
        return 0;
    case WH_MASK:
        json_object_object_get_ex(res.body, key, &masked);
        if (apply_mask(list, masked, inner)) {
            x->guard.modified = 1;
            record(x, GUARD_MASKED, phase, "webhook");
        }
        json_object_put(res.body);
        return 0;
    case WH_REJECT:
        block(x, res.status, "guardrail_violation", res.message, phase,
              "webhook");
        return -1;
    default:
        log_warn(x->r->request_id, "guardrail %s: webhook %s: %s (failing "
                 "%s)", x->guard.set->name, phase, res.message,
                 wh->fail_open ? "open" : "closed");
        if (wh->fail_open)
            return 0;
        block(x, 503, "guardrail_unavailable", "The guardrail service is "
              "unavailable; the request was not processed.", phase,
              "webhook");
        return -1;
    }
}

static int moderate(struct relay *x, json_object *msgs)
{
    const struct guard_moderation *m = x->guard.set->moderation;
    struct buf t = BUF_INIT(GUARD_TEXT_MAX);
    char cats[128], msg[384];
    int rc;

    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *e = json_object_array_get_idx(msgs, i), *c = NULL;

        if ((role_of(e) & x->guard.set->roles) == 0)
            continue;
        json_object_object_get_ex(e, "content", &c);
        if (t.len > 0)
            buf_addc(&t, '\n');
        oai_content_text(c, &t);
    }
    rc = moderation_check(m, t.ptr ? t.ptr : "", t.len, cats, sizeof(cats));
    buf_release(&t);
    if (rc == 0)
        return 0;
    if (rc > 0) {
        snprintf(msg, sizeof(msg), "The request was flagged by the "
                 "moderation check (%s).", cats[0] ? cats : "flagged");
        snprintf(x->guard.hits.names, sizeof(x->guard.hits.names), "%s",
                 cats);
        block(x, m->status, "content_flagged", msg, "request", "moderation");
        return -1;
    }
    log_warn(x->r->request_id, "guardrail %s: moderation failed (failing "
             "%s)", x->guard.set->name, m->fail_open ? "open" : "closed");
    if (m->fail_open)
        return 0;
    block(x, 503, "guardrail_unavailable", "The moderation service is "
          "unavailable; the request was not processed.", "request",
          "moderation");
    return -1;
}

int guard_relay_wants_request(const struct relay *x)
{
    return x->call.op == PROV_CHAT &&
           guardrails_for_route(cfg_guards(x), x->r->ev.route) != NULL;
}

int guard_relay_request(struct relay *x, json_object *req)
{
    const struct guard_set *s;
    json_object *msgs;

    s = x->guard.set = guardrails_for_route(cfg_guards(x), x->r->ev.route);
    if (s == NULL || x->call.op != PROV_CHAT ||
        !json_object_object_get_ex(req, "messages", &msgs) ||
        !json_object_is_type(msgs, json_type_array))
        return 0;
    if (s->req.n_rules > 0 && regex_request(x, msgs) < 0) {
        block_rules(x, &s->req, "request");
        return -1;
    }
    if (s->webhook != NULL && s->webhook->on_request &&
        webhook(x, "request", msgs, NULL) < 0)
        return -1;
    if (s->moderation != NULL && moderate(x, msgs) < 0)
        return -1;
    return 0;
}

static int regex_reply(struct relay *x, json_object *choices, int *masked)
{
    for (size_t i = 0; i < json_object_array_length(choices); i++) {
        json_object *m;

        if (json_object_object_get_ex(json_object_array_get_idx(choices, i),
                                      "message", &m) &&
            scan_field(x, &x->guard.set->resp, m, "content", masked) < 0)
            return -1;
    }
    return 0;
}

int guard_relay_reply(struct relay *x, const char *json, size_t len)
{
    const struct guard_set *s = x->guard.set;
    json_object *root, *choices;
    int masked = 0, rc = 0;

    if (s == NULL || x->call.op != PROV_CHAT ||
        (s->resp.n_rules == 0 &&
         (s->webhook == NULL || !s->webhook->on_response)))
        return 0;
    if ((root = jparse(json, len, NULL)) == NULL)
        return 0;
    if (!json_object_object_get_ex(root, "choices", &choices) ||
        !json_object_is_type(choices, json_type_array))
        goto out;
    if (s->resp.n_rules > 0 && regex_reply(x, choices, &masked) < 0) {
        block_rules(x, &s->resp, "response");
        rc = 1;
        goto out;
    }
    if (masked)
        record(x, GUARD_MASKED, "response", "regex");
    x->guard.modified = 0;
    if (s->webhook != NULL && s->webhook->on_response &&
        webhook(x, "response", choices, "message") < 0) {
        rc = 1;
        goto out;
    }
    if (masked || x->guard.modified) {
        const char *o = json_object_to_json_string_ext(root,
                                                       JSON_C_TO_STRING_PLAIN);

        x->fe->reply(x, o, strlen(o));
        rc = 1;
    }
out:
    json_object_put(root);
    return rc;
}

/* One choice of a chunk: its delta's content through the stream guard.
 * Returns 1 when the content changed, 0 not, -1 to block. */
static int chunk_choice(struct relay *x, json_object *ch)
{
    json_object *delta = NULL, *c = NULL, *fr = NULL;
    struct buf out = BUF_INIT(GUARD_TEXT_MAX);
    const char *s = "";
    size_t n = 0;
    int idx = (int)jget_int(ch, "index", 0), final, rc;

    json_object_object_get_ex(ch, "finish_reason", &fr);
    final = fr != NULL && !json_object_is_type(fr, json_type_null);
    if (json_object_object_get_ex(ch, "delta", &delta) &&
        json_object_object_get_ex(delta, "content", &c) &&
        json_object_is_type(c, json_type_string)) {
        s = json_object_get_string(c);
        n = (size_t)json_object_get_string_len(c);
    }
    if (n == 0 && !final)
        return 0;
    if (idx < 0 || idx >= GUARD_MAX_CHOICES)
        idx = GUARD_MAX_CHOICES - 1;
    rc = guard_stream_text(cfg_guards(x), &x->guard.set->resp,
                           &x->guard.pend[idx], s, n, final, &out,
                           &x->guard.hits);
    if (rc < 0 || buf_error(&out)) {
        buf_release(&out);
        return -1;
    }
    if (rc > 0)
        record(x, GUARD_MASKED, "response", "regex");
    if (out.len == n && (n == 0 || memcmp(out.ptr, s, n) == 0)) {
        buf_release(&out);
        return 0;
    }
    if (delta == NULL || !json_object_is_type(delta, json_type_object)) {
        delta = json_object_new_object();
        json_object_object_add(ch, "delta", delta);
    }
    json_object_object_add(delta, "content", json_object_new_string_len(
                                                 out.ptr ? out.ptr : "",
                                                 (int)out.len));
    buf_release(&out);
    return 1;
}

int guard_relay_chunk(struct relay *x, const char *json, size_t len,
                      int usage_only)
{
    json_object *root, *choices;
    int changed = 0, rc;

    if (x->guard.blocked)
        return -1;
    if (usage_only || x->guard.set == NULL ||
        x->guard.set->resp.n_rules == 0)
        return x->fe->chunk(x, json, len, usage_only);
    if ((root = jparse(json, len, NULL)) == NULL)
        return x->fe->chunk(x, json, len, usage_only);
    if (json_object_object_get_ex(root, "choices", &choices) &&
        json_object_is_type(choices, json_type_array))
        for (size_t i = 0; i < json_object_array_length(choices); i++) {
            rc = chunk_choice(x, json_object_array_get_idx(choices, i));
            if (rc < 0) {
                json_object_put(root);
                x->guard.blocked = 1;
                record(x, GUARD_BLOCKED, "response", "regex");
                return -1;
            }
            changed |= rc;
        }
    if (changed) {
        const char *o = json_object_to_json_string_ext(root,
                                                       JSON_C_TO_STRING_PLAIN);

        rc = x->fe->chunk(x, o, strlen(o), usage_only);
    } else {
        rc = x->fe->chunk(x, json, len, usage_only);
    }
    json_object_put(root);
    return rc;
}

void guard_relay_finish(struct relay *x)
{
    struct guard_ctx *gc = &x->guard;
    const struct usage_event *ev = &x->r->ev;

    for (size_t i = 0; i < GUARD_MAX_CHOICES; i++)
        buf_release(&gc->pend[i].text);
    if (gc->set == NULL || ev->guard_outcome == GUARD_NONE)
        return;
    /* rule names and categories only: never the matched text */
    log_info(x->r->request_id, "guardrail %s: %s (%s)",
             ev->guard_outcome == GUARD_BLOCKED ? "blocked" : "masked",
             ev->guardrail, gc->hits.names[0] ? gc->hits.names : "-");
}
