/* Which backends a request may go to, in what order, and when to try the
 * next: model aliases and groups (a name -> ordered candidate
 * backend/model pairs), priorities and weights, the retry policy
 * ("routing" section) and per-backend circuit settings. */
#ifndef AIGW_FAILOVER_H
#define AIGW_FAILOVER_H

#include <stddef.h>

struct backend;
struct config;
struct json_object;
struct route;

#define FO_MAX_CANDS 16

/* retry_on bits */
#define FO_CONNECT 1u
#define FO_TIMEOUT 2u
#define FO_5XX 4u
#define FO_429 8u
#define FO_BROKEN 16u

struct fo_alias;
struct circuit_policy;

struct routing_settings {
    int max_attempts;
    unsigned retry_on;
    long backoff_ms, backoff_max_ms;
    long retry_after_max_ms;
    long deadline_ms;
    int report_requested;     /* the response names the requested model */
    char *shm_name;           /* circuit state file; NULL: process */
    struct fo_alias *aliases;
    size_t n_aliases;
    struct circuit_policy *cb;  /* per config backends[i] */
    int *max_concurrent;      /* per backends[i]; 0: no cap */
};

struct fo_cand {
    const struct backend *be;
    const char *model;        /* the model to ask the backend for */
    int priority, weight;
};

/* Reads the "routing" section and backends[].circuit. 0 or -1 (err). */
int failover_load(struct config *cfg, struct json_object *root, char *err,
                  size_t errsz);
void failover_free(struct routing_settings *rs);

/* Fills out with the candidates for model on route rt, best first
 * (priority, then a weighted shuffle within a priority). *aliased: the
 * name was an alias. Returns the count. */
size_t failover_candidates(const struct config *cfg, const struct route *rt,
                           const char *model, struct fo_cand *out,
                           size_t max, unsigned *seed, int *aliased);
/* Whether an outcome (enum upstream_fail, HTTP status) may fail over. */
int failover_retryable(const struct routing_settings *rs, int fail,
                       long status);
/* Backoff before attempt n (2, 3, ...), jittered. */
long failover_backoff_ms(const struct routing_settings *rs, int n,
                         unsigned *seed);
/* Retry-After (delay-seconds, or an HTTP-date as RFC 9110 allows, taken
 * relative to now_unix) in ms, capped; 0 when absent, past or unreadable. */
long failover_retry_after_ms(const struct routing_settings *rs,
                             const char *hdr, long now_unix);
/* Circuit and ejection settings of backend be (by identity in
 * cfg->backends); NULL when none. Borrowed. */
const struct circuit_policy *failover_circuit(const struct config *cfg,
                                              const struct backend *be);
/* The configured alias names, for GET /v1/models: name i, or NULL past
 * the last. Borrowed. */
const char *failover_alias_name(const struct config *cfg, size_t i);
/* Its concurrency cap per process (0: none). */
int failover_max_concurrent(const struct config *cfg,
                            const struct backend *be);

#endif
