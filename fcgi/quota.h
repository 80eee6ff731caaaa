/* Admission against rate limits and quotas, and settlement.
 *
 * Before the provider is called, quota_admit() reserves an estimate
 * (prompt: body bytes / chars_per_token; completion: max_tokens or
 * quotas.default_max_tokens) against every applicable limit: host-local
 * ones in shared memory (ratelimit.c) and operator-managed ones in
 * PostgreSQL (sql/0007_quotas.sql, one atomic round trip, all or nothing).
 * A request that cannot fit gets a 429 naming the limit. After the
 * response, quota_settle() replaces the estimate with the real usage
 * (errors before the provider answered release it). The state of the
 * request in flight is thread-local: one request per thread at a time. */
#ifndef AIGW_QUOTA_H
#define AIGW_QUOTA_H

#include <stdint.h>

struct config;
struct json_object;
struct request;

/* 0: admitted (r->extra_headers carries the remaining-headers), or -1
 * when the client has been answered (429, or 503 with the database down
 * under on_db_error "closed"). */
int quota_admit(struct request *r, const char *model,
                struct json_object *req, int embeddings);
/* 1 when quota_admit() applies limits under this configuration (and so
 * reads the request's max tokens); 0: it admits without looking. */
int quota_active(const struct config *cfg);
/* Degrade before the wall: when the caller has used at least the degrade
 * share of a local limit (quotas.limits[].degrade) or of a global quota
 * (quota_limits.degrade_*: operator-managed or a config global limit,
 * judged from this host's lease view), what to do instead of being
 * refused later. The first such limit decides (local ones first). model:
 * NULL to keep the requested one. */
struct quota_degrade {
    const char *model;           /* borrowed: the configuration, or this
                                    thread's copy until its next request */
    long max_tokens;             /* cap the completion; 0: no cap */
};
/* 1 when the request is to be degraded (*d filled, r->ev.degraded says
 * how and why), else 0. Called before quota_admit(). */
int quota_degrade(struct request *r, const char *model,
                  struct quota_degrade *d);
/* Settles the request's reservation from r->ev; a no-op when nothing was
 * reserved. */
void quota_settle(struct request *r);
/* Shutdown: pushes consumed usage and gives back this host's unused
 * quota leases (quota_lease.h). */
void quota_stop(void);
/* GET /v1/usage: the caller's limits, used, remaining, reset times. */
void quota_usage_handle(struct request *r);
/* Now in unix seconds: the wall clock, or the test clock when the
 * environment names AIGW_TEST_CLOCK_FILE (a file holding unix seconds). */
int64_t quota_now_s(void);

/* Called once per limit and period when usage crosses the limit's
 * threshold share (also logged as a "quota_threshold" event): a hook for
 * metrics. NULL: none. */
typedef void (*quota_threshold_fn)(const char *subject_kind,
                                   const char *subject, const char *unit,
                                   const char *period, int64_t used,
                                   int64_t limit);
extern quota_threshold_fn quota_threshold_hook;

struct quota_settings;
/* When used went from before to after across pct % of limit: logs the
 * "quota_threshold" event, queues it to the threshold webhook and calls
 * quota_threshold_hook. rid: the request, or NULL (a lease sync). */
void quota_threshold_emit(const struct quota_settings *q, const char *rid,
                          const char *kind, const char *subject,
                          const char *unit, const char *period, int64_t pct,
                          int64_t before, int64_t after, int64_t limit);

/* Called for every quota balance a settled request counted against, with
 * the balance after it (used, and the period's allowance: limit plus
 * adjustments; model "*" for all models): the quota gauges (metrics.c
 * installs it). NULL: none. */
typedef void (*quota_usage_fn)(const char *subject_kind, const char *subject,
                               const char *model, const char *unit,
                               const char *period, int64_t used,
                               int64_t limit);
extern quota_usage_fn quota_usage_hook;

#endif
