#include "quota_units.h"

#include <fnmatch.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prices.h"
#include "xalloc.h"

static const char *const names[QU_N] = { "requests", "input_tokens",
                                         "output_tokens", "total_tokens",
                                         "weighted_tokens", "usd" };

static _Thread_local const struct quota_weights *bound;

const char *quota_unit_name(int unit)
{
    return unit >= 0 && unit < QU_N ? names[unit] : "?";
}

int quota_unit_of(const char *s)
{
    for (int u = 0; s != NULL && u < QU_N; u++)
        if (strcmp(s, names[u]) == 0)
            return u;
    return -1;
}

void quota_units_bind(const struct quota_weights *w)
{
    bound = w;
}

static int64_t multiplier_milli(const struct quota_weights *w,
                                const char *model)
{
    for (size_t i = 0; model != NULL && i < w->n_mult; i++)
        if (strcmp(w->mult[i].model, model) == 0 ||
            fnmatch(w->mult[i].model, model, 0) == 0)
            return w->mult[i].milli;
    return 1000;
}

/* Weighted tokens: sum of tokens x type weight, x the model's multiplier,
 * rounded up (both factors are in thousandths). */
static int64_t weighted(const char *model, int64_t in, int64_t cached,
                        int64_t out)
{
    const struct quota_weights *w = bound;
    int64_t sum;

    if (w == NULL)
        return in + out;
    sum = (in - cached) * w->input_milli + cached * w->cached_milli +
          out * w->output_milli;
    return (sum * multiplier_milli(w, model) + 999999) / 1000000;
}

static int64_t usd_micro(const char *model, int64_t in, int64_t cached,
                         int64_t out)
{
    struct timespec ts;
    int64_t pico;

    clock_gettime(CLOCK_REALTIME, &ts);
    pico = prices_cost_model(model, (int64_t)ts.tv_sec * 1000000 +
                             ts.tv_nsec / 1000, in, cached, out);
    return pico <= 0 ? 0 : (pico + 999999) / 1000000;
}

int64_t quota_amount(int unit, const char *model, int64_t in,
                     int64_t cached_in, int64_t out, int64_t requests)
{
    if (cached_in < 0 || cached_in > in)
        cached_in = cached_in < 0 ? 0 : in;
    switch (unit) {
    case QU_REQUESTS: return requests;
    case QU_INPUT: return in;
    case QU_OUTPUT: return out;
    case QU_WEIGHTED: return weighted(model, in, cached_in, out);
    case QU_USD: return usd_micro(model, in, cached_in, out);
    default: return in + out;
    }
}

/* A non-negative number up to 1e6 in thousandths, or -1. */
static int64_t milli_of(json_object *v)
{
    double d;

    if (!json_object_is_type(v, json_type_int) &&
        !json_object_is_type(v, json_type_double))
        return -1;
    d = json_object_get_double(v);
    return d >= 0 && d <= 1e6 ? (int64_t)(d * 1000 + 0.5) : -1;
}

static int load_weights(struct quota_weights *w, json_object *o, char *err,
                        size_t errsz)
{
    static const char *const keys[] = { "input", "cached_input", "output" };
    int64_t *dst[] = { &w->input_milli, &w->cached_milli, &w->output_milli };
    int cached_set = 0;

    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "quotas.weights must be an object");
        return -1;
    }
    json_object_object_foreach(o, k, v) {
        size_t i = 0;

        while (i < 3 && strcmp(k, keys[i]) != 0)
            i++;
        if (i == 3 || (*dst[i] = milli_of(v)) < 0) {
            snprintf(err, errsz, "quotas.weights: \"%s\" must be input, "
                     "cached_input or output with a number in [0, 1e6]", k);
            return -1;
        }
        cached_set |= i == 1;
    }
    if (!cached_set)              /* cached input weighs as input */
        w->cached_milli = w->input_milli;
    return 0;
}

static int load_mult(struct quota_weights *w, json_object *o, char *err,
                     size_t errsz)
{
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "quotas.model_multipliers must be an object "
                 "of model name (or glob) to number");
        return -1;
    }
    w->mult = xcalloc((size_t)json_object_object_length(o) + 1,
                      sizeof(*w->mult));
    json_object_object_foreach(o, k, v) {
        struct quota_model_mult *m = &w->mult[w->n_mult];

        if ((m->milli = milli_of(v)) < 0) {
            snprintf(err, errsz, "quotas.model_multipliers: \"%s\" needs a "
                     "number in [0, 1e6]", k);
            return -1;
        }
        m->model = xstrdup(k);
        w->n_mult++;
    }
    return 0;
}

int quota_weights_load(struct quota_weights *w, json_object *q, char *err,
                       size_t errsz)
{
    json_object *v;

    w->input_milli = w->cached_milli = w->output_milli = 1000;
    if (json_object_object_get_ex(q, "weights", &v) &&
        load_weights(w, v, err, errsz) < 0)
        return -1;
    if (json_object_object_get_ex(q, "model_multipliers", &v) &&
        load_mult(w, v, err, errsz) < 0)
        return -1;
    return 0;
}

void quota_weights_release(struct quota_weights *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n_mult; i++)
        free(w->mult[i].model);
    free(w->mult);
    w->mult = NULL;
    w->n_mult = 0;
}

int64_t quota_limit_value(int unit, json_object *v)
{
    double d;

    if (unit != QU_USD)
        return json_object_is_type(v, json_type_int) &&
               json_object_get_int64(v) >= 0
               ? json_object_get_int64(v) : -1;
    if (!json_object_is_type(v, json_type_int) &&
        !json_object_is_type(v, json_type_double))
        return -1;
    d = json_object_get_double(v);
    return d >= 0 && d <= 9e12 ? (int64_t)(d * 1e6 + 0.5) : -1;
}
