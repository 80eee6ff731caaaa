#include "guardrails.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <json-c/json.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "guard_webhook.h"
#include "jsonutil.h"
#include "moderation.h"
#include "xalloc.h"

#define GUARD_OVECTOR_PAIRS 16
#define GUARD_HEAP_LIMIT_KB 20480
#define GUARD_JIT_STACK_MAX (1 << 20)

/* --- per-thread match state ------------------------------------------- */

struct guard_tls {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    struct guard_tls *t = p;

    if (t == NULL)
        return;
    pcre2_match_data_free(t->md);
    pcre2_match_context_free(t->mc);
    pcre2_jit_stack_free(t->js);
    free(t);
}

static void tls_init(void)
{
    if (pthread_key_create(&tls_key, tls_free) != 0)
        abort();
}

static struct guard_tls *tls_get(const struct guardrails *g)
{
    struct guard_tls *t;

    pthread_once(&tls_once, tls_init);
    t = pthread_getspecific(tls_key);
    if (t == NULL) {
        t = xcalloc(1, sizeof(*t));
        t->md = pcre2_match_data_create(GUARD_OVECTOR_PAIRS, NULL);
        t->mc = pcre2_match_context_create(NULL);
        t->js = pcre2_jit_stack_create(32 * 1024, GUARD_JIT_STACK_MAX, NULL);
        if (t->md == NULL || t->mc == NULL)
            abort();
        if (t->js != NULL)
            pcre2_jit_stack_assign(t->mc, NULL, t->js);
        pthread_setspecific(tls_key, t);
    }
    pcre2_set_match_limit(t->mc, (uint32_t)g->match_limit);
    pcre2_set_depth_limit(t->mc, (uint32_t)g->depth_limit);
    pcre2_set_heap_limit(t->mc, GUARD_HEAP_LIMIT_KB);
    return t;
}

/* --- scanning --------------------------------------------------------- */

struct span {
    size_t s, e;
    const struct guard_rule *rule;
};

struct spans {
    struct span *v;
    size_t n, cap;
    struct span local[32];
};

static void spans_init(struct spans *sp)
{
    sp->v = sp->local;
    sp->n = 0;
    sp->cap = sizeof(sp->local) / sizeof(sp->local[0]);
}

static void spans_release(struct spans *sp)
{
    if (sp->v != sp->local)
        free(sp->v);
}

static void spans_add(struct spans *sp, size_t s, size_t e,
                      const struct guard_rule *rule)
{
    size_t i;

    if (sp->n == sp->cap) {
        struct span *nv = xmalloc(2 * sp->cap * sizeof(*nv));

        memcpy(nv, sp->v, sp->n * sizeof(*nv));
        if (sp->v != sp->local)
            free(sp->v);
        sp->v = nv;
        sp->cap *= 2;
    }
    for (i = sp->n; i > 0 && sp->v[i - 1].s > s; i--)
        sp->v[i] = sp->v[i - 1];            /* kept sorted by start */
    sp->v[i] = (struct span){ s, e, rule };
    sp->n++;
}

static void hit_name(struct guard_hits *h, const char *name)
{
    size_t len = strlen(h->names), nl = strlen(name);
    const char *p = h->names;

    while ((p = strstr(p, name)) != NULL) {
        if ((p == h->names || p[-1] == ',') &&
            (p[nl] == '\0' || p[nl] == ','))
            return;                         /* already listed */
        p += nl;
    }
    if (len + nl + 2 > sizeof(h->names))
        return;
    if (len > 0)
        h->names[len++] = ',';
    memcpy(h->names + len, name, nl + 1);
}

/* Finds d's matches in s[0..n). partial: the text may go on, so a match
 * reaching the end is not final: *hold is lowered to its start (and
 * *hold_rule set). Returns 0, or -1 when a limit tripped. */
static int find_spans(const struct guardrails *g, const struct guard_dir *d,
                      const char *s, size_t n, int partial,
                      struct spans *sp, size_t *hold,
                      const struct guard_rule **hold_rule,
                      struct guard_hits *h)
{
    struct guard_tls *t = tls_get(g);
    uint32_t opts = partial ? PCRE2_PARTIAL_HARD : 0;

    for (size_t i = 0; i < d->n_rules; i++) {
        const struct guard_rule *rule = &d->rules[i];
        size_t off = 0;

        while (off <= n) {
            int rc = pcre2_match(rule->re, (PCRE2_SPTR)s, n, off, opts,
                                 t->md, t->mc);
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
            size_t ms, me;

            if (rc == PCRE2_ERROR_NOMATCH)
                break;
            if (rc == PCRE2_ERROR_PARTIAL) {
                if (ov[0] < *hold) {
                    *hold = ov[0];
                    *hold_rule = rule;
                }
                break;
            }
            if (rc < 0) {                   /* match/depth/heap limit */
                h->error = 1;
                hit_name(h, rule->name);
                return -1;
            }
            ms = ov[0];
            me = ov[1];
            if (me > ms && (rule->valid == NULL ||
                            rule->valid(s + ms, me - ms))) {
                spans_add(sp, ms, me, rule);
                off = me;
                continue;
            }
            off = ms + 1;
            while (off < n && ((unsigned char)s[off] & 0xC0) == 0x80)
                off++;
        }
    }
    return 0;
}

/* Writes s[0..end) into out with the spans ending by end replaced by their
 * rule's placeholder (overlapping spans merge into the first one's).
 * Returns the number of spans masked. */
static int mask_into(const char *s, size_t end, const struct spans *sp,
                     struct buf *out)
{
    size_t pos = 0;
    int n = 0;

    for (size_t i = 0; i < sp->n; i++) {
        const struct span *a = &sp->v[i];
        size_t e = a->e;

        if (a->e > end)
            continue;
        if (a->s < pos) {                   /* overlaps the previous */
            continue;
        }
        while (i + 1 < sp->n && sp->v[i + 1].s < e && sp->v[i + 1].e <= end) {
            if (sp->v[i + 1].e > e)
                e = sp->v[i + 1].e;
            i++;
        }
        buf_add(out, s + pos, a->s - pos);
        buf_adds(out, a->rule->mask);
        pos = e;
        n++;
    }
    buf_add(out, s + pos, end - pos);
    return n;
}

int guard_scan(const struct guardrails *g, const struct guard_dir *d,
               const char *s, size_t n, struct buf *out,
               struct guard_hits *h)
{
    struct spans sp;
    size_t hold = n;
    const struct guard_rule *hr = NULL;
    int rc;

    spans_init(&sp);
    if (find_spans(g, d, s, n, 0, &sp, &hold, &hr, h) < 0) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < sp.n; i++)
        hit_name(h, sp.v[i].rule->name);
    h->n += (int)sp.n;
    rc = (int)sp.n;
    if (sp.n > 0 && d->mode == GUARD_MASK)
        mask_into(s, n, &sp, out);
out:
    spans_release(&sp);
    return rc;
}

/* While a masked match goes on: drops pending text that still belongs to
 * it (the rule matched anchored on the anchor plus the text). */
static void swallow(const struct guardrails *g, struct guard_pending *p,
                    int final)
{
    struct guard_tls *t = tls_get(g);
    struct buf b = BUF_INIT(p->text.max + sizeof(p->anchor));
    PCRE2_SIZE *ov;
    size_t drop = 0;
    int rc;

    buf_add(&b, p->anchor, p->anchor_len);
    buf_add(&b, p->text.ptr ? p->text.ptr : "", p->text.len);
    rc = pcre2_match(p->swallow->re, (PCRE2_SPTR)(b.ptr ? b.ptr : ""),
                     b.len, 0, PCRE2_ANCHORED | (final ? 0
                                                  : PCRE2_PARTIAL_HARD),
                     t->md, t->mc);
    ov = pcre2_get_ovector_pointer(t->md);
    if (rc == PCRE2_ERROR_PARTIAL || (rc < 0 && rc != PCRE2_ERROR_NOMATCH)) {
        /* still inside (or unsure): keep a tail where its end may start */
        drop = p->text.len > sizeof(p->anchor)
                   ? p->text.len - sizeof(p->anchor) : 0;
    } else {
        if (rc >= 0 && ov[1] > p->anchor_len)
            drop = ov[1] - p->anchor_len;
        p->swallow = NULL;
    }
    if (final) {
        p->swallow = NULL;
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
            drop = p->text.len;
    }
    buf_release(&b);
    memmove(p->text.ptr, p->text.ptr + drop, p->text.len - drop);
    p->text.len -= drop;
    p->text.ptr[p->text.len] = '\0';
}

int guard_stream_text(const struct guardrails *g, const struct guard_dir *d,
                      struct guard_pending *p, const char *s, size_t n,
                      int final, struct buf *out, struct guard_hits *h)
{
    struct spans sp;
    const struct guard_rule *hr = NULL;
    const char *text;
    size_t len, hold, emit;
    int rc = 0, changed;

    if (p->text.max == 0)
        p->text.max = 16u << 20;
    buf_add(&p->text, s, n);
    if (buf_error(&p->text))
        return -1;
    if (p->swallow != NULL && p->text.len > 0)
        swallow(g, p, final);
    if (p->swallow != NULL)
        return 0;
    text = p->text.ptr ? p->text.ptr : "";
    len = p->text.len;
    hold = len;
    spans_init(&sp);
    if (find_spans(g, d, text, len, !final, &sp, &hold, &hr, h) < 0) {
        rc = -1;
        goto out;
    }
    if (hr != NULL && len - hold > g->holdback_max) {
        /* a match that keeps growing (a PEM block): never let it out */
        if (d->mode == GUARD_REJECT) {
            hit_name(h, hr->name);
            rc = -1;
            goto out;
        }
        spans_add(&sp, hold, len, hr);
        p->swallow = hr;
        p->anchor_len = len - hold < sizeof(p->anchor) ? len - hold
                                                       : sizeof(p->anchor);
        memcpy(p->anchor, text + hold, p->anchor_len);
        hold = len;
    }
    emit = hold;
    do {                 /* never cut a match: send up to its start */
        changed = 0;
        for (size_t i = 0; i < sp.n; i++)
            if (sp.v[i].s < emit && sp.v[i].e > emit) {
                emit = sp.v[i].s;
                changed = 1;
            }
    } while (changed);
    for (size_t i = 0; i < sp.n; i++)
        if (sp.v[i].e <= emit) {
            hit_name(h, sp.v[i].rule->name);
            h->n++;
            rc++;
        }
    if (rc > 0 && d->mode == GUARD_REJECT) {
        rc = -1;
        goto out;
    }
    mask_into(text, emit, &sp, out);
    memmove(p->text.ptr, text + emit, len - emit);
    p->text.len = len - emit;
    p->text.ptr[p->text.len] = '\0';
out:
    spans_release(&sp);
    return rc;
}

/* --- configuration ---------------------------------------------------- */

struct gctx {
    char *err;
    size_t errsz;
    char where[96];
};

static int gbad(struct gctx *c, const char *what)
{
    snprintf(c->err, c->errsz, "guardrails: %s%s", c->where, what);
    return -1;
}

static int compile_rule(struct gctx *c, struct guard_rule *r,
                        const char *pattern)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec,
                                   &eo, NULL);

    if (re == NULL) {
        char msg[160], e[256];

        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
        snprintf(e, sizeof(e), "pattern %s: %s at offset %zu", r->name, msg,
                 (size_t)eo);
        return gbad(c, e);
    }
    /* JIT when available; the interpreter otherwise (same limits) */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD);
    r->re = re;
    return 0;
}

static char *default_mask(const char *name)
{
    size_t n = strlen(name);
    char *m = xmalloc(n + 3);

    m[0] = '<';
    for (size_t i = 0; i < n; i++)
        m[i + 1] = (name[i] >= 'a' && name[i] <= 'z') ? name[i] - 32
                   : name[i];
    m[n + 1] = '>';
    m[n + 2] = '\0';
    return m;
}

static int load_rules(struct gctx *c, json_object *o, struct guard_dir *d,
                      const char *mask_all)
{
    json_object *bi = NULL, *pats = NULL;
    size_t nb = 0, np = 0;

    if (json_object_object_get_ex(o, "builtins", &bi)) {
        if (!json_object_is_type(bi, json_type_array))
            return gbad(c, "builtins must be an array");
        nb = json_object_array_length(bi);
    }
    if (json_object_object_get_ex(o, "patterns", &pats)) {
        if (!json_object_is_type(pats, json_type_array))
            return gbad(c, "patterns must be an array");
        np = json_object_array_length(pats);
    }
    d->rules = xcalloc(nb + np + 1, sizeof(*d->rules));
    for (size_t i = 0; i < nb; i++) {
        const char *name = json_object_get_string(
            json_object_array_get_idx(bi, i));
        const struct guard_builtin *b = name ? guard_builtin_find(name) : NULL;
        struct guard_rule *r = &d->rules[d->n_rules];

        if (b == NULL)
            return gbad(c, "unknown builtin (ssn, credit_card, phone, email, "
                        "ipv4, ipv6, iban, aws_access_key, private_key, jwt)");
        r->name = xstrdup(b->name);
        r->valid = b->valid;
        r->mask = xstrdup(mask_all ? mask_all : b->mask);
        d->n_rules++;
        if (compile_rule(c, r, b->pattern) < 0)
            return -1;
    }
    for (size_t i = 0; i < np; i++) {
        json_object *p = json_object_array_get_idx(pats, i);
        const char *name = jget_str(p, "name");
        const char *pat = jget_str(p, "pattern");
        const char *mask = jget_str(p, "mask");
        struct guard_rule *r = &d->rules[d->n_rules];

        if (name == NULL || pat == NULL || *pat == '\0')
            return gbad(c, "patterns[] need a name and a pattern");
        r->name = xstrdup(name);
        r->mask = mask ? xstrdup(mask) : mask_all ? xstrdup(mask_all)
                                                  : default_mask(name);
        d->n_rules++;
        if (compile_rule(c, r, pat) < 0)
            return -1;
    }
    return 0;
}

static int load_dir(struct gctx *c, json_object *set, const char *key,
                    struct guard_dir *d, const char *set_where)
{
    json_object *o;
    const char *action, *mask_all, *msg;
    long status = 403;
    char e[256];

    d->status = 403;
    if (!json_object_object_get_ex(set, key, &o))
        return 0;
    snprintf(c->where, sizeof(c->where), "%s%s.", set_where, key);
    if (!json_object_is_type(o, json_type_object))
        return gbad(c, "must be an object");
    action = jget_str(o, "action");
    if (action == NULL || strcmp(action, "reject") == 0)
        d->mode = GUARD_REJECT;
    else if (strcmp(action, "mask") == 0)
        d->mode = GUARD_MASK;
    else
        return gbad(c, "action must be reject or mask");
    if (config_opt_long(o, "status", 400, 599, &status, e, sizeof(e)) < 0)
        return gbad(c, e);
    d->status = (int)status;
    if ((msg = jget_str(o, "message")) != NULL)
        d->message = xstrdup(msg);
    mask_all = jget_str(o, "mask");
    return load_rules(c, o, d, mask_all);
}

static unsigned role_bit(const char *r)
{
    static const char *names[] = { "system", "user", "assistant", "tool",
                                   "developer" };

    for (unsigned i = 0; i < 5; i++)
        if (strcmp(r, names[i]) == 0)
            return 1u << i;
    return 0;
}

static int load_set(struct gctx *c, json_object *o, size_t i,
                    struct guard_set *s)
{
    char sw[64], e[256];
    const char *name;
    json_object *roles, *v;

    snprintf(sw, sizeof(sw), "sets[%zu].", i);
    snprintf(c->where, sizeof(c->where), "%s", sw);
    if (!json_object_is_type(o, json_type_object))
        return gbad(c, "must be an object");
    if ((name = jget_str(o, "name")) == NULL)
        return gbad(c, "name is required");
    s->name = xstrdup(name);
    s->roles = ~0u;
    if (json_object_object_get_ex(o, "roles", &roles)) {
        if (!json_object_is_type(roles, json_type_array))
            return gbad(c, "roles must be an array");
        s->roles = 0;
        for (size_t k = 0; k < json_object_array_length(roles); k++) {
            const char *r = json_object_get_string(
                json_object_array_get_idx(roles, k));
            unsigned b = r ? role_bit(r) : 0;

            if (b == 0)
                return gbad(c, "roles: system, user, assistant, tool or "
                            "developer");
            s->roles |= b;
        }
    }
    if (load_dir(c, o, "request", &s->req, sw) < 0 ||
        load_dir(c, o, "response", &s->resp, sw) < 0)
        return -1;
    snprintf(c->where, sizeof(c->where), "%swebhook.", sw);
    if (json_object_object_get_ex(o, "webhook", &v) &&
        guard_webhook_load(v, &s->webhook, e, sizeof(e)) < 0)
        return gbad(c, e);
    snprintf(c->where, sizeof(c->where), "%smoderation.", sw);
    if (json_object_object_get_ex(o, "moderation", &v) &&
        moderation_load(v, &s->moderation, e, sizeof(e)) < 0)
        return gbad(c, e);
    return 0;
}

static int load_routes(struct gctx *c, const struct config *cfg,
                       json_object *o, struct guardrails *g)
{
    size_t n = 0;

    snprintf(c->where, sizeof(c->where), "routes.");
    if (o == NULL)
        return 0;
    if (!json_object_is_type(o, json_type_object))
        return gbad(c, "must be an object {route: set}");
    g->route_names = xcalloc(json_object_object_length(o) + 1,
                             sizeof(char *));
    g->route_sets = xcalloc(json_object_object_length(o) + 1,
                            sizeof(*g->route_sets));
    json_object_object_foreach(o, key, val) {
        const char *set = json_object_get_string(val);
        size_t k;
        int found = 0;

        for (size_t r = 0; r < cfg->n_routes; r++)
            found |= strcmp(cfg->routes[r].name, key) == 0;
        if (!found)
            return gbad(c, "names a route that is not defined");
        for (k = 0; k < g->n_sets; k++)
            if (set != NULL && strcmp(g->sets[k].name, set) == 0)
                break;
        if (k == g->n_sets)
            return gbad(c, "names a set that is not defined");
        g->route_names[n] = xstrdup(key);
        g->route_sets[n] = &g->sets[k];
        g->n_routes = ++n;
    }
    return 0;
}

int guardrails_load(json_object *root, struct config *cfg, char *err,
                    size_t errsz)
{
    struct gctx c = { err, errsz, "" };
    json_object *o, *sets, *routes = NULL;
    struct guardrails *g;
    long ml = 1000000, dl = 10000, hb = 4096;
    char e[256];

    if (!json_object_object_get_ex(root, "guardrails", &o))
        return 0;
    if (!json_object_is_type(o, json_type_object))
        return gbad(&c, "must be an object");
    g = cfg->guardrails = xcalloc(1, sizeof(*g));
    if (config_opt_long(o, "match_limit", 1000, 100000000, &ml, e,
                        sizeof(e)) < 0 ||
        config_opt_long(o, "depth_limit", 100, 10000000, &dl, e,
                        sizeof(e)) < 0 ||
        config_opt_long(o, "stream_holdback_max", 64, 1 << 20, &hb, e,
                        sizeof(e)) < 0)
        return gbad(&c, e);
    g->match_limit = (unsigned long)ml;
    g->depth_limit = (unsigned long)dl;
    g->holdback_max = (size_t)hb;
    if (json_object_object_get_ex(o, "sets", &sets)) {
        if (!json_object_is_type(sets, json_type_array))
            return gbad(&c, "sets must be an array");
        g->n_sets = json_object_array_length(sets);
        g->sets = xcalloc(g->n_sets + 1, sizeof(*g->sets));
        for (size_t i = 0; i < g->n_sets; i++) {
            if (load_set(&c, json_object_array_get_idx(sets, i), i,
                         &g->sets[i]) < 0)
                return -1;
            for (size_t j = 0; j < i; j++)
                if (strcmp(g->sets[j].name, g->sets[i].name) == 0)
                    return gbad(&c, "duplicate set name");
        }
    }
    json_object_object_get_ex(o, "routes", &routes);
    return load_routes(&c, cfg, routes, g);
}

static void dir_release(struct guard_dir *d)
{
    for (size_t i = 0; i < d->n_rules; i++) {
        free(d->rules[i].name);
        free(d->rules[i].mask);
        pcre2_code_free(d->rules[i].re);
    }
    free(d->rules);
    free(d->message);
}

void guardrails_free(struct guardrails *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_sets; i++) {
        dir_release(&g->sets[i].req);
        dir_release(&g->sets[i].resp);
        guard_webhook_free(g->sets[i].webhook);
        moderation_free(g->sets[i].moderation);
        free(g->sets[i].name);
    }
    for (size_t i = 0; i < g->n_routes; i++)
        free(g->route_names[i]);
    free(g->route_names);
    free(g->route_sets);
    free(g->sets);
    free(g);
}

const struct guard_set *guardrails_for_route(const struct guardrails *g,
                                             const char *route)
{
    if (g == NULL || route == NULL)
        return NULL;
    for (size_t i = 0; i < g->n_routes; i++)
        if (strcmp(g->route_names[i], route) == 0)
            return g->route_sets[i];
    return NULL;
}
