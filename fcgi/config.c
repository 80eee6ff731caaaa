#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcfg.h"
#include "capture.h"
#include "buf.h"
#include "failover.h"
#include "guardrails.h"
#include "log.h"
#include "quotacfg.h"
#include "logsink.h"
#include "providers/provider.h"
#include "router.h"
#include "xalloc.h"

#define CONFIG_MAX_BYTES (4 << 20)

char *config_expand(const char *s, char *err, size_t errsz)
{
    struct buf b = BUF_INIT(1 << 20);

    while (*s) {
        const char *start = strstr(s, "${"), *end, *dflt;
        char name[128];
        size_t nlen;
        const char *val;

        if (start == NULL) {
            buf_adds(&b, s);
            break;
        }
        buf_add(&b, s, (size_t)(start - s));
        end = strchr(start, '}');
        if (end == NULL) {
            snprintf(err, errsz, "unterminated ${ in \"%.40s\"", start);
            goto fail;
        }
        dflt = strstr(start, ":-");
        if (dflt != NULL && dflt > end)
            dflt = NULL;
        nlen = (size_t)((dflt ? dflt : end) - (start + 2));
        if (nlen == 0 || nlen >= sizeof(name)) {
            snprintf(err, errsz, "bad variable reference");
            goto fail;
        }
        memcpy(name, start + 2, nlen);
        name[nlen] = '\0';
        val = getenv(name);
        if (val != NULL && (*val != '\0' || dflt == NULL))
            buf_adds(&b, val);
        else if (dflt != NULL)
            buf_add(&b, dflt + 2, (size_t)(end - dflt - 2));
        else {
            snprintf(err, errsz, "environment variable %s is not set", name);
            goto fail;
        }
        s = end + 1;
    }
    if (buf_error(&b) == 0)
        return buf_detach(&b, NULL);
    snprintf(err, errsz, "value too long");
fail:
    buf_release(&b);
    return NULL;
}

/* Reads the first line of a secret file (no trailing newline). */
static char *read_secret_file(const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    size_t n;

    if (f == NULL) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    return xstrdup(line);
}

struct ctx {
    const char *name;
    char *err;
    size_t errsz;
};

/* "file: json.path: what" (where may end in '.': "routes[2]."). */
static int bad(struct ctx *c, const char *where, const char *what)
{
    size_t n = strlen(where);

    if (n > 0 && where[n - 1] == '.')
        n--;
    snprintf(c->err, c->errsz, "%s: %.*s: %s", c->name, (int)n, where, what);
    return -1;
}

/* Optional string setting with ${ENV} expansion. *out keeps its value when
 * the key is absent. */
static int get_str(struct ctx *c, json_object *o, const char *key,
                   const char *where, char **out)
{
    json_object *v;
    char e[256], w[256];
    char *s;

    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v,
                                                        json_type_null))
        return 0;
    snprintf(w, sizeof(w), "%s%s", where, key);
    if (!json_object_is_type(v, json_type_string))
        return bad(c, w, "must be a string");
    s = config_expand(json_object_get_string(v), e, sizeof(e));
    if (s == NULL)
        return bad(c, w, e);
    free(*out);
    *out = s;
    return 0;
}

static int get_long(struct ctx *c, json_object *o, const char *key,
                    const char *where, long min, long max, long *out)
{
    json_object *v;
    char w[256];
    int64_t n;

    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    snprintf(w, sizeof(w), "%s%s", where, key);
    if (!json_object_is_type(v, json_type_int))
        return bad(c, w, "must be an integer");
    n = json_object_get_int64(v);
    if (n < min || n > max) {
        char m[96];

        snprintf(m, sizeof(m), "must be between %ld and %ld", min, max);
        return bad(c, w, m);
    }
    *out = (long)n;
    return 0;
}

static json_object *section(json_object *root, const char *key)
{
    json_object *v;

    if (json_object_object_get_ex(root, key, &v) &&
        json_object_is_type(v, json_type_object))
        return v;
    return NULL;
}

static int load_models(struct ctx *c, json_object *o, const char *where,
                       struct backend *be)
{
    json_object *arr;
    char w[256];

    if (!json_object_object_get_ex(o, "models", &arr))
        return 0;
    snprintf(w, sizeof(w), "%smodels", where);
    if (!json_object_is_type(arr, json_type_array))
        return bad(c, w, "must be an array of strings");
    be->n_models = json_object_array_length(arr);
    be->models = xcalloc(be->n_models, sizeof(char *));
    for (size_t i = 0; i < be->n_models; i++) {
        json_object *m = json_object_array_get_idx(arr, i);

        if (!json_object_is_type(m, json_type_string) ||
            json_object_get_string_len(m) == 0)
            return bad(c, w, "must be an array of non-empty strings");
        be->models[i] = xstrdup(json_object_get_string(m));
    }
    return 0;
}

static int load_backend(struct ctx *c, json_object *o, size_t i,
                        struct backend *be)
{
    char where[64], *key_file = NULL;
    long max_resp = 64L << 20;
    size_t n;

    snprintf(where, sizeof(where), "backends[%zu].", i);
    if (!json_object_is_type(o, json_type_object))
        return bad(c, where, "must be an object");
    be->provider = xstrdup("openai");
    be->connect_timeout_ms = 5000;
    be->timeout_ms = 600000;
    be->idle_timeout_ms = 120000;
    if (get_str(c, o, "name", where, &be->name) < 0 ||
        get_str(c, o, "provider", where, &be->provider) < 0 ||
        get_str(c, o, "base_url", where, &be->base_url) < 0 ||
        get_str(c, o, "api_key", where, &be->api_key) < 0 ||
        get_str(c, o, "api_key_file", where, &key_file) < 0 ||
        get_long(c, o, "connect_timeout_ms", where, 1, 600000,
                 &be->connect_timeout_ms) < 0 ||
        get_long(c, o, "timeout_ms", where, 1, 86400000, &be->timeout_ms) < 0 ||
        get_long(c, o, "idle_timeout_ms", where, 1000, 86400000,
                 &be->idle_timeout_ms) < 0 ||
        get_long(c, o, "max_response_bytes", where, 1024, 1L << 30,
                 &max_resp) < 0 ||
        load_models(c, o, where, be) < 0)
        goto fail;
    be->max_response_bytes = (size_t)max_resp;
    if (key_file != NULL) {
        char e[256];

        free(be->api_key);
        be->api_key = read_secret_file(key_file, e, sizeof(e));
        if (be->api_key == NULL) {
            bad(c, where, e);
            goto fail;
        }
    }
    if (be->api_key != NULL && *be->api_key == '\0') {
        free(be->api_key);
        be->api_key = NULL;
    }
    if (be->api_key != NULL && strpbrk(be->api_key, "\r\n") != NULL) {
        bad(c, where, "api_key must not contain line breaks");
        goto fail;
    }
    if (be->name == NULL) {
        bad(c, where, "name is required");
        goto fail;
    }
    be->ops = provider_find(be->provider);
    if (be->ops == NULL) {
        char m[256];

        snprintf(m, sizeof(m), "unknown provider (known: %s)",
                 provider_names());
        bad(c, where, m);
        goto fail;
    }
    if (be->ops->init != NULL) {
        char e[256];

        /* may fill base_url with the provider's default */
        if (be->ops->init(be, o, e, sizeof(e)) < 0) {
            bad(c, where, e);
            goto fail;
        }
    }
    if (be->base_url == NULL || *be->base_url == '\0') {
        bad(c, where, "base_url is required");
        goto fail;
    }
    if (strncmp(be->base_url, "http://", 7) != 0 &&
        strncmp(be->base_url, "https://", 8) != 0) {
        bad(c, where, "base_url must start with http:// or https://");
        goto fail;
    }
    n = strlen(be->base_url);
    while (n > 0 && be->base_url[n - 1] == '/')
        be->base_url[--n] = '\0';
    free(key_file);
    return 0;
fail:
    free(key_file);
    return -1;
}

static struct backend *find_backend(struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_backends; i++)
        if (strcmp(cfg->backends[i].name, name) == 0)
            return &cfg->backends[i];
    return NULL;
}

/* "backend": "name" or "backends": ["a", "b"] (chosen by model). */
static int route_backends(struct ctx *c, struct config *cfg, json_object *o,
                          const char *where, struct route *rt)
{
    json_object *one, *many;
    size_t n;

    if (json_object_object_get_ex(o, "backend", &one)) {
        if (!json_object_is_type(one, json_type_string))
            return bad(c, where, "backend must be a string");
        many = NULL;
        n = 1;
    } else if (json_object_object_get_ex(o, "backends", &many) &&
               json_object_is_type(many, json_type_array) &&
               (n = json_object_array_length(many)) > 0) {
        one = NULL;
    } else {
        return bad(c, where, "backend or a non-empty backends list is "
                   "required");
    }
    rt->backends = xcalloc(n, sizeof(*rt->backends));
    rt->n_backends = n;
    for (size_t i = 0; i < n; i++) {
        json_object *v = one ? one : json_object_array_get_idx(many, i);
        char w[96], m[160];

        if (one)
            snprintf(w, sizeof(w), "%sbackend", where);
        else
            snprintf(w, sizeof(w), "%sbackends[%zu]", where, i);
        if (json_object_is_type(v, json_type_object)) {  /* router.c */
            v = json_object_object_get(v, "name");
            strncat(w, ".name", sizeof(w) - strlen(w) - 1);
        }
        if (!json_object_is_type(v, json_type_string))
            return bad(c, w, "must be a backend name");
        if ((rt->backends[i] = find_backend(cfg,
                                json_object_get_string(v))) == NULL) {
            snprintf(m, sizeof(m), "unknown backend \"%.100s\" (not in "
                     "backends)", json_object_get_string(v));
            return bad(c, w, m);
        }
    }
    return 0;
}

static int load_route(struct ctx *c, struct config *cfg, json_object *o,
                      size_t i, struct route *rt)
{
    char where[64], rwhere[320];

    snprintf(where, sizeof(where), "routes[%zu].", i);
    if (!json_object_is_type(o, json_type_object))
        return bad(c, where, "must be an object");
    if (get_str(c, o, "name", where, &rt->name) < 0 ||
        get_str(c, o, "prefix", where, &rt->prefix) < 0 ||
        (snprintf(rwhere, sizeof(rwhere), "%s: %s", c->name, where),
         router_route_load(rt, o, rwhere, c->err, c->errsz)) < 0)
        return -1;
    if (rt->prefix == NULL || rt->prefix[0] != '/')
        return bad(c, where, "prefix (starting with /) is required");
    rt->prefix_len = strlen(rt->prefix);
    while (rt->prefix_len > 1 && rt->prefix[rt->prefix_len - 1] == '/')
        rt->prefix[--rt->prefix_len] = '\0';
    if (rt->name == NULL)
        rt->name = xstrdup(rt->prefix);
    if (rt->ext->direct_status != 0 &&       /* answers by itself */
        !json_object_object_get_ex(o, "backend", NULL) &&
        !json_object_object_get_ex(o, "backends", NULL))
        return 0;
    if (route_backends(c, cfg, o, where, rt) < 0)
        return -1;
    return router_route_backends(rt, o, rwhere, c->err, c->errsz);
}

static int load_list(struct ctx *c, struct config *cfg, json_object *root)
{
    json_object *bes, *rts;

    if (!json_object_object_get_ex(root, "backends", &bes) ||
        !json_object_is_type(bes, json_type_array) ||
        json_object_array_length(bes) == 0)
        return bad(c, "backends", "a non-empty array is required");
    cfg->n_backends = json_object_array_length(bes);
    cfg->backends = xcalloc(cfg->n_backends, sizeof(struct backend));
    for (size_t i = 0; i < cfg->n_backends; i++) {
        if (load_backend(c, json_object_array_get_idx(bes, i), i,
                         &cfg->backends[i]) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->backends[j].name, cfg->backends[i].name) == 0)
                return bad(c, "backends", "duplicate backend name");
    }
    if (!json_object_object_get_ex(root, "routes", &rts) ||
        !json_object_is_type(rts, json_type_array) ||
        json_object_array_length(rts) == 0)
        return bad(c, "routes", "a non-empty array is required");
    cfg->n_routes = json_object_array_length(rts);
    cfg->routes = xcalloc(cfg->n_routes, sizeof(struct route));
    for (size_t i = 0; i < cfg->n_routes; i++)
        if (load_route(c, cfg, json_object_array_get_idx(rts, i), i,
                       &cfg->routes[i]) < 0)
            return -1;
    return 0;
}

static int load_settings(struct ctx *c, struct config *cfg, json_object *root)
{
    json_object *db = section(root, "database"), *auth = section(root, "auth");
    json_object *ledger = section(root, "ledger");
    json_object *reload = section(root, "reload");
    long threads = cfg->threads, body = (long)cfg->max_body_bytes;
    long batch = cfg->ledger_batch_rows, qmax = (long)cfg->ledger_queue_max;
    long cmax = (long)cfg->auth_cache_max;
    char *level = NULL;
    int lv;

    if (get_long(c, root, "threads", "", 1, 4096, &threads) < 0 ||
        get_long(c, root, "max_body_bytes", "", 1024, 256L << 20, &body) < 0 ||
        get_str(c, root, "log_level", "", &level) < 0 ||
        get_str(c, root, "log_file", "", &cfg->log_file) < 0)
        goto fail;
    cfg->threads = (int)threads;
    cfg->max_body_bytes = (size_t)body;
    if (level != NULL) {
        if ((lv = log_level_parse(level)) < 0) {
            bad(c, "log_level", "must be error, warn, info or debug");
            goto fail;
        }
        cfg->log_level = lv;
    }
    if (db != NULL &&
        (get_str(c, db, "conninfo", "database.", &cfg->db_conninfo) < 0 ||
         get_long(c, db, "connect_timeout_s", "database.", 1, 60,
                  &cfg->db_connect_timeout_s) < 0 ||
         get_long(c, db, "statement_timeout_ms", "database.", 1, 600000,
                  &cfg->db_statement_timeout_ms) < 0))
        goto fail;
    if (auth != NULL &&
        (get_long(c, auth, "cache_ttl_ms", "auth.", 0, 3600000,
                  &cfg->auth_cache_ttl_ms) < 0 ||
         get_long(c, auth, "cache_max", "auth.", 16, 10000000, &cmax) < 0))
        goto fail;
    cfg->auth_cache_max = (size_t)cmax;
    if (ledger != NULL &&
        (get_str(c, ledger, "spool_dir", "ledger.", &cfg->spool_dir) < 0 ||
         get_long(c, ledger, "batch_rows", "ledger.", 1, 10000, &batch) < 0 ||
         get_long(c, ledger, "flush_ms", "ledger.", 1, 60000,
                  &cfg->ledger_flush_ms) < 0 ||
         get_long(c, ledger, "queue_max", "ledger.", 16, 10000000, &qmax) < 0))
        goto fail;
    cfg->ledger_batch_rows = (int)batch;
    cfg->ledger_queue_max = (size_t)qmax;
    if (reload != NULL &&
        get_long(c, reload, "watch_ms", "reload.", 0, 3600000,
                 &cfg->reload_watch_ms) < 0)
        goto fail;
    free(level);
    return 0;
fail:
    free(level);
    return -1;
}

/* --- "observability": metrics, log sinks, traces ----------------------- */

static int get_bool(struct ctx *c, json_object *o, const char *key,
                    const char *where, int *out)
{
    json_object *v;
    char w[256];

    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    snprintf(w, sizeof(w), "%s%s", where, key);
    if (!json_object_is_type(v, json_type_boolean))
        return bad(c, w, "must be true or false");
    *out = json_object_get_boolean(v);
    return 0;
}

static int load_observability(struct ctx *c, struct config *cfg,
                              json_object *root)
{
    json_object *o = section(root, "observability");
    struct obs_settings *s = &cfg->obs;
    const char *w = "observability.";
    char *fac = NULL;
    int rc = -1;

    s->metrics = 1;
    s->metrics_path = xstrdup("/metrics");
    s->max_series = 8192;
    s->max_label_sets = 2000;
    s->syslog_ident = xstrdup("aigw");
    s->syslog_facility = logsink_facility("local0");
    s->service_name = xstrdup("aigw");
    s->otlp_batch_spans = 512;
    s->otlp_flush_ms = 1000;
    s->otlp_queue_max = 8192;
    s->otlp_timeout_ms = 2000;
    if (o == NULL)
        return 0;
    if (get_bool(c, o, "metrics", w, &s->metrics) < 0 ||
        get_str(c, o, "metrics_path", w, &s->metrics_path) < 0 ||
        get_str(c, o, "metrics_shm", w, &s->metrics_shm) < 0 ||
        get_long(c, o, "max_series", w, 64, 1L << 20, &s->max_series) < 0 ||
        get_long(c, o, "max_label_sets", w, 1, 1L << 20,
                 &s->max_label_sets) < 0 ||
        get_bool(c, o, "syslog", w, &s->syslog) < 0 ||
        get_str(c, o, "syslog_ident", w, &s->syslog_ident) < 0 ||
        get_str(c, o, "syslog_facility", w, &fac) < 0 ||
        get_str(c, o, "otlp_endpoint", w, &s->otlp_endpoint) < 0 ||
        get_str(c, o, "service_name", w, &s->service_name) < 0 ||
        get_long(c, o, "otlp_batch_spans", w, 1, 10000,
                 &s->otlp_batch_spans) < 0 ||
        get_long(c, o, "otlp_flush_ms", w, 10, 600000,
                 &s->otlp_flush_ms) < 0 ||
        get_long(c, o, "otlp_queue_max", w, 16, 10000000,
                 &s->otlp_queue_max) < 0 ||
        get_long(c, o, "otlp_timeout_ms", w, 100, 60000,
                 &s->otlp_timeout_ms) < 0)
        goto out;
    if (s->metrics_path[0] != '/') {
        bad(c, "observability.metrics_path", "must start with /");
        goto out;
    }
    if (fac != NULL && (s->syslog_facility = logsink_facility(fac)) < 0) {
        bad(c, "observability.syslog_facility", "must be user, daemon or "
            "local0 ... local7");
        goto out;
    }
    if (s->otlp_endpoint != NULL && *s->otlp_endpoint == '\0') {
        free(s->otlp_endpoint);
        s->otlp_endpoint = NULL;
    }
    if (s->otlp_endpoint != NULL &&
        strncmp(s->otlp_endpoint, "http://", 7) != 0 &&
        strncmp(s->otlp_endpoint, "https://", 8) != 0) {
        bad(c, "observability.otlp_endpoint", "must be an http(s) URL");
        goto out;
    }
    if (s->metrics_shm != NULL && *s->metrics_shm == '\0') {
        free(s->metrics_shm);
        s->metrics_shm = NULL;
    }
    rc = 0;
out:
    free(fac);
    return rc;
}

static void set_defaults(struct config *cfg)
{
    cfg->threads = 16;
    cfg->max_body_bytes = 4 << 20;
    cfg->log_level = LOG_INFO;
    cfg->db_connect_timeout_s = 2;
    cfg->db_statement_timeout_ms = 5000;
    cfg->auth_cache_ttl_ms = 5000;
    cfg->auth_cache_max = 100000;
    cfg->spool_dir = xstrdup("/var/spool/aigw");
    cfg->ledger_batch_rows = 500;
    cfg->ledger_flush_ms = 100;
    cfg->ledger_queue_max = 100000;
    cfg->reload_watch_ms = 1000;
}

/* Settings read once at start (by the ledger, the auth cache, the JWKS
 * fetcher, the metrics segment, the span exporter, the thread pool): a
 * reload keeps their start-up values. */
static const char *const restart_only_paths[] = {
    "threads", "log_file", "database", "ledger", "auth", "identity.jwt",
    "observability.metrics_shm", "observability.max_series",
    "observability.max_label_sets", "observability.syslog",
    "observability.syslog_ident", "observability.syslog_facility",
    "observability.otlp_endpoint", "observability.service_name",
    "observability.otlp_batch_spans", "observability.otlp_flush_ms",
    "observability.otlp_queue_max", "observability.otlp_timeout_ms",
    "routing.shared_circuits",
};

/* The value at a dotted path of root, or NULL. */
static json_object *at_path(json_object *root, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL && root != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        root = section(root, key);
        path = dot + 1;
    }
    return root != NULL ? json_object_object_get(root, path) : NULL;
}

static void keep_restart_only(struct config *cfg, json_object *root)
{
    size_t n = sizeof(restart_only_paths) / sizeof(*restart_only_paths);

    cfg->restart_only = json_object_new_object();
    for (size_t i = 0; i < n; i++) {
        json_object *v = at_path(root, restart_only_paths[i]);

        if (v != NULL)
            json_object_object_add(cfg->restart_only, restart_only_paths[i],
                                   json_object_get(v));
    }
}

int config_restart_changes(const struct config *boot,
                           const struct config *next, char *out,
                           size_t outsz)
{
    size_t n = sizeof(restart_only_paths) / sizeof(*restart_only_paths);
    size_t used = 0;
    int count = 0;

    if (outsz > 0)
        out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *k = restart_only_paths[i];
        json_object *a = json_object_object_get(boot->restart_only, k);
        json_object *b = json_object_object_get(next->restart_only, k);

        if (json_object_equal(a, b))
            continue;
        if (used < outsz)
            used += (size_t)snprintf(out + used, outsz - used, "%s%s",
                                     count ? ", " : "", k);
        count++;
    }
    return count;
}

/* The 1-based line and column of byte off in text. */
static void place_of(const char *text, size_t off, int *line, int *col)
{
    *line = *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

/* Where text has something other than blanks and comments from off on;
 * 0 when nothing. */
static size_t trailing(const char *text, size_t off)
{
    const char *p = text + off;

    for (;;) {
        p += strspn(p, " \t\r\n");
        if (p[0] == '/' && p[1] == '/')
            p += strcspn(p, "\n");
        else if (p[0] == '/' && p[1] == '*' && strstr(p + 2, "*/") != NULL)
            p = strstr(p + 2, "*/") + 2;
        else
            return *p ? (size_t)(p - text) : 0;
    }
}

struct config *config_parse(const char *text, const char *name, char *err,
                            size_t errsz)
{
    struct ctx c = { name, err, errsz };
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    json_object *root;
    size_t len = strlen(text), end;

    cfg->path = xstrdup(name);
    set_defaults(cfg);
    root = json_tokener_parse_ex(tok, text, (int)len + 1);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        int line, col;

        /* the tokener stops at the offending character, or just past
         * it: never a blank, nor the end of the data */
        end = root == NULL ? json_tokener_get_parse_end(tok) : 0;
        if (end > len)
            end = len;
        while (end > 0 && (text[end] == '\0' ||
                           strchr(" \t\r\n", text[end]) != NULL))
            end--;
        place_of(text, end, &line, &col);
        snprintf(err, errsz, "%s:%d:%d: %s", name, line, col,
                 root ? "top level must be an object"
                      : json_tokener_error_desc(json_tokener_get_error(tok)));
        goto fail;
    }
    if ((end = trailing(text, json_tokener_get_parse_end(tok))) > 0) {
        int line, col;

        place_of(text, end, &line, &col);
        snprintf(err, errsz, "%s:%d:%d: text after the top-level object",
                 name, line, col);
        goto fail;
    }
    if (load_settings(&c, cfg, root) < 0 || load_list(&c, cfg, root) < 0 ||
        guardrails_load(root, cfg, err, errsz) < 0 ||
        failover_load(cfg, root, err, errsz) < 0)    /* "routing" */
        goto fail;
    if (authcfg_load(cfg, root, err, errsz) < 0)   /* identity section */
        goto fail;
    if (quotacfg_load(cfg, root, err, errsz) < 0)  /* quotas section */
        goto fail;
    if (load_observability(&c, cfg, root) < 0 ||
        capture_load(root, cfg, err, errsz) < 0)   /* capture.c */
        goto fail;
    if (cfg->log_file != NULL && *cfg->log_file == '\0') {
        free(cfg->log_file);
        cfg->log_file = NULL;
    }
    if (cfg->db_conninfo == NULL) {
        bad(&c, "database.conninfo", "is required");
        goto fail;
    }
    keep_restart_only(cfg, root);
    json_object_put(root);
    json_tokener_free(tok);
    return cfg;
fail:
    json_object_put(root);
    json_tokener_free(tok);
    config_free(cfg);
    return NULL;
}

struct config *config_load(const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "r");
    struct buf b = BUF_INIT(CONFIG_MAX_BYTES);
    char chunk[8192];
    size_t n;
    struct config *cfg;

    if (f == NULL) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    if (buf_error(&b) || b.ptr == NULL) {
        snprintf(err, errsz, "%s: empty or larger than %d bytes", path,
                 CONFIG_MAX_BYTES);
        buf_release(&b);
        return NULL;
    }
    cfg = config_parse(b.ptr, path, err, errsz);
    buf_release(&b);
    return cfg;
}

void config_explain(const char *path, const char *err, FILE *out)
{
    size_t n = strlen(path);
    char line[1024];
    long want, col;
    char *end;
    FILE *f;

    if (strncmp(err, path, n) != 0 || err[n] != ':')
        return;
    want = strtol(err + n + 1, &end, 10);
    if (want <= 0 || *end != ':')
        return;
    col = strtol(end + 1, &end, 10);
    if (col <= 0 || *end != ':' || (f = fopen(path, "r")) == NULL)
        return;
    for (long i = 1; fgets(line, sizeof(line), f) != NULL; i++) {
        if (strchr(line, '\n') == NULL && !feof(f)) {
            int ch;                 /* a long line: the rest is skipped */

            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
        }
        if (i < want)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        fprintf(out, "  %s\n  ", line);
        for (long k = 1; k < col && line[k - 1] != '\0'; k++)
            fputc(line[k - 1] == '\t' ? '\t' : ' ', out);
        fputs("^\n", out);
        break;
    }
    fclose(f);
}

static void backend_release(struct backend *be)
{
    if (be->ops != NULL && be->ops->destroy != NULL)
        be->ops->destroy(be);
    free(be->name);
    free(be->provider);
    free(be->base_url);
    free(be->api_key);
    for (size_t i = 0; i < be->n_models; i++)
        free(be->models[i]);
    free(be->models);
}

void config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_backends; i++)
        backend_release(&cfg->backends[i]);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        free(cfg->routes[i].name);
        free(cfg->routes[i].prefix);
        free(cfg->routes[i].backends);
        router_route_free(&cfg->routes[i]);
    }
    failover_free(cfg->routing);
    authcfg_free(cfg->authz);
    guardrails_free(cfg->guardrails);
    capture_free(cfg->capture);
    quotacfg_free(cfg->quotas);
    free(cfg->backends);
    free(cfg->routes);
    free(cfg->db_conninfo);
    free(cfg->spool_dir);
    free(cfg->log_file);
    free(cfg->obs.metrics_path);
    free(cfg->obs.metrics_shm);
    free(cfg->obs.syslog_ident);
    free(cfg->obs.otlp_endpoint);
    free(cfg->obs.service_name);
    json_object_put(cfg->restart_only);
    free(cfg->path);
    free(cfg);
}

int backend_serves(const struct backend *b, const char *model)
{
    if (b->n_models == 0)
        return 1;
    for (size_t i = 0; i < b->n_models; i++)
        if (strcmp(b->models[i], model) == 0 ||
            (strpbrk(b->models[i], "*?[") != NULL &&
             fnmatch(b->models[i], model, 0) == 0))
            return 1;
    return 0;
}

struct backend *route_backend(const struct route *rt, const char *model)
{
    for (size_t i = 0; i < rt->n_backends; i++)
        if (backend_serves(rt->backends[i], model))
            return rt->backends[i];
    return NULL;
}

int config_opt_str(json_object *o, const char *key, char **out, char *err,
                   size_t errsz)
{
    struct ctx c = { "config", err, errsz };
    char fkey[128], *file = NULL, e[256];

    snprintf(fkey, sizeof(fkey), "%s_file", key);
    if (get_str(&c, o, key, "", out) < 0 || get_str(&c, o, fkey, "",
                                                     &file) < 0)
        return -1;
    if (file != NULL) {
        char *v = read_secret_file(file, e, sizeof(e));

        free(file);
        if (v == NULL) {
            snprintf(err, errsz, "%s: %s", fkey, e);
            return -1;
        }
        free(*out);
        *out = v;
    }
    return 0;
}

int config_opt_long(json_object *o, const char *key, long min, long max,
                    long *out, char *err, size_t errsz)
{
    struct ctx c = { "config", err, errsz };

    return get_long(&c, o, key, "", min, max, out);
}
