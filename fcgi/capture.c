#include "capture.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "guardrails.h"
#include "jsonutil.h"
#include "request.h"
#include "worker.h"
#include "xalloc.h"

/* (max_bytes is capped at 16 KB: the access-log line holds 64 KB.) */
/* Text kept beyond max_bytes until masked: a secret or PII match that
 * straddles the cut (a PEM block) is still seen whole by the rules. */
#define MASK_MARGIN 65536

/* Always masked in captures, whatever the configuration. */
static const char *const secret_builtins[] = { "aws_access_key",
                                               "private_key", "jwt" };
static const struct { const char *name, *pattern; } secret_patterns[] = {
    { "api_key", "\\b(?:sk|pk|rk)[-_][A-Za-z0-9_\\-]{12,}" },
    { "bearer", "(?i)\\bbearer\\s+[A-Za-z0-9._~+/=\\-]{8,}" },
    { "basic_auth", "(?i)\\bbasic\\s+[A-Za-z0-9+/=]{8,}" },
    { "google_token", "\\bya29\\.[A-Za-z0-9_\\-]+" },
    { "google_api_key", "\\bAIza[0-9A-Za-z_\\-]{35}" },
    { "github_token", "\\bgh[pousr]_[A-Za-z0-9]{36,}" },
    { "slack_token", "\\bxox[abprs]-[A-Za-z0-9\\-]{10,}" },
};
static const char *const default_mask[] = { "email", "ssn", "credit_card",
                                            "phone", "iban" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- configuration ---------------------------------------------------- */

static int cbad(char *err, size_t errsz, const char *where, const char *what)
{
    snprintf(err, errsz, "observability.capture%s: %s", where, what);
    return -1;
}

static json_object *str_array(const char *const *v, size_t n)
{
    json_object *a = json_object_new_array();

    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

/* The capture's own rules, compiled by guardrails.c as one mask-mode set:
 * the secret rules plus the builtins named by "mask". */
static int build_masks(struct capture_settings *s, json_object *mask,
                       char *err, size_t errsz)
{
    json_object *root = json_object_new_object(), *g, *set, *dir, *pats;
    json_object *bi = str_array(secret_builtins, N(secret_builtins));
    struct config tmp;
    char e[256];
    int rc;

    for (size_t i = 0; mask != NULL && i < json_object_array_length(mask);
         i++)
        json_object_array_add(bi, json_object_get(
                                      json_object_array_get_idx(mask, i)));
    pats = json_object_new_array();
    for (size_t i = 0; i < N(secret_patterns); i++) {
        json_object *p = json_object_new_object();

        jadd(p, "name", json_object_new_string(secret_patterns[i].name));
        jadd(p, "pattern", json_object_new_string(secret_patterns[i].pattern));
        jadd(p, "mask", json_object_new_string("<SECRET>"));
        json_object_array_add(pats, p);
    }
    dir = json_object_new_object();
    jadd(dir, "action", json_object_new_string("mask"));
    jadd(dir, "builtins", bi);
    jadd(dir, "patterns", pats);
    set = json_object_new_object();
    jadd(set, "name", json_object_new_string("capture"));
    jadd(set, "request", dir);
    g = json_object_new_object();
    jadd(g, "sets", json_object_new_array());
    json_object_array_add(json_object_object_get(g, "sets"), set);
    jadd(root, "guardrails", g);
    memset(&tmp, 0, sizeof(tmp));
    rc = guardrails_load(root, &tmp, e, sizeof(e));
    json_object_put(root);
    if (rc < 0) {
        guardrails_free(tmp.guardrails);
        return cbad(err, errsz, ".mask", e);
    }
    s->masks = tmp.guardrails;
    return 0;
}

static int load_routes(struct capture_settings *s, const struct config *cfg,
                       json_object *routes, char *err, size_t errsz)
{
    size_t n;

    if (routes == NULL)
        return 0;
    if (!json_object_is_type(routes, json_type_array))
        return cbad(err, errsz, ".routes", "must be an array of route names");
    n = json_object_array_length(routes);
    s->routes = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *name = json_object_get_string(
            json_object_array_get_idx(routes, i));
        int found = 0;

        for (size_t k = 0; name != NULL && k < cfg->n_routes; k++)
            found |= strcmp(cfg->routes[k].name, name) == 0;
        if (!found)
            return cbad(err, errsz, ".routes", "names a route that is not "
                        "defined");
        s->routes[s->n_routes++] = xstrdup(name);
    }
    return 0;
}

int capture_load(json_object *root, struct config *cfg, char *err,
                 size_t errsz)
{
    json_object *obs, *o, *v, *mask = NULL;
    struct capture_settings *s;

    if (!json_object_object_get_ex(root, "observability", &obs) ||
        !json_object_object_get_ex(obs, "capture", &o))
        return 0;
    if (!json_object_is_type(o, json_type_object))
        return cbad(err, errsz, "", "must be an object");
    s = cfg->capture = xcalloc(1, sizeof(*s));
    s->max_bytes = 2048;
    if (json_object_object_get_ex(o, "enabled", &v)) {
        if (!json_object_is_type(v, json_type_boolean))
            return cbad(err, errsz, ".enabled", "must be true or false");
        s->enabled = json_object_get_boolean(v);
    }
    if (json_object_object_get_ex(o, "max_bytes", &v)) {
        int64_t n = json_object_get_int64(v);

        if (!json_object_is_type(v, json_type_int) || n < 16 || n > 16384)
            return cbad(err, errsz, ".max_bytes", "must be an integer "
                        "between 16 and 16384");
        s->max_bytes = (size_t)n;
    }
    if (json_object_object_get_ex(o, "mask", &mask) &&
        !json_object_is_type(mask, json_type_array))
        return cbad(err, errsz, ".mask", "must be an array of builtin "
                    "names");
    if (load_routes(s, cfg, json_object_object_get_ex(o, "routes", &v) ? v
                                                                       : NULL,
                    err, errsz) < 0)
        return -1;
    if (mask == NULL) {
        json_object *d = str_array(default_mask, N(default_mask));
        int rc = build_masks(s, d, err, errsz);

        json_object_put(d);
        return rc;
    }
    return build_masks(s, mask, err, errsz);
}

void capture_free(struct capture_settings *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_routes; i++)
        free(c->routes[i]);
    free(c->routes);
    guardrails_free(c->masks);
    free(c);
}

/* --- collection (request path) ---------------------------------------- */

/* The request being captured on this thread. */
static _Thread_local struct {
    char request_id[37];
    size_t cap;                  /* bytes kept per field */
    struct buf text[2];          /* prompt, response */
    int cut[2];
} cur;

enum { PROMPT, RESPONSE };

static int capturing(const struct request *r)
{
    return cur.request_id[0] != '\0' &&
           strcmp(cur.request_id, r->request_id) == 0;
}

static int route_on(const struct capture_settings *s, const char *route)
{
    if (s->n_routes == 0)
        return 1;
    for (size_t i = 0; route != NULL && i < s->n_routes; i++)
        if (strcmp(s->routes[i], route) == 0)
            return 1;
    return 0;
}

static void keep(int f, const char *s, size_t n)
{
    struct buf *b = &cur.text[f];

    if (b->len + n > cur.cap) {
        n = cur.cap > b->len ? cur.cap - b->len : 0;
        cur.cut[f] = 1;
    }
    buf_add(b, s, n);
}

static void keep_str(int f, json_object *v)
{
    if (json_object_is_type(v, json_type_string))
        keep(f, json_object_get_string(v),
             (size_t)json_object_get_string_len(v));
}

/* A message's content: a string, or parts of which the text ones count. */
static void keep_content(int f, json_object *c)
{
    if (json_object_is_type(c, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(c); i++) {
            json_object *part = json_object_array_get_idx(c, i), *t;

            if (json_object_object_get_ex(part, "text", &t))
                keep_str(f, t);
        }
        return;
    }
    keep_str(f, c);
}

static void keep_request(json_object *req)
{
    json_object *msgs, *in;

    if (json_object_object_get_ex(req, "messages", &msgs) &&
        json_object_is_type(msgs, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(msgs); i++) {
            json_object *m = json_object_array_get_idx(msgs, i), *c;
            const char *role = jget_str(m, "role");

            if (i > 0)
                keep(PROMPT, "\n", 1);
            keep(PROMPT, role ? role : "?", strlen(role ? role : "?"));
            keep(PROMPT, ": ", 2);
            if (json_object_object_get_ex(m, "content", &c))
                keep_content(PROMPT, c);
        }
    } else if (json_object_object_get_ex(req, "input", &in)) {
        if (json_object_is_type(in, json_type_array))
            for (size_t i = 0; i < json_object_array_length(in); i++) {
                if (i > 0)
                    keep(PROMPT, "\n", 1);
                keep_str(PROMPT, json_object_array_get_idx(in, i));
            }
        else
            keep_str(PROMPT, in);
    }
}

void capture_request(struct request *r, json_object *req)
{
    const struct capture_settings *s = r->w->cfg->capture;
    json_object *own = NULL;

    if (s == NULL || !s->enabled || !route_on(s, r->ev.route))
        return;
    memcpy(cur.request_id, r->request_id, sizeof(cur.request_id));
    cur.cap = s->max_bytes + MASK_MARGIN;
    for (int f = 0; f < 2; f++) {
        buf_release(&cur.text[f]);
        buf_init(&cur.text[f], (size_t)1 << 21);
        cur.cut[f] = 0;
    }
    if (req == NULL)             /* relayed as it came: parse it here */
        req = own = jparse(r->body, r->body_len, NULL);
    if (req != NULL)
        keep_request(req);
    json_object_put(own);
}

/* choices[].<member>.content of an OpenAI-shaped body. Stream deltas:
 * choice 0 only, since with n > 1 the choices' tokens interleave and a
 * secret split by another choice's tokens would escape the masking. */
static void keep_choices(const char *json, size_t len, const char *member,
                         int first_only)
{
    json_object *o = jparse(json, len, NULL), *ch;

    if (o != NULL && json_object_object_get_ex(o, "choices", &ch) &&
        json_object_is_type(ch, json_type_array))
        for (size_t i = 0; i < json_object_array_length(ch); i++) {
            json_object *e = json_object_array_get_idx(ch, i), *m, *c;

            if (first_only && jget_int(e, "index", 0) != 0)
                continue;
            if (json_object_object_get_ex(e, member, &m) &&
                json_object_object_get_ex(m, "content", &c))
                keep_content(RESPONSE, c);
        }
    json_object_put(o);
}

void capture_chunk(struct request *r, const char *json, size_t len)
{
    if (capturing(r))
        keep_choices(json, len, "delta", 1);
}

void capture_reply(struct request *r, const char *json, size_t len)
{
    if (capturing(r) && json != NULL)
        keep_choices(json, len, "message", 0);
}

/* --- logging (settle) ------------------------------------------------- */

/* Masks text in place with d's rules, whatever d's action. -1: a match
 * limit tripped (the text cannot be shown). */
static int mask_with(const struct guardrails *g, const struct guard_dir *d,
                     struct buf *text)
{
    struct guard_dir m = *d;
    struct guard_hits h;
    struct buf out = BUF_INIT(text->len * 4 + 4096);
    int rc;

    if (d->n_rules == 0 || text->len == 0)
        return 0;
    m.mode = GUARD_MASK;
    memset(&h, 0, sizeof(h));
    rc = guard_scan(g, &m, text->ptr, text->len, &out, &h);
    if (rc > 0 && buf_error(&out) == 0) {
        buf_reset(text);
        buf_add(text, out.ptr, out.len);
    } else if (rc > 0) {
        rc = -1;
    }
    buf_release(&out);
    return rc < 0 ? -1 : 0;
}

static int mask_all(const struct config *cfg, const char *route,
                    struct buf *text)
{
    const struct guard_set *gs = guardrails_for_route(cfg->guardrails, route);
    const struct guardrails *own = cfg->capture->masks;

    if (gs != NULL && (mask_with(cfg->guardrails, &gs->req, text) < 0 ||
                       mask_with(cfg->guardrails, &gs->resp, text) < 0))
        return -1;
    return own != NULL && own->n_sets > 0
               ? mask_with(own, &own->sets[0].req, text) : 0;
}

/* The longest prefix of at most max bytes that ends on a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;

    while (n > 0 && n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void add_field(struct buf *line, const char *name, struct buf *text,
                      int cut, const struct config *cfg, const char *route)
{
    size_t n;

    if (buf_error(text) || mask_all(cfg, route, text) < 0) {
        buf_addf(line, ",\"%s\":null,\"%s_withheld\":true", name, name);
        return;
    }
    n = utf8_cut(text->ptr ? text->ptr : "", text->len,
                 cfg->capture->max_bytes);
    buf_addf(line, ",\"%s\":", name);
    buf_add_json_str(line, text->ptr ? text->ptr : "", n);
    if (cut || n < text->len)
        buf_addf(line, ",\"%s_truncated\":true", name);
}

void capture_log_fields(struct request *r, struct buf *line)
{
    const struct config *cfg = r->w->cfg;

    if (!capturing(r))
        return;
    cur.request_id[0] = '\0';
    if (buf_error(line) == 0 && line->len > 0 &&
        line->ptr[line->len - 1] == '}') {
        size_t at = --line->len;   /* reopen the object */

        add_field(line, "prompt", &cur.text[PROMPT], cur.cut[PROMPT], cfg,
                  r->ev.route);
        add_field(line, "response", &cur.text[RESPONSE], cur.cut[RESPONSE],
                  cfg, r->ev.route);
        if (buf_error(line)) {   /* over the log line's cap: the line wins */
            line->len = at;
            line->err = 0;
            buf_adds(line, ",\"prompt\":null,\"response\":null,"
                     "\"capture_withheld\":true");
        }
        buf_addc(line, '}');
    }
    /* captures are rare and up to max_bytes + 64 KB: not kept per thread */
    buf_release(&cur.text[PROMPT]);
    buf_release(&cur.text[RESPONSE]);
}
