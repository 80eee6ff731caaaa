#include "quotacfg.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ratelimit.h"
#include "xalloc.h"

static const char *const dims[QD_N] = { "api_key", "user", "group", "model",
                                        "route" };
static const char *const units[] = { "requests", "input_tokens",
                                     "output_tokens", "total_tokens" };

const char *quota_unit_name(int unit)
{
    return unit >= 0 && unit <= QU_TOTAL ? units[unit] : "?";
}

static int dim_of(const char *s)
{
    for (int i = 0; i < QD_N; i++)
        if (strcmp(s, dims[i]) == 0)
            return i;
    return -1;
}

static int fail(char *err, size_t errsz, size_t i, const char *what)
{
    snprintf(err, errsz, "quotas.limits[%zu]: %s", i, what);
    return -1;
}

static int load_per(json_object *o, struct quota_local *l, size_t i,
                    char *err, size_t errsz)
{
    json_object *per, *match;
    int d;

    if (json_object_object_get_ex(o, "per", &per)) {
        if (!json_object_is_type(per, json_type_array))
            return fail(err, errsz, i, "per must be an array of api_key, "
                        "user, group, model, route");
        for (size_t k = 0; k < json_object_array_length(per); k++) {
            json_object *e = json_object_array_get_idx(per, k);

            if (!json_object_is_type(e, json_type_string) ||
                (d = dim_of(json_object_get_string(e))) < 0)
                return fail(err, errsz, i, "per: unknown dimension");
            l->per |= 1u << d;
        }
    }
    if (json_object_object_get_ex(o, "match", &match)) {
        if (!json_object_is_type(match, json_type_object))
            return fail(err, errsz, i, "match must be an object");
        json_object_object_foreach(match, k, v) {
            if ((d = dim_of(k)) < 0 || !json_object_is_type(v,
                                                            json_type_string))
                return fail(err, errsz, i, "match: unknown dimension or "
                            "non-string value");
            free(l->match[d]);
            l->match[d] = xstrdup(json_object_get_string(v));
        }
    }
    return 0;
}

/* A global limit becomes one quota_limits row: at most one subject
 * dimension (api_key, user, group or route; "per" it for each one
 * separately, or "match" one value) and optionally one model. */
static int check_global(const struct quota_local *l, size_t i, char *err,
                        size_t errsz)
{
    int subj = 0;

    if (l->per & (1u << QD_MODEL))
        return fail(err, errsz, i, "a global limit cannot be per model "
                    "(match one model instead)");
    for (int d = 0; d < QD_N; d++)
        if (d != QD_MODEL && ((l->per & (1u << d)) || l->match[d] != NULL))
            subj++;
    for (int d = 0; d < QD_N; d++)
        if ((l->per & (1u << d)) && l->match[d] != NULL)
            subj++;
    if (subj > 1)
        return fail(err, errsz, i, "a global limit has at most one of "
                    "api_key, user, group, route in per or match");
    return 0;
}

static int load_limit(json_object *o, struct quota_local *l, size_t i,
                      char *err, size_t errsz)
{
    const char *name = NULL, *unit = "requests", *win = "minute";
    json_object *v;
    int u = -1;
    static const char *const periods[] = { "minute", "hour", "day", "week",
                                           "month" };

    if (!json_object_is_type(o, json_type_object))
        return fail(err, errsz, i, "must be an object");
    if (json_object_object_get_ex(o, "name", &v))
        name = json_object_get_string(v);
    if (json_object_object_get_ex(o, "unit", &v))
        unit = json_object_get_string(v);
    if (json_object_object_get_ex(o, "window", &v))
        win = json_object_get_string(v);
    if (json_object_object_get_ex(o, "scope", &v)) {
        const char *sc = json_object_get_string(v);

        if (strcmp(sc, "global") == 0)
            l->global = 1;
        else if (strcmp(sc, "local") != 0)
            return fail(err, errsz, i, "scope must be \"local\" or "
                        "\"global\"");
    }
    if (l->global) {
        for (size_t k = 0; k < sizeof(periods) / sizeof(*periods); k++)
            if (strcmp(win, periods[k]) == 0)
                l->period = xstrdup(win);
        if (l->period == NULL)
            return fail(err, errsz, i, "a global limit's window must be "
                        "minute, hour, day, week or month");
        l->time_zone = xstrdup(json_object_object_get_ex(o, "time_zone", &v)
                               ? json_object_get_string(v) : "UTC");
        win = "hour";             /* the local window below is unused */
    }
    for (int k = 0; k <= QU_TOTAL; k++)
        if (strcmp(unit, units[k]) == 0)
            u = k;
    if (u < 0)
        return fail(err, errsz, i, "unit must be requests, input_tokens, "
                    "output_tokens or total_tokens");
    l->unit = u;
    l->window_s = strcmp(win, "second") == 0 ? 1
                : strcmp(win, "minute") == 0 ? 60
                : strcmp(win, "hour") == 0 ? 3600 : 0;
    if (l->window_s == 0)
        return fail(err, errsz, i, "window must be second, minute or hour");
    if (!json_object_object_get_ex(o, "limit", &v) ||
        !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0 ||
        json_object_get_int64(v) > 0xffffffffLL)
        return fail(err, errsz, i, "limit must be an integer in "
                    "[0, 4294967295]");
    l->limit = json_object_get_int64(v);
    l->name = xstrdup(name ? name : "");
    if (*l->name == '\0') {
        char n[32];

        snprintf(n, sizeof(n), "limit%zu", i);
        free(l->name);
        l->name = xstrdup(n);
    }
    l->seed = rl_hash(RL_HASH_INIT, l->name);
    if (load_per(o, l, i, err, errsz) < 0)
        return -1;
    return l->global ? check_global(l, i, err, errsz) : 0;
}

static int opt_long(json_object *q, const char *key, long min, long max,
                    long *out, char *err, size_t errsz)
{
    if (config_opt_long(q, key, min, max, out, err, errsz) < 0) {
        char tmp[256];

        snprintf(tmp, sizeof(tmp), "quotas.%s", err);
        snprintf(err, errsz, "%s", tmp);
        return -1;
    }
    return 0;
}

static int load_settings(struct quota_settings *s, json_object *q,
                         char *err, size_t errsz)
{
    json_object *v;

    if (json_object_object_get_ex(q, "enabled", &v))
        s->enabled = json_object_get_boolean(v);
    if (json_object_object_get_ex(q, "on_db_error", &v)) {
        const char *m = json_object_get_string(v);

        if (strcmp(m, "open") != 0 && strcmp(m, "closed") != 0) {
            snprintf(err, errsz, "quotas.on_db_error must be \"open\" or "
                     "\"closed\"");
            return -1;
        }
        s->fail_open = strcmp(m, "open") == 0;
    }
    if (opt_long(q, "chars_per_token", 1, 64, &s->chars_per_token, err,
                 errsz) < 0 ||
        opt_long(q, "default_max_tokens", 0, 10000000,
                 &s->default_max_tokens, err, errsz) < 0 ||
        opt_long(q, "reservation_ttl_s", 10, 86400, &s->reservation_ttl_s,
                 err, errsz) < 0 ||
        config_opt_str(q, "shm_path", &s->shm_path, err, errsz) < 0 ||
        opt_long(q, "lease_min", 1, 1000000000, &s->lease_min, err,
                 errsz) < 0 ||
        opt_long(q, "lease_max", 1, 1000000000, &s->lease_max, err,
                 errsz) < 0 ||
        opt_long(q, "lease_divisor", 1, 1000, &s->lease_divisor, err,
                 errsz) < 0 ||
        opt_long(q, "lease_ttl_s", 5, 86400, &s->lease_ttl_s, err,
                 errsz) < 0 ||
        opt_long(q, "lease_flush_ms", 10, 60000, &s->lease_flush_ms, err,
                 errsz) < 0 ||
        opt_long(q, "lease_idle_ms", 100, 3600000, &s->lease_idle_ms, err,
                 errsz) < 0)
        return -1;
    if (json_object_object_get_ex(q, "leases", &v))
        s->leases = json_object_get_boolean(v);
    if (s->lease_min > s->lease_max) {
        snprintf(err, errsz, "quotas.lease_min must not exceed lease_max");
        return -1;
    }
    return 0;
}

int quotacfg_load(struct config *cfg, json_object *root, char *err,
                  size_t errsz)
{
    struct quota_settings *s = xcalloc(1, sizeof(*s));
    json_object *q = NULL, *lim;

    cfg->quotas = s;
    s->chars_per_token = 4;
    s->default_max_tokens = 4096;
    s->reservation_ttl_s = 900;
    s->leases = 1;
    s->lease_min = 10000;
    s->lease_max = 1000000;
    s->lease_divisor = 8;
    s->lease_ttl_s = 60;
    s->lease_flush_ms = 100;
    s->lease_idle_ms = 2000;
    if (!json_object_object_get_ex(root, "quotas", &q))
        return 0;                     /* no section: quotas off */
    if (!json_object_is_type(q, json_type_object)) {
        snprintf(err, errsz, "quotas must be an object");
        return -1;
    }
    s->enabled = 1;
    if (load_settings(s, q, err, errsz) < 0)
        return -1;
    if (json_object_object_get_ex(q, "limits", &lim)) {
        if (!json_object_is_type(lim, json_type_array)) {
            snprintf(err, errsz, "quotas.limits must be an array");
            return -1;
        }
        s->n_limits = json_object_array_length(lim);
        s->limits = xcalloc(s->n_limits + 1, sizeof(*s->limits));
        for (size_t i = 0; i < s->n_limits; i++)
            if (load_limit(json_object_array_get_idx(lim, i), &s->limits[i],
                           i, err, errsz) < 0)
                return -1;
        for (size_t i = 0; i < s->n_limits; i++)
            s->n_global += s->limits[i].global != 0;
    }
    if (s->n_global > 0 && !s->enabled) {
        snprintf(err, errsz, "quotas: global limits need quotas.enabled");
        return -1;
    }
    return 0;
}

void quotacfg_free(struct quota_settings *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->n_limits; i++) {
        free(q->limits[i].name);
        free(q->limits[i].period);
        free(q->limits[i].time_zone);
        for (int d = 0; d < QD_N; d++)
            free(q->limits[i].match[d]);
    }
    free(q->limits);
    free(q->shm_path);
    free(q);
}
