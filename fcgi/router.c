#include "router.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <json-c/json.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "jsonutil.h"
#include "request.h"
#include "transform.h"
#include "xalloc.h"

#define MATCH_LIMIT 100000

struct route_cond {
    char *name;        /* header: CGI name (HTTP_X_MODEL); query: as is */
    char *value;       /* exact value, or NULL */
    pcre2_code *re;    /* or a regex, or neither: present */
};

static int bad(char *err, size_t errsz, const char *where, const char *key,
               const char *what)
{
    snprintf(err, errsz, "%s%s: %s", where, key, what);
    return -1;
}

static pcre2_code *compile(const char *pat, char *err, size_t errsz,
                           const char *where, const char *key)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF, &ec, &eo, NULL);

    if (re == NULL) {
        char m[160], msg[200];

        pcre2_get_error_message(ec, (PCRE2_UCHAR *)m, sizeof(m));
        snprintf(msg, sizeof(msg), "bad regex at offset %zu: %s",
                 (size_t)eo, m);
        bad(err, errsz, where, key, msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

/* Whole-subject regex test with a bounded match (thread-local data). */
static int re_match(const pcre2_code *re, const char *s, size_t n)
{
    static _Thread_local pcre2_match_data *md;
    static _Thread_local pcre2_match_context *mc;

    if (md == NULL) {
        md = pcre2_match_data_create(1, NULL);
        mc = pcre2_match_context_create(NULL);
        if (md == NULL || mc == NULL)
            return 0;
        pcre2_set_match_limit(mc, MATCH_LIMIT);
        pcre2_set_depth_limit(mc, MATCH_LIMIT);
    }
    return pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, mc) >= 0;
}

/* "X-Model" -> "HTTP_X_MODEL" */
static char *cgi_name(const char *h)
{
    size_t n = strlen(h);
    char *s = xmalloc(n + 6);

    memcpy(s, "HTTP_", 5);
    for (size_t i = 0; i < n; i++)
        s[5 + i] = h[i] == '-' ? '_' : (char)toupper((unsigned char)h[i]);
    s[n + 5] = '\0';
    return s;
}

static int str_list(json_object *o, const char *key, char ***out,
                    size_t *n, char *err, size_t errsz, const char *where)
{
    json_object *a;

    if (!json_object_object_get_ex(o, key, &a))
        return 0;
    if (json_object_is_type(a, json_type_string)) {
        *out = xcalloc(1, sizeof(char *));
        (*out)[0] = xstrdup(json_object_get_string(a));
        *n = 1;
        return 0;
    }
    if (!json_object_is_type(a, json_type_array))
        return bad(err, errsz, where, key, "must be a string or a list");
    *n = json_object_array_length(a);
    *out = xcalloc(*n ? *n : 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        json_object *v = json_object_array_get_idx(a, i);

        if (!json_object_is_type(v, json_type_string))
            return bad(err, errsz, where, key, "must hold strings");
        (*out)[i] = xstrdup(json_object_get_string(v));
    }
    return 0;
}

static int load_conds(struct route_ext *e, json_object *o, const char *key,
                      int header, size_t *n, char *err, size_t errsz,
                      const char *where)
{
    json_object *a;
    size_t base = e->n_headers + e->n_query;

    if (!json_object_object_get_ex(o, key, &a))
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return bad(err, errsz, where, key, "must be a list of objects");
    *n = json_object_array_length(a);
    e->conds = xrealloc(e->conds, (base + *n) * sizeof(*e->conds));
    memset(e->conds + base, 0, *n * sizeof(*e->conds));
    for (size_t i = 0; i < *n; i++) {
        json_object *c = json_object_array_get_idx(a, i);
        struct route_cond *rc = &e->conds[base + i];
        const char *nm = jget_str(c, "name"), *v, *rx;

        if (nm == NULL || *nm == '\0')
            return bad(err, errsz, where, key, "each needs a name");
        rc->name = header ? cgi_name(nm) : xstrdup(nm);
        v = jget_str(c, "value");
        rx = jget_str(c, "regex");
        if (v != NULL)
            rc->value = xstrdup(v);
        else if (rx != NULL &&
                 (rc->re = compile(rx, err, errsz, where, key)) == NULL)
            return -1;
    }
    return 0;
}

static int load_path(struct route *rt, struct route_ext *e, json_object *o,
                     char *err, size_t errsz, const char *where)
{
    json_object *p;
    const char *v;

    if (!json_object_object_get_ex(o, "path", &p))
        return 0;
    if (json_object_is_type(p, json_type_string)) {
        v = json_object_get_string(p);
        e->path_kind = ROUTE_PREFIX;
    } else if ((v = jget_str(p, "exact")) != NULL) {
        e->path_kind = ROUTE_EXACT;
    } else if ((v = jget_str(p, "prefix")) != NULL) {
        e->path_kind = ROUTE_PREFIX;
    } else if ((v = jget_str(p, "regex")) != NULL) {
        e->path_kind = ROUTE_REGEX;
        if ((e->path_re = compile(v, err, errsz, where, "path.regex")) ==
            NULL)
            return -1;
        v = "/";
    } else {
        return bad(err, errsz, where, "path",
                   "must be a string or {exact|prefix|regex}");
    }
    if (*v != '/')
        return bad(err, errsz, where, "path", "must start with /");
    free(rt->prefix);
    rt->prefix = xstrdup(v);
    return 0;
}

static int load_model(struct route_ext *e, json_object *o, char *err,
                      size_t errsz, const char *where)
{
    json_object *mf;
    const char *s;

    if ((s = jget_str(o, "model")) != NULL)
        e->model = xstrdup(s);
    if (json_object_object_get_ex(o, "model_from", &mf)) {
        if ((s = jget_str(mf, "header")) != NULL)
            e->model_header = cgi_name(s);
        else if ((s = jget_str(mf, "query")) != NULL)
            e->model_query = xstrdup(s);
        else
            return bad(err, errsz, where, "model_from",
                       "must be {\"header\": NAME} or {\"query\": NAME}");
    }
    e->report_requested = -1;
    if ((s = jget_str(o, "report_model")) != NULL) {
        if (strcmp(s, "requested") != 0 && strcmp(s, "served") != 0)
            return bad(err, errsz, where, "report_model",
                       "must be requested or served");
        e->report_requested = strcmp(s, "requested") == 0;
    }
    if ((s = jget_str(o, "endpoint")) != NULL) {
        if (strcmp(s, "chat") == 0)
            e->endpoint = ROUTE_EP_CHAT;
        else if (strcmp(s, "embeddings") == 0)
            e->endpoint = ROUTE_EP_EMBED;
        else
            return bad(err, errsz, where, "endpoint",
                       "must be chat or embeddings");
    }
    return 0;
}

static int load_direct(struct route_ext *e, json_object *o, char *err,
                       size_t errsz, const char *where)
{
    json_object *d, *h;
    const char *s;
    int64_t st;

    if (!json_object_object_get_ex(o, "direct", &d))
        return 0;
    if (!json_object_is_type(d, json_type_object))
        return bad(err, errsz, where, "direct", "must be an object");
    st = jget_int(d, "status", 200);
    if (st < 200 || st > 599)
        return bad(err, errsz, where, "direct.status",
                   "must be between 200 and 599");
    e->direct_status = (int)st;
    s = jget_str(d, "body");
    e->direct_body = xstrdup(s ? s : "");
    s = jget_str(d, "content_type");
    e->direct_type = xstrdup(s ? s : "application/json");
    if (strpbrk(e->direct_type, "\r\n") != NULL)
        return bad(err, errsz, where, "direct.content_type", "bad value");
    e->direct_headers = xstrdup("");
    if (json_object_object_get_ex(d, "headers", &h) &&
        json_object_is_type(h, json_type_object)) {
        json_object_object_foreach(h, k, v) {
            const char *vs = json_object_get_string(v);
            size_t n = strlen(e->direct_headers);
            char *nh;

            if (strpbrk(k, "\r\n: ") != NULL || vs == NULL ||
                strpbrk(vs, "\r\n") != NULL)
                return bad(err, errsz, where, "direct.headers", "bad header");
            nh = xmalloc(n + strlen(k) + strlen(vs) + 5);
            sprintf(nh, "%s%s: %s\r\n", e->direct_headers, k, vs);
            free(e->direct_headers);
            e->direct_headers = nh;
        }
    }
    return 0;
}

int router_route_load(struct route *rt, json_object *o, const char *where,
                      char *err, size_t errsz)
{
    struct route_ext *e = xcalloc(1, sizeof(*e));

    rt->ext = e;
    if (load_path(rt, e, o, err, errsz, where) < 0 ||
        str_list(o, "hosts", &e->hosts, &e->n_hosts, err, errsz, where) < 0 ||
        str_list(o, "methods", &e->methods, &e->n_methods, err, errsz,
                 where) < 0 ||
        load_conds(e, o, "headers", 1, &e->n_headers, err, errsz, where) < 0 ||
        load_conds(e, o, "query", 0, &e->n_query, err, errsz, where) < 0 ||
        load_model(e, o, err, errsz, where) < 0 ||
        load_direct(e, o, err, errsz, where) < 0)
        return -1;
    return transform_load(&e->xf, o, where, err, errsz);
}

int router_route_backends(struct route *rt, json_object *o,
                          const char *where, char *err, size_t errsz)
{
    struct route_ext *e = rt->ext;
    json_object *many = NULL;

    e->weight = xcalloc(rt->n_backends ? rt->n_backends : 1, sizeof(int));
    e->priority = xcalloc(rt->n_backends ? rt->n_backends : 1, sizeof(int));
    json_object_object_get_ex(o, "backends", &many);
    for (size_t i = 0; i < rt->n_backends; i++) {
        json_object *v = many ? json_object_array_get_idx(many, i) : NULL;
        int64_t w = 1, p = (int64_t)i;  /* default: config order */

        if (v != NULL && json_object_is_type(v, json_type_object)) {
            w = jget_int(v, "weight", 1);
            p = jget_int(v, "priority", p);
        }
        if (w < 0 || w > 1000000 || p < 0 || p > 1000000)
            return bad(err, errsz, where, "backends",
                       "weight and priority must be within 0..1000000");
        e->weight[i] = (int)w;
        e->priority[i] = (int)p;
    }
    return 0;
}

void router_route_free(struct route *rt)
{
    struct route_ext *e = rt->ext;

    if (e == NULL)
        return;
    pcre2_code_free(e->path_re);
    for (size_t i = 0; i < e->n_hosts; i++)
        free(e->hosts[i]);
    for (size_t i = 0; i < e->n_methods; i++)
        free(e->methods[i]);
    for (size_t i = 0; i < e->n_headers + e->n_query; i++) {
        free(e->conds[i].name);
        free(e->conds[i].value);
        pcre2_code_free(e->conds[i].re);
    }
    free(e->hosts);
    free(e->methods);
    free(e->conds);
    free(e->model);
    free(e->model_header);
    free(e->model_query);
    free(e->weight);
    free(e->priority);
    free(e->direct_body);
    free(e->direct_type);
    free(e->direct_headers);
    transform_free(e->xf);
    free(e);
    rt->ext = NULL;
}

/* --- matching ------------------------------------------------------- */

static int hexv(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int router_query_param(const char *q, const char *name, char *out,
                       size_t outsz)
{
    size_t nl = strlen(name);

    while (q != NULL && *q) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);

        if ((size_t)(end - q) >= nl && memcmp(q, name, nl) == 0 &&
            (q + nl == end || q[nl] == '=')) {
            size_t o = 0;

            for (const char *s = q + nl + (q + nl < end); s < end; s++) {
                int c = (unsigned char)*s;

                if (c == '+')
                    c = ' ';
                else if (c == '%' && end - s > 2 && hexv(s[1]) >= 0 &&
                         hexv(s[2]) >= 0) {
                    c = hexv(s[1]) * 16 + hexv(s[2]);
                    s += 2;
                }
                if (o + 1 >= outsz)
                    return -1;
                out[o++] = (char)c;
            }
            out[o] = '\0';
            return (int)o;
        }
        q = amp ? amp + 1 : NULL;
    }
    return -1;
}

static int host_ok(const struct route_ext *e, const char *host)
{
    size_t hl;

    if (e->n_hosts == 0)
        return 1;
    if (host == NULL)
        return 0;
    hl = strcspn(host, ":");      /* without the port */
    for (size_t i = 0; i < e->n_hosts; i++) {
        const char *h = e->hosts[i];
        size_t n = strlen(h);

        if (h[0] == '*' && h[1] == '.') {
            if (hl > n - 1 && strncasecmp(host + hl - (n - 1), h + 1,
                                          n - 1) == 0)
                return 1;
        } else if (n == hl && strncasecmp(host, h, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static int cond_ok(const struct route_cond *c, const char *v)
{
    if (v == NULL)
        return 0;
    if (c->value != NULL)
        return strcmp(v, c->value) == 0;
    if (c->re != NULL)
        return re_match(c->re, v, strlen(v));
    return 1;
}

static int conds_ok(const struct route_ext *e, const struct request *r)
{
    char qv[1024];

    for (size_t i = 0; i < e->n_headers; i++)
        if (!cond_ok(&e->conds[i], req_param(r, e->conds[i].name)))
            return 0;
    for (size_t i = e->n_headers; i < e->n_headers + e->n_query; i++)
        if (!cond_ok(&e->conds[i],
                     router_query_param(r->query, e->conds[i].name, qv,
                                        sizeof(qv)) >= 0 ? qv : NULL))
            return 0;
    return 1;
}

static int path_ok(const struct route *rt, const char *path, size_t len)
{
    const struct route_ext *e = rt->ext;
    size_t pl = rt->prefix_len;

    if (e != NULL && e->path_kind == ROUTE_EXACT)
        return len == pl && memcmp(path, rt->prefix, pl) == 0;
    if (e != NULL && e->path_kind == ROUTE_REGEX)
        return re_match(e->path_re, path, len);
    if (pl == 1 && rt->prefix[0] == '/')
        pl = 0;                       /* "/" matches everything */
    return len >= pl && memcmp(path, rt->prefix, pl) == 0 &&
           (len == pl || path[pl] == '/');
}

static int route_ok(const struct route *rt, const struct request *r)
{
    const struct route_ext *e = rt->ext;

    if (!path_ok(rt, r->path, r->path_len))
        return 0;
    if (e == NULL)
        return 1;
    if (e->n_methods > 0) {
        size_t i;

        for (i = 0; i < e->n_methods; i++)
            if (strcasecmp(e->methods[i], r->method) == 0)
                break;
        if (i == e->n_methods)
            return 0;
    }
    return host_ok(e, r->host) && conds_ok(e, r);
}

/* Precedence: exact path > regex > longest prefix; then host, method,
 * the number of header and query conditions; then config order. */
static int more_specific(const struct route *a, const struct route *b)
{
    const struct route_ext *ea = a->ext, *eb = b->ext;
    long ka = ea ? (long)ea->path_kind : 0, kb = eb ? (long)eb->path_kind : 0;
    long ca, cb;

    if (ka != kb)
        return ka > kb;
    if (ka == ROUTE_PREFIX && a->prefix_len != b->prefix_len)
        return a->prefix_len > b->prefix_len;
    ca = ea ? (long)(!!ea->n_hosts * 1000 + !!ea->n_methods * 100 +
                     ea->n_headers * 10 + ea->n_query) : 0;
    cb = eb ? (long)(!!eb->n_hosts * 1000 + !!eb->n_methods * 100 +
                     eb->n_headers * 10 + eb->n_query) : 0;
    return ca > cb;
}

const struct route *router_select(const struct config *cfg,
                                  const struct request *r)
{
    const struct route *best = NULL;

    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *rt = &cfg->routes[i];

        if (route_ok(rt, r) && (best == NULL || more_specific(rt, best)))
            best = rt;
    }
    return best;
}

static const char *const api_suffixes[] = {
    "/chat/completions", "/embeddings", "/models", "/messages",
};

size_t router_path_off(const struct route *rt, const char *path, size_t len)
{
    if (rt->ext == NULL || rt->ext->path_kind == ROUTE_PREFIX)
        return rt->prefix_len == 1 ? 0 : rt->prefix_len;
    for (size_t i = 0; i < sizeof(api_suffixes) / sizeof(*api_suffixes);
         i++) {
        size_t n = strlen(api_suffixes[i]);

        if (len >= n && memcmp(path + len - n, api_suffixes[i], n) == 0)
            return len - n;
    }
    return len;
}

enum route_endpoint router_endpoint(const struct route *rt)
{
    return rt->ext ? rt->ext->endpoint : ROUTE_EP_NONE;
}

int router_direct(const struct route *rt, struct request *r)
{
    const struct route_ext *e = rt->ext;
    char cl[64];

    if (e == NULL || e->direct_status == 0)
        return 0;
    r->ev.http_status = e->direct_status;
    snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n",
             strlen(e->direct_body));
    {
        size_t n = strlen(cl) + strlen(e->direct_headers) + 1;
        char *h = xmalloc(n);

        snprintf(h, n, "%s%s", cl, e->direct_headers);
        if (req_start(r, e->direct_status, e->direct_type, h) == 0)
            req_write(r, e->direct_body, strlen(e->direct_body));
        free(h);
    }
    return 1;
}

const char *router_model(const struct route *rt, const struct request *r,
                         char *buf, size_t bufsz)
{
    const struct route_ext *e = rt->ext;
    const char *v;

    if (e == NULL)
        return NULL;
    if (e->model_header != NULL &&
        (v = req_param(r, e->model_header)) != NULL && *v)
        return v;
    if (e->model_query != NULL &&
        router_query_param(r->query, e->model_query, buf, bufsz) > 0)
        return buf;
    return e->model;
}
