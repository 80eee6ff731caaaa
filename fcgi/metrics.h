/* Host-wide Prometheus metrics. Counters and histograms live in one
 * fixed-size file mapped MAP_SHARED by every worker process on the host
 * (created once, by whichever process comes first), so any scrape, on any
 * process, returns the host's totals. Series are keyed by bounded label
 * sets: a family holds at most max_label_sets of them, further label sets
 * add to the family's overflow series ({overflow="true"}), so a flood of
 * new keys or models cannot grow memory. Updates are relaxed atomic adds;
 * no lock is taken on the request path. */
#ifndef AIGW_METRICS_H
#define AIGW_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;
struct usage_event;

/* Maps (creating if needed) the segment; call once before threads start.
 * threads: this process's serving threads (the saturation gauges).
 * Returns 0, or -1 (logged): the gateway then serves without metrics. */
int metrics_init(const struct config *cfg, int threads);
/* A request starts / ends in this process (in-flight, busy threads). */
void metrics_request_begin(void);
void metrics_request_end(void);
/* Feeds one settled request: the single call from settle(). */
void metrics_observe(const struct usage_event *ev);
/* Sets the quota gauges of one balance (quota.h's quota_usage_hook,
 * installed by metrics_init): used and limit in the quota's unit for the
 * current period. model NULL: "*". */
void metrics_quota(const char *subject_kind, const char *subject,
                   const char *model, const char *unit, const char *period,
                   int64_t used, int64_t limit);
/* The ledger writer's state in this process (once per flush cycle):
 * events queued in memory, spooling, failing. */
void metrics_ledger_state(size_t queued, int spooling, int failing);
/* n usage events went to the spool instead of PostgreSQL. */
void metrics_ledger_spooled(size_t n);
/* Appends the Prometheus text exposition of the host's metrics. */
void metrics_render(struct buf *out);
/* 1 when the segment is mapped. */
int metrics_enabled(void);

#endif
