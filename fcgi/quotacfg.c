#include "quotacfg.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "plan.h"
#include "ratelimit.h"
#include "xalloc.h"

static const char *const dims[QD_N] = { "api_key", "user", "group", "model",
                                        "route" };

static int dim_of(const char *s)
{
    for (int i = 0; i < QD_N; i++)
        if (strcmp(s, dims[i]) == 0)
            return i;
    return -1;
}

/* where: "quotas" or "plans.tiers.<name>" (the limit's context) */
static char where[160] = "quotas";

static int fail(char *err, size_t errsz, size_t i, const char *what)
{
    snprintf(err, errsz, "%s.limits[%zu]: %s", where, i, what);
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

/* "degrade": {"at_pct": 80, "model": "cheap", "max_tokens": 256} */
static int load_degrade(json_object *o, struct quota_local *l, size_t i,
                        char *err, size_t errsz)
{
    json_object *d, *v;

    if (!json_object_object_get_ex(o, "degrade", &d))
        return 0;
    if (!json_object_is_type(d, json_type_object) ||
        !json_object_object_get_ex(d, "at_pct", &v) ||
        !json_object_is_type(v, json_type_int) ||
        json_object_get_int(v) < 1 || json_object_get_int(v) > 100)
        return fail(err, errsz, i, "degrade needs at_pct (1-100) and a "
                    "model and/or max_tokens");
    l->degrade_pct = json_object_get_int(v);
    if (json_object_object_get_ex(d, "model", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) == 0 ||
            json_object_get_string_len(v) > 128)
            return fail(err, errsz, i, "degrade.model must be a model name");
        l->degrade_model = xstrdup(json_object_get_string(v));
    }
    if (json_object_object_get_ex(d, "max_tokens", &v)) {
        if (!json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 1 ||
            json_object_get_int64(v) > 10000000)
            return fail(err, errsz, i, "degrade.max_tokens must be an "
                        "integer in [1, 10000000]");
        l->degrade_max_tokens = (long)json_object_get_int64(v);
    }
    if (l->degrade_model == NULL && l->degrade_max_tokens == 0)
        return fail(err, errsz, i, "degrade needs a model and/or "
                    "max_tokens");
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
    if ((u = quota_unit_of(unit)) < 0)
        return fail(err, errsz, i, "unit must be requests, input_tokens, "
                    "output_tokens, total_tokens, weighted_tokens or usd");
    l->unit = u;
    l->window_s = strcmp(win, "second") == 0 ? 1
                : strcmp(win, "minute") == 0 ? 60
                : strcmp(win, "hour") == 0 ? 3600 : 0;
    if (l->window_s == 0)
        return fail(err, errsz, i, "window must be second, minute or hour");
    if (!json_object_object_get_ex(o, "limit", &v) ||
        (l->limit = quota_limit_value(u, v)) < 0 || l->limit > 0xffffffffLL)
        return fail(err, errsz, i, u == QU_USD ? "limit must be dollars in "
                    "[0, 4294.967295]" : "limit must be an integer in "
                    "[0, 4294967295]");
    l->name = xstrdup(name ? name : "");
    if (*l->name == '\0') {
        char n[32];

        snprintf(n, sizeof(n), "limit%zu", i);
        free(l->name);
        l->name = xstrdup(n);
    }
    l->seed = rl_hash(RL_HASH_INIT, l->name);
    if (l->plan != NULL)          /* plans' counters apart from the rest */
        l->seed = rl_hash(rl_hash(l->seed, "\x01plan"), l->plan);
    if (load_degrade(o, l, i, err, errsz) < 0 ||
        load_per(o, l, i, err, errsz) < 0)
        return -1;
    if (l->global && l->plan != NULL)
        return fail(err, errsz, i, "a plan's limits are local (global "
                    "limits go in quotas.limits)");
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

/* Appends the limits of array lim (for plan, or everyone: NULL). */
static int load_limits(struct quota_settings *s, json_object *lim,
                       const char *plan, char *err, size_t errsz)
{
    size_t n, base = s->n_limits;

    if (!json_object_is_type(lim, json_type_array)) {
        snprintf(err, errsz, "%s.limits must be an array", where);
        return -1;
    }
    n = json_object_array_length(lim);
    s->limits = xrealloc(s->limits, (base + n + 1) * sizeof(*s->limits));
    memset(s->limits + base, 0, (n + 1) * sizeof(*s->limits));
    for (size_t i = 0; i < n; i++) {
        struct quota_local *l = &s->limits[base + i];

        s->n_limits++;
        l->plan = plan ? xstrdup(plan) : NULL;
        if (load_limit(json_object_array_get_idx(lim, i), l, i, err,
                       errsz) < 0)
            return -1;
    }
    return 0;
}

static int load_plan(struct quota_settings *s, struct plan *pl,
                     const char *name, json_object *o, char *err,
                     size_t errsz)
{
    json_object *v;

    snprintf(where, sizeof(where), "plans.tiers.%s", name);
    pl->name = xstrdup(name);
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "%s must be an object", where);
        return -1;
    }
    if (json_object_object_get_ex(o, "models", &v)) {
        size_t n = json_object_is_type(v, json_type_array)
                 ? json_object_array_length(v) : 0;

        pl->models = xcalloc(n + 1, sizeof(*pl->models));
        pl->has_models = 1;
        for (size_t k = 0; k < n; k++) {
            json_object *m = json_object_array_get_idx(v, k);

            if (!json_object_is_type(m, json_type_string)) {
                snprintf(err, errsz, "%s.models must be an array of model "
                         "names or globs", where);
                return -1;
            }
            pl->models[pl->n_models++] = xstrdup(json_object_get_string(m));
        }
        if (!json_object_is_type(v, json_type_array)) {
            snprintf(err, errsz, "%s.models must be an array", where);
            return -1;
        }
    }
    if (json_object_object_get_ex(o, "limits", &v) &&
        load_limits(s, v, name, err, errsz) < 0)
        return -1;
    return 0;
}

/* "plans": {"default", "claim", "header", "tiers": {name: {models,
 * limits}}} */
static int load_plans(struct quota_settings *s, json_object *root,
                      char *err, size_t errsz)
{
    struct plan_settings *ps = &s->plans;
    json_object *p, *tiers;
    char *hdr = NULL;

    if (!json_object_object_get_ex(root, "plans", &p))
        return 0;
    if (!json_object_is_type(p, json_type_object) ||
        !json_object_object_get_ex(p, "tiers", &tiers) ||
        !json_object_is_type(tiers, json_type_object)) {
        snprintf(err, errsz, "plans must be an object with \"tiers\": "
                 "{name: {models, limits}}");
        return -1;
    }
    if (config_opt_str(p, "default", &ps->default_plan, err, errsz) < 0 ||
        config_opt_str(p, "claim", &ps->claim, err, errsz) < 0 ||
        config_opt_str(p, "header", &hdr, err, errsz) < 0)
        return -1;
    if (hdr != NULL)              /* "X-Aigw-Plan" -> "HTTP_X_AIGW_PLAN" */
        ps->header = plan_header_param(hdr);
    free(hdr);
    ps->v = xcalloc((size_t)json_object_object_length(tiers) + 1,
                    sizeof(*ps->v));
    json_object_object_foreach(tiers, name, o) {
        if (load_plan(s, &ps->v[ps->n++], name, o, err, errsz) < 0)
            return -1;
    }
    snprintf(where, sizeof(where), "quotas");
    if (ps->default_plan != NULL && plan_find(ps, ps->default_plan) == NULL) {
        snprintf(err, errsz, "plans.default: no tier named \"%s\"",
                 ps->default_plan);
        return -1;
    }
    return 0;
}

static int load_section(struct quota_settings *s, json_object *q,
                        char *err, size_t errsz)
{
    json_object *lim;

    if (!json_object_is_type(q, json_type_object)) {
        snprintf(err, errsz, "quotas must be an object");
        return -1;
    }
    s->enabled = 1;
    if (load_settings(s, q, err, errsz) < 0 ||
        quota_weights_load(&s->weights, q, err, errsz) < 0)
        return -1;
    if (config_opt_str(q, "threshold_webhook", &s->threshold_webhook, err,
                       errsz) < 0)
        return -1;
    if (s->threshold_webhook != NULL &&
        strncmp(s->threshold_webhook, "http://", 7) != 0 &&
        strncmp(s->threshold_webhook, "https://", 8) != 0) {
        snprintf(err, errsz, "quotas.threshold_webhook must be an http(s) "
                 "URL");
        return -1;
    }
    if (opt_long(q, "threshold_webhook_timeout_ms", 100, 60000,
                 &s->threshold_webhook_timeout_ms, err, errsz) < 0)
        return -1;
    if (json_object_object_get_ex(q, "limits", &lim) &&
        load_limits(s, lim, NULL, err, errsz) < 0)
        return -1;
    return 0;
}

int quotacfg_load(struct config *cfg, json_object *root, char *err,
                  size_t errsz)
{
    struct quota_settings *s = xcalloc(1, sizeof(*s));
    json_object *q = NULL;

    cfg->quotas = s;
    s->chars_per_token = 4;
    s->default_max_tokens = 4096;
    s->reservation_ttl_s = 900;
    s->threshold_webhook_timeout_ms = 2000;
    s->leases = 1;
    s->lease_min = 10000;
    s->lease_max = 1000000;
    s->lease_divisor = 8;
    s->lease_ttl_s = 60;
    s->lease_flush_ms = 100;
    s->lease_idle_ms = 2000;
    s->weights.input_milli = s->weights.cached_milli = 1000;
    s->weights.output_milli = 1000;
    snprintf(where, sizeof(where), "quotas");
    /* no section: PostgreSQL quotas off (local and plan limits apply) */
    if (json_object_object_get_ex(root, "quotas", &q) &&
        load_section(s, q, err, errsz) < 0)
        return -1;
    if (load_plans(s, root, err, errsz) < 0)
        return -1;
    for (size_t i = 0; i < s->n_limits; i++)
        s->n_global += s->limits[i].global != 0;
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
        free(q->limits[i].plan);
        free(q->limits[i].degrade_model);
        free(q->limits[i].period);
        free(q->limits[i].time_zone);
        for (int d = 0; d < QD_N; d++)
            free(q->limits[i].match[d]);
    }
    free(q->limits);
    free(q->shm_path);
    free(q->threshold_webhook);
    quota_weights_release(&q->weights);
    plan_settings_release(&q->plans);
    free(q);
}
