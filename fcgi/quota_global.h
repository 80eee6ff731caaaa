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

#define QG_NAME_MAX 320

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
/* Degrade before the wall on a global limit: what to do, and why. */
struct qg_degrade {
    const char *model;            /* NULL: keep; else borrowed until this
                                     thread's next request */
    long max_tokens;              /* 0: no cap */
    int64_t used_pct;
    char name[QG_NAME_MAX];       /* kind:subject[:model]/period */
};
/* 1 when the first applicable limit with a degrade share (sql/0013) is at
 * or past it in this host's lease view (*out filled), else 0. Reads the
 * cached limits (admission reads them anyway) and shared memory: no round
 * trip once the caller's limits are cached. */
int qg_degrade(struct request *r, const char *vals[QD_N], int64_t now,
               struct qg_degrade *out);
/* Settles this thread's reservations to the real usage, priced (usd,
 * weighted units) at model: the one served, as local limits and the
 * ledger count it (borrowed). */
void qg_settle(const char *model, int64_t in, int64_t cached_in,
               int64_t out, int64_t reqs);
/* Gives back this thread's reservations (the request was refused). */
void qg_release(void);

/* quota.c: a period's length in seconds ("minute" .. "month"). */
int64_t quota_period_s(const char *period);

#endif
