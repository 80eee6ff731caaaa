/* Global quotas as leases held in host shared memory.
 *
 * A host takes a chunk of one PostgreSQL balance (limit, subject, period)
 * into a file mapped MAP_SHARED by every worker process on the host
 * (<spool_dir>/quotalease.shm) and admits requests against it with no
 * database round trip: a request reserves its estimate from the lease and
 * settles to its real usage. One sync (sql/0011 aigw_quota_lease, one
 * atomic statement on the balance row) pushes the consumed usage into
 * quota_periods.used, gives back what is not needed and takes more. The
 * chunk is adaptive: PostgreSQL grants at most free / lease_divisor (at
 * least the one request that asked), so near the limit hosts take what a
 * request needs and cannot strand quota; the overspend bound of the
 * per-request path holds (a request may exceed its own estimate, nothing
 * more).
 *
 * A per-process sync thread pushes consumed usage every lease_flush_ms,
 * refills a lease running low before it runs dry (off the request path),
 * gives back leases idle for lease_idle_ms, at period end and at
 * shutdown, renews them before lease_ttl_s, and LISTENs on aigw_quota:
 * an operator change bumps the host's epoch, and a lease taken before the
 * change is given back and re-synced by the next request.
 *
 * Crash and outage semantics:
 * - A worker killed mid-request: its reservation stays in "inflight" until
 *   the balance has been idle for reservation_ttl_s, then it is dropped.
 * - A host that dies: its lease rows in PostgreSQL expire after
 *   lease_ttl_s (renewed by every sync) and the next sync by any host on
 *   that balance reclaims them. Usage it consumed but had not pushed yet
 *   (at most lease_flush_ms of traffic) is lost to the quota (never to the
 *   ledger, which has its own spool).
 * - PostgreSQL down: a lease already held keeps admitting until it is
 *   used up or its ttl passes. Then on_db_error "closed" answers 503;
 *   "open" admits and counts the usage locally (past the lease), and the
 *   sync thread pushes it into quota_periods when the database is back.
 *   A host cut off from PostgreSQL longer than lease_ttl_s while other
 *   hosts reclaim its lease can overspend by that lease (fail-open only). */
#ifndef AIGW_QUOTA_LEASE_H
#define AIGW_QUOTA_LEASE_H

#include <stdint.h>

struct config;
struct db_session;

#define QL_SUBJECT_MAX 160
#define QL_MODEL_MAX 129

/* One applicable limit of a caller, with the period holding "now". */
struct ql_limit {
    int64_t limit_id;
    char kind[16];
    char subject[QL_SUBJECT_MAX];
    char unit[24];
    char period[8];
    char model[QL_MODEL_MAX];           /* the limit's model or "*" */
    int threshold_pct;
    int64_t period_start, period_end;   /* unix seconds */
    /* degrade before the wall (sql/0013): from degrade_pct % of the
     * balance on, serve degrade_model ("": keep the model) and/or cap
     * max tokens at degrade_max_tokens (0: no cap); degrade_pct 0: off */
    int degrade_pct;
    char degrade_model[QL_MODEL_MAX];
    long degrade_max_tokens;
};

/* What a request took from one lease (to settle or give back). */
struct ql_take {
    int slot;
    int64_t limit_id, period_start;
    int64_t amount;
};

/* The balance as this host sees it: for headers and refusals. */
struct ql_view {
    int64_t limit, used, remaining;
};

/* Maps the lease table and starts this process's sync thread (once).
 * 0, or -1 (logged). */
int ql_open(const char *path, const struct config *cfg);
int ql_ready(void);

#define QL_FULL (-3)

/* Reserves amt against limit l. 0 reserved (*t filled), -1 refused (the
 * quota cannot fit it), -2 the database is needed and unavailable (with
 * fail_open the amount is counted and 0 returned instead), QL_FULL the
 * lease table has no slot for the balance (nothing taken; logged at most
 * once a minute), 1 the limit no longer exists (nothing taken). *v gets
 * the balance. */
int ql_reserve(struct db_session *db, const struct ql_limit *l, int64_t amt,
               int fail_open, struct ql_take *t, struct ql_view *v);
/* The balance of limit l as this host last synced and used it, with no
 * round trip (degrade before the wall): 0 (*v filled), or -1 when this
 * host holds no view of it yet (never synced). */
int ql_peek(const struct ql_limit *l, struct ql_view *v);
/* Settles a reservation to the amount really used (0 gives it back). */
void ql_settle(const struct ql_take *t, int64_t used);

/* Operator changes: every cached limit and lease is re-read before its
 * next use. */
uint64_t ql_epoch(void);
void ql_invalidate(void);
/* Pushes every balance's consumed usage now (GET /v1/usage). */
void ql_push_all(struct db_session *db);
/* Shutdown: pushes usage and gives back unused leases. */
void ql_release_all(void);

/* Called by the sync thread on every cycle with its database session
 * (reconciling usage counted while the database was down). */
extern void (*ql_cycle_hook)(struct db_session *db);

#endif
