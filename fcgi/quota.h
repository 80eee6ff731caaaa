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

#endif
