#include "failover.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "circuit.h"
#include "config.h"
#include "jsonutil.h"
#include "router.h"
#include "upstream.h"
#include "xalloc.h"

struct fo_entry {
    char *backend;           /* NULL: any route backend serving model */
    char *model;
    int weight, priority;
};

struct fo_alias {
    char *name;
    struct fo_entry *e;
    size_t n;
};

static int bad(char *err, size_t errsz, const char *name, const char *key,
               const char *what)
{
    snprintf(err, errsz, "%s: %s: %s", name, key, what);
    return -1;
}

static int load_entry(struct fo_entry *e, json_object *v, size_t i)
{
    const char *m;
    int64_t w, p;

    if (json_object_is_type(v, json_type_string)) {
        e->model = xstrdup(json_object_get_string(v));
        e->weight = 1;
        e->priority = (int)i;
        return 0;
    }
    if ((m = jget_str(v, "model")) == NULL || *m == '\0')
        return -1;
    e->model = xstrdup(m);
    if (jget_str(v, "backend") != NULL)
        e->backend = xstrdup(jget_str(v, "backend"));
    w = jget_int(v, "weight", 1);
    p = jget_int(v, "priority", (int64_t)i);
    if (w < 0 || w > 1000000 || p < 0 || p > 1000000)
        return -1;
    e->weight = (int)w;
    e->priority = (int)p;
    return 0;
}

static int has_backend(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_backends; i++)
        if (strcmp(cfg->backends[i].name, name) == 0)
            return 1;
    return 0;
}

static int load_aliases(struct config *cfg, struct routing_settings *rs,
                        json_object *al, char *err, size_t errsz)
{
    const char *name = cfg->path;
    char w[192];

    if (!json_object_is_type(al, json_type_object))
        return bad(err, errsz, name, "routing.aliases", "must be an object");
    rs->aliases = xcalloc((size_t)json_object_object_length(al) + 1,
                          sizeof(*rs->aliases));
    json_object_object_foreach(al, k, v) {
        struct fo_alias *a = &rs->aliases[rs->n_aliases++];
        int one = !json_object_is_type(v, json_type_array);

        a->name = xstrdup(k);
        a->n = one ? 1 : json_object_array_length(v);
        snprintf(w, sizeof(w), "routing.aliases.%.100s", k);
        if (a->n == 0 || a->n > FO_MAX_CANDS)
            return bad(err, errsz, name, w, "an alias lists 1 to 16 "
                       "candidates");
        a->e = xcalloc(a->n, sizeof(*a->e));
        for (size_t i = 0; i < a->n; i++) {
            if (!one)
                snprintf(w, sizeof(w), "routing.aliases.%.100s[%zu]", k, i);
            if (load_entry(&a->e[i], one ? v : json_object_array_get_idx(v,
                                                                    i),
                           i) < 0)
                return bad(err, errsz, name, w, "each candidate is a model "
                           "name or {\"model\", \"backend\", \"weight\", "
                           "\"priority\"}");
            if (a->e[i].backend != NULL &&
                !has_backend(cfg, a->e[i].backend)) {
                char m[160];

                snprintf(m, sizeof(m), "unknown backend \"%.100s\" (not in "
                         "backends)", a->e[i].backend);
                strncat(w, ".backend", sizeof(w) - strlen(w) - 1);
                return bad(err, errsz, name, w, m);
            }
        }
    }
    return 0;
}

static int load_retry_on(struct routing_settings *rs, json_object *a,
                         const char *name, char *err, size_t errsz)
{
    static const struct { const char *n; unsigned bit; } kinds[] = {
        { "connect", FO_CONNECT }, { "timeout", FO_TIMEOUT },
        { "5xx", FO_5XX }, { "429", FO_429 }, { "reset", FO_BROKEN },
    };

    if (!json_object_is_type(a, json_type_array))
        return bad(err, errsz, name, "routing.retry_on", "must be a list");
    rs->retry_on = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(a,
                                                                        i));
        size_t k;

        for (k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
            if (s != NULL && strcmp(s, kinds[k].n) == 0)
                break;
        if (k == sizeof(kinds) / sizeof(*kinds))
            return bad(err, errsz, name, "routing.retry_on",
                       "known: connect, timeout, reset, 5xx, 429");
        rs->retry_on |= kinds[k].bit;
    }
    return 0;
}

static int get_l(json_object *o, const char *k, long min, long max,
                 long *out, const char *name, char *err, size_t errsz)
{
    char e[256];

    if (config_opt_long(o, k, min, max, out, e, sizeof(e)) < 0)
        return bad(err, errsz, name, "routing", e);
    return 0;
}

/* backends[i].circuit: consecutive failures and/or an error rate. */
static int load_circuit(struct circuit_policy *p, json_object *c,
                        const char *name, char *err, size_t errsz)
{
    long f = 0, rate = 0, minr = 10, win = 10000, o = 30000, mx = -1;

    if (c != NULL &&
        (get_l(c, "failures", 0, 1000, &f, name, err, errsz) < 0 ||
         get_l(c, "error_rate_pct", 0, 100, &rate, name, err, errsz) < 0 ||
         get_l(c, "min_requests", 1, 1000000, &minr, name, err,
               errsz) < 0 ||
         get_l(c, "window_ms", 100, 3600000, &win, name, err, errsz) < 0 ||
         get_l(c, "open_ms", 100, 3600000, &o, name, err, errsz) < 0 ||
         get_l(c, "max_open_ms", 100, 86400000, &mx, name, err,
               errsz) < 0))
        return -1;
    *p = (struct circuit_policy){
        .failures = (int)f, .error_rate_pct = (int)rate,
        .min_requests = (int)minr, .window_ms = win, .open_ms = o,
        .max_open_ms = mx < 0 ? 10 * o : mx < o ? o : mx,
    };
    return 0;
}

static int load_circuits(struct config *cfg, json_object *root,
                         const char *name, char *err, size_t errsz)
{
    struct routing_settings *rs = cfg->routing;
    json_object *bes = json_object_object_get(root, "backends");

    rs->cb = xcalloc(cfg->n_backends + 1, sizeof(*rs->cb));
    rs->max_concurrent = xcalloc(cfg->n_backends + 1, sizeof(int));
    for (size_t i = 0; i < cfg->n_backends; i++) {
        json_object *bo = json_object_array_get_idx(bes, i);
        long mc = 0;

        if (get_l(bo, "max_concurrent", 0, 1000000, &mc, name, err,
                  errsz) < 0 ||
            load_circuit(&rs->cb[i], json_object_object_get(bo, "circuit"),
                         name, err, errsz) < 0)
            return -1;
        rs->max_concurrent[i] = (int)mc;
    }
    return 0;
}

int failover_load(struct config *cfg, json_object *root, char *err,
                  size_t errsz)
{
    struct routing_settings *rs = xcalloc(1, sizeof(*rs));
    json_object *r = json_object_object_get(root, "routing"), *v;
    long attempts = 3, shm = 1;
    const char *s;
    char nm[4096];

    cfg->routing = rs;
    rs->retry_on = FO_CONNECT | FO_TIMEOUT | FO_5XX | FO_429 | FO_BROKEN;
    rs->backoff_ms = 25;
    rs->backoff_max_ms = 1000;
    rs->retry_after_max_ms = 60000;
    rs->deadline_ms = 60000;
    if (r != NULL) {
        if (get_l(r, "max_attempts", 1, FO_MAX_CANDS, &attempts, cfg->path,
                  err, errsz) < 0 ||
            get_l(r, "backoff_ms", 0, 60000, &rs->backoff_ms, cfg->path, err,
                  errsz) < 0 ||
            get_l(r, "backoff_max_ms", 0, 600000, &rs->backoff_max_ms,
                  cfg->path, err, errsz) < 0 ||
            get_l(r, "retry_after_max_ms", 0, 3600000,
                  &rs->retry_after_max_ms, cfg->path, err, errsz) < 0 ||
            get_l(r, "deadline_ms", 100, 86400000, &rs->deadline_ms,
                  cfg->path, err, errsz) < 0 ||
            get_l(r, "shared_circuits", 0, 1, &shm, cfg->path, err,
                  errsz) < 0)
            return -1;
        if (json_object_object_get_ex(r, "retry_on", &v) &&
            load_retry_on(rs, v, cfg->path, err, errsz) < 0)
            return -1;
        if (json_object_object_get_ex(r, "aliases", &v) &&
            load_aliases(cfg, rs, v, err, errsz) < 0)
            return -1;
        if ((s = jget_str(r, "report_model")) != NULL) {
            if (strcmp(s, "requested") != 0 && strcmp(s, "served") != 0)
                return bad(err, errsz, cfg->path, "routing.report_model",
                           "must be requested or served");
            rs->report_requested = strcmp(s, "requested") == 0;
        }
    }
    rs->max_attempts = (int)attempts;
    if (shm) {     /* one file per config (v3: the layout), beside the
                    other shared state, so var/ or the spool holds it */
        unsigned h = 5381;

        for (const char *p = cfg->path; *p; p++)
            h = h * 33 + (unsigned char)*p;
        snprintf(nm, sizeof(nm), "%s/circuit-v4-%08x.shm", cfg->spool_dir, h);
        rs->shm_name = xstrdup(nm);
    }
    return load_circuits(cfg, root, cfg->path, err, errsz);
}

void failover_free(struct routing_settings *rs)
{
    if (rs == NULL)
        return;
    for (size_t i = 0; i < rs->n_aliases; i++) {
        for (size_t j = 0; j < rs->aliases[i].n; j++) {
            free(rs->aliases[i].e[j].backend);
            free(rs->aliases[i].e[j].model);
        }
        free(rs->aliases[i].e);
        free(rs->aliases[i].name);
    }
    free(rs->aliases);
    free(rs->cb);
    free(rs->max_concurrent);
    free(rs->shm_name);
    free(rs);
}

static unsigned next_rand(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static size_t add(struct fo_cand *out, size_t n, size_t max,
                  const struct backend *be, const char *model, int w, int p)
{
    if (n >= max || w <= 0)
        return n;
    for (size_t i = 0; i < n; i++)      /* each pair once */
        if (out[i].be == be && strcmp(out[i].model, model) == 0)
            return n;
    out[n] = (struct fo_cand){ be, model, p, w };
    return n + 1;
}

/* Priority ascending; within one, a weighted shuffle. */
static void order(struct fo_cand *c, size_t n, unsigned *seed)
{
    for (size_t i = 1; i < n; i++)          /* stable insertion sort */
        for (size_t j = i; j > 0 && c[j - 1].priority > c[j].priority; j--) {
            struct fo_cand t = c[j];

            c[j] = c[j - 1];
            c[j - 1] = t;
        }
    for (size_t i = 0; i < n;) {
        size_t end = i;
        long total = 0;

        while (end < n && c[end].priority == c[i].priority)
            total += c[end++].weight;
        for (size_t k = i; k + 1 < end; k++) {
            long pick = (long)(next_rand(seed) % (unsigned long)total);
            size_t j = k;

            while (pick >= c[j].weight)
                pick -= c[j++].weight;
            total -= c[j].weight;
            struct fo_cand t = c[j];

            c[j] = c[k];
            c[k] = t;
        }
        i = end;
    }
}

size_t failover_candidates(const struct config *cfg, const struct route *rt,
                           const char *model, struct fo_cand *out,
                           size_t max, unsigned *seed, int *aliased)
{
    const struct routing_settings *rs = cfg->routing;
    const struct route_ext *e = rt->ext;
    size_t n = 0;

    *aliased = 0;
    for (size_t a = 0; rs != NULL && a < rs->n_aliases; a++) {
        const struct fo_alias *al = &rs->aliases[a];

        if (strcmp(al->name, model) != 0)
            continue;
        *aliased = 1;
        for (size_t i = 0; i < al->n; i++)
            for (size_t j = 0; j < rt->n_backends; j++) {
                const struct backend *be = rt->backends[j];

                if (al->e[i].backend != NULL
                        ? strcmp(al->e[i].backend, be->name) != 0
                        : !backend_serves(be, al->e[i].model))
                    continue;
                n = add(out, n, max, be, al->e[i].model, al->e[i].weight,
                        al->e[i].priority);
                if (al->e[i].backend == NULL)
                    break;        /* the first route backend serving it */
            }
        break;
    }
    if (!*aliased)
        for (size_t j = 0; j < rt->n_backends; j++)
            if (backend_serves(rt->backends[j], model))
                n = add(out, n, max, rt->backends[j], model,
                        e && e->weight ? e->weight[j] : 1,
                        e && e->priority ? e->priority[j] : (int)j);
    order(out, n, seed);
    return n;
}

int failover_retryable(const struct routing_settings *rs, int fail,
                       long status)
{
    switch (fail) {
    case UP_CONNECT:
        return !!(rs->retry_on & FO_CONNECT);
    case UP_TIMEOUT:
        return !!(rs->retry_on & FO_TIMEOUT);
    case UP_BROKEN:
        return !!(rs->retry_on & FO_BROKEN);
    case UP_OK:
        return (status == 429 && (rs->retry_on & FO_429)) ||
               (status >= 500 && status <= 599 && (rs->retry_on & FO_5XX));
    default:
        return 0;
    }
}

long failover_backoff_ms(const struct routing_settings *rs, int n,
                         unsigned *seed)
{
    long b = rs->backoff_ms;

    for (int i = 2; i < n && b < rs->backoff_max_ms; i++)
        b *= 2;
    if (b > rs->backoff_max_ms)
        b = rs->backoff_max_ms;
    return b > 0 ? b / 2 + (long)(next_rand(seed) % (unsigned)(b / 2 + 1))
                 : 0;
}

long failover_retry_after_ms(const struct routing_settings *rs,
                             const char *hdr, long now_unix)
{
    char *end;
    long s;

    if (hdr == NULL || *hdr == '\0')
        return 0;
    s = strtol(hdr, &end, 10);
    if (end == hdr || *end != '\0') {     /* an HTTP-date (IMF-fixdate,
                                            RFC 850 or asctime: curl's) */
        time_t t = curl_getdate(hdr, NULL);

        if (t == (time_t)-1 || (long)t <= now_unix)
            return 0;
        s = (long)t - now_unix;
    }
    if (s <= 0)
        return 0;
    if (s > rs->retry_after_max_ms / 1000)
        return rs->retry_after_max_ms;
    return s * 1000;
}

const struct circuit_policy *failover_circuit(const struct config *cfg,
                                              const struct backend *be)
{
    size_t i = (size_t)(be - cfg->backends);

    return cfg->routing != NULL && i < cfg->n_backends
           ? &cfg->routing->cb[i] : NULL;
}

const char *failover_alias_name(const struct config *cfg, size_t i)
{
    return cfg->routing != NULL && i < cfg->routing->n_aliases
           ? cfg->routing->aliases[i].name : NULL;
}

int failover_max_concurrent(const struct config *cfg,
                            const struct backend *be)
{
    size_t i = (size_t)(be - cfg->backends);

    return cfg->routing != NULL && i < cfg->n_backends
           ? cfg->routing->max_concurrent[i] : 0;
}
