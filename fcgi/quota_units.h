/* What a limit counts: requests, input/output/total tokens, weighted
 * tokens (per-type weights and per-model multipliers, as in the Envoy AI
 * Gateway's llmRequestCosts/modelCosts) or micro-USD priced by prices.c
 * (the ledger's rules). One function for the local (shared-memory) path,
 * reservation estimates and settlement, and the global limits. */
#ifndef AIGW_QUOTA_UNITS_H
#define AIGW_QUOTA_UNITS_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

enum quota_unit { QU_REQUESTS, QU_INPUT, QU_OUTPUT, QU_TOTAL,
                  QU_WEIGHTED, QU_USD, QU_N };

struct quota_model_mult {
    char *model;                 /* a name or an fnmatch glob */
    int64_t milli;               /* multiplier x 1000 */
};

/* quotas.weights and quotas.model_multipliers; all in thousandths. */
struct quota_weights {
    int64_t input_milli, cached_milli, output_milli;
    struct quota_model_mult *mult;
    size_t n_mult;
};

/* The unit's config/database name ("total_tokens", "usd", ...) or "?". */
const char *quota_unit_name(int unit);
/* The unit named s, or -1. */
int quota_unit_of(const char *s);
/* Binds the weights quota_amount() uses on this thread (borrowed, valid
 * while the configuration is; NULL: every weight and multiplier 1). */
void quota_units_bind(const struct quota_weights *w);
/* The amount a request counts against a limit of this unit: in includes
 * cached_in (the cached part of the prompt). usd: micro-USD at the price
 * of model now, rounded up; 0 for a model without a price. */
int64_t quota_amount(int unit, const char *model, int64_t in,
                     int64_t cached_in, int64_t out, int64_t requests);
/* Reads "weights" and "model_multipliers" of the quotas object q into w.
 * 0, or -1 with a message in err. */
int quota_weights_load(struct quota_weights *w, struct json_object *q,
                       char *err, size_t errsz);
void quota_weights_release(struct quota_weights *w);
/* A limit value as configured: whole units, or for usd dollars (a number
 * with up to 6 decimals) into micro-USD. -1 when invalid. */
int64_t quota_limit_value(int unit, struct json_object *v);

#endif
