/* The "quotas" settings section: host-local rate limits (shared memory)
 * and how requests are reserved against the operator-managed quotas in
 * PostgreSQL (quota.c). */
#ifndef AIGW_QUOTACFG_H
#define AIGW_QUOTACFG_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct json_object;

enum quota_unit { QU_REQUESTS, QU_INPUT, QU_OUTPUT, QU_TOTAL };
enum quota_dim { QD_API_KEY, QD_USER, QD_GROUP, QD_MODEL, QD_ROUTE, QD_N };

/* A local limit: counted per distinct value of the "per" dimensions
 * (none: one counter for everything), for requests whose dimensions equal
 * "match" where given. */
struct quota_local {
    char *name;
    unsigned per;                /* bitmask of 1 << enum quota_dim */
    char *match[QD_N];           /* NULL: any */
    int unit;                    /* enum quota_unit */
    int64_t window_s;            /* 1, 60 or 3600 */
    int64_t limit;
    uint64_t seed;               /* hash of the name: the counter family */
    /* "scope": "global": enforced through PostgreSQL leases (synced into
     * quota_limits as source 'config:<name>'), not shared memory */
    int global;
    char *period;                /* global: minute .. month */
    char *time_zone;             /* global: calendar of the periods */
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
    struct quota_local *limits;
    size_t n_limits;
};

/* Fills cfg->quotas from root's "quotas" section (defaults when absent).
 * 0, or -1 with a message in err. */
int quotacfg_load(struct config *cfg, struct json_object *root, char *err,
                  size_t errsz);
void quotacfg_free(struct quota_settings *q);
const char *quota_unit_name(int unit);

#endif
