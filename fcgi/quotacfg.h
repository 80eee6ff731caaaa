/* The "quotas" settings section: host-local rate limits (shared memory)
 * and how requests are reserved against the operator-managed quotas in
 * PostgreSQL (quota.c); the units' weights (quota_units.h) and the
 * "plans" section (plan.h), whose limits join the local ones. */
#ifndef AIGW_QUOTACFG_H
#define AIGW_QUOTACFG_H

#include <stddef.h>
#include <stdint.h>

#include "quota_units.h"

struct config;
struct json_object;

enum quota_dim { QD_API_KEY, QD_USER, QD_GROUP, QD_MODEL, QD_ROUTE, QD_N };

/* A local limit: counted per distinct value of the "per" dimensions
 * (none: one counter for everything), for requests whose dimensions equal
 * "match" where given, and (plan set) only for that plan's callers. */
struct quota_local {
    char *name;
    char *plan;                  /* NULL: every caller */
    unsigned per;                /* bitmask of 1 << enum quota_dim */
    char *match[QD_N];           /* NULL: any */
    int unit;                    /* enum quota_unit */
    int64_t window_s;            /* 1, 60 or 3600 */
    int64_t limit;               /* usd: micro-USD */
    uint64_t seed;               /* hash of the name: the counter family */
    /* degrade before the wall: from degrade_pct % of the limit on, the
     * request goes to degrade_model and/or has its max tokens capped at
     * degrade_max_tokens instead of being refused (0 / NULL: off);
     * global limits carry it into quota_limits (sql/0013) */
    int degrade_pct;
    char *degrade_model;
    long degrade_max_tokens;
    /* "scope": "global": enforced through PostgreSQL leases (synced into
     * quota_limits as source 'config:<name>'), not shared memory */
    int global;
    char *period;                /* global: minute .. month */
    char *time_zone;             /* global: calendar of the periods */
};

struct plan;

/* "plans": tiers bundling limits and allowed models, selected per caller
 * by a trusted header, the API key's metadata "plan", a JWT claim, or the
 * default. */
struct plan_settings {
    char *default_plan;          /* NULL: callers without a plan have none */
    char *claim;                 /* JWT claim naming the plan */
    char *header;                /* CGI name (HTTP_X_AIGW_PLAN); NULL */
    struct plan *v;
    size_t n;
};

struct quota_settings {
    int enabled;                 /* reserve against PostgreSQL quotas */
    int fail_open;               /* database down: serve (local limits
                                    only) instead of 503 */
    long chars_per_token;        /* prompt estimate: body bytes / this */
    long default_max_tokens;     /* completion estimate without max_tokens */
    long reservation_ttl_s;      /* a crashed worker's reservation expires */
    char *shm_path;              /* NULL: <spool_dir>/ratelimit.shm */
    /* global quotas as host leases (quota_lease.h); 0: one PostgreSQL
     * round trip per request and per settlement */
    int leases;
    long lease_min;              /* the chunk a host asks for at least */
    long lease_max;              /* and at most (it asks for about one
                                    second of its consumption) */
    long lease_divisor;          /* a chunk is at most free / this */
    long lease_ttl_s;            /* a dead host's lease is reclaimed */
    long lease_flush_ms;         /* consumed usage pushed this often */
    long lease_idle_ms;          /* an unused lease is given back */
    size_t n_global;             /* limits[] with global set */
    struct quota_local *limits;  /* quotas.limits, then the plans' */
    size_t n_limits;
    struct quota_weights weights;
    struct plan_settings plans;
    char *threshold_webhook;     /* URL for quota_threshold events; NULL */
    long threshold_webhook_timeout_ms;
};

/* Fills cfg->quotas from root's "quotas" and "plans" sections (defaults
 * when absent). 0, or -1 with a message in err. */
int quotacfg_load(struct config *cfg, struct json_object *root, char *err,
                  size_t errsz);
void quotacfg_free(struct quota_settings *q);

#endif
