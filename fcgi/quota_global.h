/* Global limits (PostgreSQL quota_limits, and config limits with "scope":
 * "global" synced into it) admitted through host leases (quota_lease.h).
 * The limits that apply to a caller are cached per process (bounded)
 * until their period ends or an operator change bumps the epoch, so an
 * admission under a lease makes no database round trip. quota.c calls
 * this when quotas.leases is on (the default). */
#ifndef AIGW_QUOTA_GLOBAL_H
#define AIGW_QUOTA_GLOBAL_H

#include <stdint.h>

#include "quotacfg.h"

struct config;
struct qh_state;
struct request;

/* The limit a refused request hit. */
struct quota_hit {
    char kind[64], subject[160], unit[24], period[8];
    int64_t limit, used, need, reset_at;
};

/* Maps the lease table, starts the sync thread and syncs the config's
 * global limits (once per process). */
void qg_init(const struct config *cfg);
/* 0 reserved (or nothing applies), -1 refused (*hit), -2 the database is
 * needed and unavailable (fail-closed). */
int qg_admit(struct request *r, const char *vals[QD_N], int64_t est_in,
             int64_t est_out, int64_t now, struct qh_state *hs,
             struct quota_hit *hit);
/* Settles this thread's reservations to the real usage. */
void qg_settle(int64_t in, int64_t cached_in, int64_t out, int64_t reqs);
/* Gives back this thread's reservations (the request was refused). */
void qg_release(void);

/* quota.c: a period's length in seconds ("minute" .. "month"). */
int64_t quota_period_s(const char *period);

#endif
