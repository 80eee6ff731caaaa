/* Plans (tiers): each bundles limits (quotas.limits syntax, counted only
 * for its callers: quota_local.plan) and the models its callers may use.
 * A caller's plan comes from, in order: the configured header (only when
 * plans.header is set: the operator trusts whoever sets it, e.g. a proxy
 * in front), the API key's metadata "plan" (aigw-admin key create
 * --metadata '{"plan":"pro"}'), the JWT claim plans.claim, else
 * plans.default. A name that is no configured tier counts as the
 * default. */
#ifndef AIGW_PLAN_H
#define AIGW_PLAN_H

#include <stddef.h>

struct plan_settings;
struct request;

struct plan {
    char *name;
    int has_models;              /* 0: every model */
    char **models;               /* names or fnmatch globs */
    size_t n_models;
};

/* The tier named name, or NULL. */
const struct plan *plan_find(const struct plan_settings *ps,
                             const char *name);
/* "X-Aigw-Plan" -> "HTTP_X_AIGW_PLAN" (caller frees). */
char *plan_header_param(const char *header);
void plan_settings_release(struct plan_settings *ps);
/* The caller's plan (borrowed from the configuration), or NULL when no
 * plans are configured or the caller has none. */
const struct plan *plan_of(const struct request *r);
/* 1 when the caller's plan admits model (or no plan applies), else 0. */
int plan_allows_model(const struct request *r, const char *model);

#endif
