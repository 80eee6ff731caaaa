#include "quota_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "quota.h"
#include "quotacfg.h"
#include "ratelimit.h"
#include "shmfile.h"

#define QL_SLOTS 16384u           /* a power of two; the file is sparse */
#define QL_PROBES 128u
#define QL_MAGIC 0x616967776c733034ULL   /* "aigwls04": the layout */
#define TAG_FREE 0u
#define TAG_GONE 1u               /* freed: reusable, probing goes on */
#define STMT_LEASE 23

struct ql_slot {
    _Atomic uint64_t tag;         /* hash of the balance, or TAG_* */
    int mu_ready;
    _Atomic uint32_t mu_gen;      /* bumped when mu is initialised again */
    pthread_mutex_t mu;           /* process-shared, robust */
    /* the balance */
    int64_t limit_id, ps, pe;
    char subject[QL_SUBJECT_MAX];
    char kind[16], unit[24], period[8];
    char model[QL_MODEL_MAX];
    int threshold_pct;
    /* this host's lease on it */
    int64_t lease;                /* held in PostgreSQL (after the sync) */
    int64_t inflight;             /* estimates of admitted requests */
    int64_t spent;                /* settled usage not pushed yet */
    int64_t releasing;            /* being given back by the running sync:
                                     still in lease, not available */
    int64_t limit_eff, others;    /* limit + adjust; used + reserved of
                                     everyone else, at the last sync */
    uint64_t epoch;
    int64_t expires_ms, last_use_ms, last_push_ms;
    int syncing, want_refill;
    int64_t sync_ms;              /* when the running sync started */
    pid_t sync_pid;               /* the process running it */
    uint64_t sync_seq;            /* bumped by each sync and takeover */
    int64_t taken, rate_ms;       /* reserved since rate_ms: the rate */
    int64_t rate;                 /* per second, at the last sync */
};

struct ql_shm {
    uint64_t magic;
    char host[48];
    pthread_mutex_t alloc_mu;
    _Atomic uint64_t epoch;
    _Atomic int64_t pg_gen;
    struct ql_slot slot[QL_SLOTS];
};

void (*ql_cycle_hook)(struct db_session *db);

static struct ql_shm *shm;
static const struct config *qcfg;
static int wake_fd[2] = { -1, -1 };

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rc of pthread_mutex_[try]lock on a robust
 * mutex: EOWNERDEAD means its holder died and the caller holds it now,
 * to be made consistent. 0 held; else not held (EBUSY, ENOTRECOVERABLE). */
static int robust_taken(pthread_mutex_t *m, int rc)
{
    if (rc == EOWNERDEAD)
        rc = pthread_mutex_consistent(m);
    return rc;
}

static void lock(pthread_mutex_t *m)
{
    robust_taken(m, pthread_mutex_lock(m));
}

static void mutex_init_shared(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

static int ql_current(const void *p, void *arg)
{
    (void)arg;
    return ((const struct ql_shm *)p)->magic == QL_MAGIC;
}

/* A new file, or one of another layout (an older version's): a random
 * host id (the lease rows' owner) and the allocation mutex. */
static void ql_init(void *p, void *arg)
{
    struct ql_shm *m = p;
    unsigned char r[16];
    int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    (void)arg;
    memset(r, 0, sizeof(r));
    if (rfd >= 0) {
        if (read(rfd, r, sizeof(r)) < 0)
            memset(r, 0, sizeof(r));
        close(rfd);
    }
    for (int i = 0; i < 16; i++)
        snprintf(m->host + 2 * i, 3, "%02x", r[i]);
    mutex_init_shared(&m->alloc_mu);
    atomic_store(&m->epoch, 1);
    m->magic = QL_MAGIC;
}

static int map_file(const char *path)
{
    void *p = shmfile_map(path, sizeof(struct ql_shm), ql_current, ql_init,
                          NULL);

    if (p == NULL) {
        log_error(NULL, "quota leases: cannot map %s: %s", path,
                  strerror(errno));
        return -1;
    }
    shm = p;
    return 0;
}

int ql_ready(void)
{
    return shm != NULL;
}

uint64_t ql_epoch(void)
{
    return shm ? atomic_load(&shm->epoch) : 0;
}

void ql_invalidate(void)
{
    if (shm != NULL)
        atomic_fetch_add(&shm->epoch, 1);
    if (wake_fd[1] >= 0 && write(wake_fd[1], "i", 1) < 0) {
        /* the pipe is full: the sync thread is awake anyway */
    }
}

static uint64_t balance_tag(int64_t limit_id, const char *subject,
                            int64_t ps)
{
    char n[48];
    uint64_t h;

    snprintf(n, sizeof(n), "%" PRId64 "/%" PRId64, limit_id, ps);
    h = rl_hash(rl_hash(RL_HASH_INIT, n), subject);
    return h <= TAG_GONE ? h + 2 : h;
}

static int same_balance(const struct ql_slot *s, int64_t limit_id,
                        const char *subject, int64_t ps)
{
    return s->limit_id == limit_id && s->ps == ps &&
           strcmp(s->subject, subject) == 0;
}

/* A slot mutex left unrecoverable (unlocked by a holder that died
 * without making it consistent): initialised again under the allocation
 * mutex, and the slot re-synced before its next use. */
static void slot_reset_mutex_locked(struct ql_slot *s, uint32_t gen)
{
    /* not tried again: glibc may leave it held by this thread after
     * answering ENOTRECOVERABLE; gen tells whether another did it */
    if (atomic_load(&s->mu_gen) == gen) {
        log_error(NULL, "quota leases: a balance's lock was lost; reset");
        pthread_mutex_destroy(&s->mu);
        mutex_init_shared(&s->mu);
        s->inflight = 0;
        s->syncing = 0;
        s->releasing = 0;
        s->sync_seq++;
        s->epoch = 0;
        atomic_fetch_add(&s->mu_gen, 1);
    }
}

static void slot_reset_mutex(struct ql_slot *s, uint32_t gen, int alloc_held)
{
    if (!alloc_held)
        lock(&shm->alloc_mu);
    slot_reset_mutex_locked(s, gen);
    if (!alloc_held)
        pthread_mutex_unlock(&shm->alloc_mu);
}

/* Tried first: glibc's pthread_mutex_lock() may sleep on an unrecoverable
 * mutex rather than answer ENOTRECOVERABLE. */
static void slot_lock_held(struct ql_slot *s, int alloc_held)
{
    uint32_t gen = atomic_load(&s->mu_gen);
    int rc = robust_taken(&s->mu, pthread_mutex_trylock(&s->mu));

    while (rc != 0) {
        if (rc == ENOTRECOVERABLE)
            slot_reset_mutex(s, gen, alloc_held);
        else if ((rc = robust_taken(&s->mu, pthread_mutex_lock(&s->mu))) == 0)
            break;
        gen = atomic_load(&s->mu_gen);
        rc = robust_taken(&s->mu, pthread_mutex_trylock(&s->mu));
    }
}

static void slot_lock(struct ql_slot *s)
{
    slot_lock_held(s, 0);
}

/* 0 held, -1 busy (or just reset: next time). */
static int slot_trylock(struct ql_slot *s)
{
    uint32_t gen = atomic_load(&s->mu_gen);
    int rc = robust_taken(&s->mu, pthread_mutex_trylock(&s->mu));

    if (rc == ENOTRECOVERABLE)
        slot_reset_mutex(s, gen, 0);
    return rc == 0 ? 0 : -1;
}

/* The slot of a balance, created when missing. NULL: the table is full. */
static struct ql_slot *slot_get(const struct ql_limit *l)
{
    uint64_t tag = balance_tag(l->limit_id, l->subject, l->period_start);
    struct ql_slot *s, *spare = NULL;

    for (uint32_t i = 0; i < QL_PROBES; i++) {
        s = &shm->slot[(tag + i) & (QL_SLOTS - 1)];
        uint64_t t = atomic_load(&s->tag);

        if (t == TAG_FREE)
            break;
        if (t == tag && same_balance(s, l->limit_id, l->subject,
                                     l->period_start))
            return s;
    }
    lock(&shm->alloc_mu);
    for (uint32_t i = 0; i < QL_PROBES; i++) {
        s = &shm->slot[(tag + i) & (QL_SLOTS - 1)];
        uint64_t t = atomic_load(&s->tag);

        if (t == tag && same_balance(s, l->limit_id, l->subject,
                                     l->period_start)) {
            pthread_mutex_unlock(&shm->alloc_mu);
            return s;
        }
        if (spare == NULL && (t == TAG_FREE || t == TAG_GONE))
            spare = s;
        if (t == TAG_FREE)
            break;
    }
    if (spare != NULL) {
        s = spare;
        if (!s->mu_ready) {
            mutex_init_shared(&s->mu);
            s->mu_ready = 1;
        }
        slot_lock_held(s, 1);
        s->limit_id = l->limit_id;
        s->ps = l->period_start;
        s->pe = l->period_end;
        snprintf(s->subject, sizeof(s->subject), "%s", l->subject);
        snprintf(s->kind, sizeof(s->kind), "%s", l->kind);
        snprintf(s->unit, sizeof(s->unit), "%s", l->unit);
        snprintf(s->period, sizeof(s->period), "%s", l->period);
        snprintf(s->model, sizeof(s->model), "%s", l->model);
        s->threshold_pct = l->threshold_pct;
        s->lease = s->inflight = s->spent = s->releasing = 0;
        s->limit_eff = s->others = 0;
        s->epoch = 0;                     /* synced before first use */
        s->expires_ms = 0;
        s->last_use_ms = s->last_push_ms = wall_ms();
        s->syncing = s->want_refill = 0;
        s->taken = s->rate = 0;
        s->rate_ms = wall_ms();
        atomic_store(&s->tag, tag);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&shm->alloc_mu);
    return spare;
}

/* The slot of a balance, locked: slot_get()'s answer may be freed and
 * reused by another balance before it is locked, so it is checked again
 * under the lock. NULL: the table is full. */
static struct ql_slot *slot_lock_for(const struct ql_limit *l)
{
    uint64_t tag = balance_tag(l->limit_id, l->subject, l->period_start);

    for (int tries = 0; tries < 4; tries++) {
        struct ql_slot *s = slot_get(l);

        if (s == NULL)
            return NULL;
        slot_lock(s);
        if (atomic_load(&s->tag) == tag &&
            same_balance(s, l->limit_id, l->subject, l->period_start))
            return s;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int64_t available(const struct ql_slot *s)
{
    return s->lease - s->releasing - s->inflight - s->spent;
}

static void fill_view(const struct ql_slot *s, struct ql_view *v)
{
    int64_t rem = s->limit_eff - s->others - s->spent - s->inflight;

    v->limit = s->limit_eff;
    v->remaining = rem < 0 ? 0 : rem;
    v->used = s->limit_eff - v->remaining;
}

int ql_peek(const struct ql_limit *l, struct ql_view *v)
{
    uint64_t tag;
    int rc = -1;

    memset(v, 0, sizeof(*v));
    if (shm == NULL)
        return -1;
    tag = balance_tag(l->limit_id, l->subject, l->period_start);
    for (uint32_t i = 0; i < QL_PROBES; i++) {
        struct ql_slot *s = &shm->slot[(tag + i) & (QL_SLOTS - 1)];
        uint64_t t = atomic_load(&s->tag);

        if (t == TAG_FREE)
            break;
        if (t != tag)
            continue;
        slot_lock(s);
        /* epoch 0: created, never synced (limit_eff means nothing yet) */
        if (atomic_load(&s->tag) == tag &&
            same_balance(s, l->limit_id, l->subject, l->period_start) &&
            s->epoch != 0 && s->limit_eff >= 0) {
            fill_view(s, v);
            rc = 0;
        }
        pthread_mutex_unlock(&s->mu);
        if (rc == 0)
            break;
    }
    return rc;
}

/* --- one sync round trip ---------------------------------------------- */

struct sync_req {
    int64_t push, release, want, need;
    int64_t take;                 /* a request's amount, reserved in the
                                     sync when it fits; -1: none */
};

struct sync_res {
    int64_t lease, granted, limit, used, reserved, used_before, gen;
    int threshold_pct;
    int took;                     /* take was reserved */
};

static const char sql_lease[] =
    "SELECT lease, granted, limit_value, used, reserved, used_before, "
    "threshold_pct, gen FROM aigw_quota_lease($1, $2::bigint, $3, "
    "to_timestamp($4::double precision), to_timestamp($5::double precision),"
    " $6::bigint, $7::bigint, $8::bigint, $9::bigint, $10::int, $11::int)";

/* A copy of the balance's identity, so the round trip runs unlocked. */
struct balance_id {
    int64_t limit_id, ps, pe;
    char subject[QL_SUBJECT_MAX], kind[16], unit[24], period[8];
    char model[QL_MODEL_MAX];
};

static int sync_rpc(struct db_session *db, const struct balance_id *b,
                    const struct sync_req *q, struct sync_res *out)
{
    PGconn *c = db_get(db);
    char lim[24], ps[24], pe[24], push[24], rel[24], want[24], need[24],
         div[16], ttl[16];
    const char *p[11] = { shm->host, lim, b->subject, ps, pe, push, rel,
                          want, need, div, ttl };
    PGresult *res;
    int rc = -1;

    if (c == NULL || db_prepare(db, STMT_LEASE, "aigw_quota_lease",
                                sql_lease, 11) < 0) {
        db_failed(db);
        return -1;
    }
    snprintf(lim, sizeof(lim), "%" PRId64, b->limit_id);
    snprintf(ps, sizeof(ps), "%" PRId64, b->ps);
    snprintf(pe, sizeof(pe), "%" PRId64, b->pe);
    snprintf(push, sizeof(push), "%" PRId64, q->push);
    snprintf(rel, sizeof(rel), "%" PRId64, q->release);
    snprintf(want, sizeof(want), "%" PRId64, q->want);
    snprintf(need, sizeof(need), "%" PRId64, q->need);
    snprintf(div, sizeof(div), "%ld", qcfg->quotas->lease_divisor);
    snprintf(ttl, sizeof(ttl), "%ld", qcfg->quotas->lease_ttl_s);
    res = PQexecPrepared(c, "aigw_quota_lease", 11, p, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        out->lease = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        out->granted = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        out->limit = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        out->used = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        out->reserved = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        out->used_before = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
        out->threshold_pct = atoi(PQgetvalue(res, 0, 6));
        out->gen = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
        rc = 0;
    } else {
        log_warn(NULL, "quota lease sync: %s", PQerrorMessage(c));
        db_failed(db);
    }
    PQclear(res);
    return rc;
}

static void threshold_event(const struct balance_id *b,
                            const struct sync_res *r)
{
    quota_threshold_emit(qcfg->quotas, NULL, b->kind, b->subject, b->unit,
                         b->period, r->threshold_pct, r->used_before, r->used,
                         r->limit);
}

static void note_gen(int64_t gen)
{
    int64_t seen = atomic_load(&shm->pg_gen);

    /* a change we were not notified of (the listener was down) */
    if (gen != seen && atomic_compare_exchange_strong(&shm->pg_gen, &seen,
                                                      gen) && seen != 0)
        ql_invalidate();
}

/* The longest a live sync can take: a connection, then the prepare and
 * the statement (row lock waits included) up to statement_timeout each. A
 * sync older than that was lost; taking it over sooner would push the
 * same usage twice. */
static int64_t sync_max_ms(void)
{
    int64_t ms = qcfg->db_connect_timeout_s * 1000 +
                 2 * qcfg->db_statement_timeout_ms + 5000;

    return ms < 15000 ? 15000 : ms;
}

/* 1 while a sync runs on s (locked); 0 when none does, or when the one
 * marked is lost: its process died (it is taken over at once) or it
 * outlived every timeout. A lost sync is cleared, so its balance is
 * pushed by the next sync (its usage counted twice if the lost one had
 * committed just before its process died). */
static int sync_running(struct ql_slot *s, int64_t now)
{
    if (!s->syncing)
        return 0;
    if (now - s->sync_ms < sync_max_ms() &&
        !(kill(s->sync_pid, 0) < 0 && errno == ESRCH))
        return 1;
    log_warn(NULL, "quota leases: a sync by process %d was lost; taken over",
             (int)s->sync_pid);
    s->syncing = 0;
    s->releasing = 0;
    s->sync_seq++;                        /* its result is ignored */
    return 0;
}

/* Runs one sync of slot s, which the caller holds locked and marked
 * syncing; unlocks for the round trip and relocks. 0, or -1 (database
 * unavailable: the slot is unchanged). */
static int sync_locked(struct db_session *db, struct ql_slot *s,
                       const struct sync_req *q, struct sync_res *r)
{
    struct balance_id b;
    uint64_t ep = ql_epoch();
    int64_t start = wall_ms();
    uint64_t seq;
    int rc;

    b.limit_id = s->limit_id;
    b.ps = s->ps;
    b.pe = s->pe;
    memcpy(b.subject, s->subject, sizeof(b.subject));
    memcpy(b.kind, s->kind, sizeof(b.kind));
    memcpy(b.unit, s->unit, sizeof(b.unit));
    memcpy(b.period, s->period, sizeof(b.period));
    memcpy(b.model, s->model, sizeof(b.model));
    s->syncing = 1;
    s->sync_ms = start;
    s->sync_pid = getpid();
    seq = ++s->sync_seq;
    /* what is given back is not admitted against during the round trip
     * (it stays in lease until PostgreSQL says otherwise) */
    s->releasing = q->release;
    pthread_mutex_unlock(&s->mu);
    rc = sync_rpc(db, &b, q, r);
    slot_lock(s);
    if (s->sync_seq != seq)               /* taken over as lost */
        return -1;
    s->syncing = 0;
    s->releasing = 0;                     /* in r->lease, or kept on error */
    if (rc < 0)
        return -1;
    /* PostgreSQL's lease is the truth; what was pushed left "spent" */
    s->lease = r->lease;
    s->spent -= q->push;
    s->limit_eff = r->limit;
    s->others = r->used + r->reserved - r->lease;
    s->epoch = ep;
    s->expires_ms = start + qcfg->quotas->lease_ttl_s * 1000;
    if (q->push > 0)
        s->last_push_ms = start;
    s->want_refill = 0;
    /* the request that asked takes its part before anyone woken by this
     * sync can (it is unlocked below for the events) */
    r->took = q->take >= 0 && r->limit >= 0 && available(s) >= q->take;
    if (r->took) {
        s->inflight += q->take;
        s->taken += q->take;
        s->last_use_ms = wall_ms();
    }
    pthread_mutex_unlock(&s->mu);
    note_gen(r->gen);
    if (q->push > 0) {
        threshold_event(&b, r);
        if (quota_usage_hook != NULL)     /* the quota gauges */
            quota_usage_hook(b.kind, b.subject, b.model, b.unit, b.period,
                             r->used, r->limit);
    }
    slot_lock(s);
    return 0;
}

/* How much to ask for: about one second of this host's consumption on
 * the balance (so a busy subject syncs about once a second and an idle
 * one holds little), between lease_min and lease_max. PostgreSQL caps it
 * at free / lease_divisor. */
static int64_t chunk(struct ql_slot *s, int64_t now)
{
    const struct quota_settings *q = qcfg->quotas;
    int64_t el = now - s->rate_ms, want;

    if (el >= 100) {
        int64_t r = s->taken * 1000 / el;

        s->rate = r > s->rate / 2 ? r : s->rate / 2;
        s->taken = 0;
        s->rate_ms = now;
    }
    want = s->rate;
    if (want < q->lease_min)
        want = q->lease_min;
    return want > q->lease_max ? q->lease_max : want;
}

/* --- the request path ------------------------------------------------- */

int ql_reserve(struct db_session *db, const struct ql_limit *l, int64_t amt,
               int fail_open, struct ql_take *t, struct ql_view *v)
{
    struct ql_slot *s = slot_lock_for(l);
    int syncs = 0, wake = 0;

    memset(v, 0, sizeof(*v));
    if (s == NULL) {
        static _Atomic int64_t logged_ms;
        int64_t now = wall_ms(), last = atomic_load(&logged_ms);

        if (now - last >= 60000 &&
            atomic_compare_exchange_strong(&logged_ms, &last, now))
            log_error(NULL, "quota leases: the table is full (%u balances "
                      "probed); global limits answer as if the database "
                      "were down", QL_PROBES);
        return QL_FULL;
    }
    if (amt < 0)
        amt = 0;
    for (;;) {
        int64_t now = wall_ms();
        uint64_t ep = ql_epoch();
        int fresh = s->epoch == ep && s->expires_ms > now;
        struct sync_req rq;
        struct sync_res rs;

        if (fresh && available(s) >= amt && s->limit_eff >= 0) {
            s->inflight += amt;
            s->taken += amt;
            s->last_use_ms = now;
            /* refill before the lease runs dry, off this request's path */
            if (available(s) * 4 < s->lease && !s->syncing &&
                !s->want_refill)
                s->want_refill = wake = 1;
            break;
        }
        if (fresh && s->limit_eff < 0) {      /* the limit was deleted */
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
        /* one sync at a time per balance: wait for the one running
         * (bounded by the database timeouts, see sync_running()). Polled:
         * a process-shared condition variable is not robust, a waiter
         * killed in it can block every later broadcast. */
        if (sync_running(s, now)) {
            struct timespec ts = { 0, 2000000 };

            pthread_mutex_unlock(&s->mu);
            nanosleep(&ts, NULL);
            slot_lock(s);
            continue;
        }
        if (syncs >= 3) {
            fill_view(s, v);
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        rq.push = s->spent;
        /* a lease from before an operator change is given back whole */
        rq.release = s->epoch != ep ? available(s) : 0;
        if (rq.release < 0)
            rq.release = 0;
        rq.need = amt - (s->lease - rq.push - rq.release - s->inflight);
        if (rq.need < 1)
            rq.need = 1;
        rq.want = rq.need + chunk(s, now);
        rq.take = amt;
        syncs++;
        if (sync_locked(db, s, &rq, &rs) < 0) {
            if (fresh && available(s) >= amt)
                continue;                 /* others settled meanwhile */
            if (!fail_open) {
                pthread_mutex_unlock(&s->mu);
                return -2;
            }
            s->inflight += amt;           /* counted, pushed when back */
            s->last_use_ms = now;
            break;
        }
        if (rs.limit < 0) {
            pthread_mutex_unlock(&s->mu);
            return 1;
        }
        if (rs.took)
            break;
        /* refused only when PostgreSQL could not grant what it needed; a
         * grant others settled away during the round trip: sync again */
        if (rs.granted < rq.need) {
            fill_view(s, v);
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
    }
    t->slot = (int)(s - shm->slot);
    t->limit_id = s->limit_id;
    t->period_start = s->ps;
    t->amount = amt;
    fill_view(s, v);
    pthread_mutex_unlock(&s->mu);
    if (wake && wake_fd[1] >= 0 && write(wake_fd[1], "r", 1) < 0) {
        /* full: the sync thread is awake anyway */
    }
    return 0;
}

void ql_settle(const struct ql_take *t, int64_t used)
{
    struct ql_slot *s;

    if (shm == NULL || t->slot < 0 || (unsigned)t->slot >= QL_SLOTS)
        return;
    s = &shm->slot[t->slot];
    slot_lock(s);
    if (atomic_load(&s->tag) > TAG_GONE && s->limit_id == t->limit_id &&
        s->ps == t->period_start) {
        s->inflight -= t->amount;
        if (s->inflight < 0)
            s->inflight = 0;
        s->spent += used;
        s->last_use_ms = wall_ms();
    }
    pthread_mutex_unlock(&s->mu);
}

/* --- the sync thread -------------------------------------------------- */

/* One slot's background work: push, refill, renew, give back, free. */
static void maintain(struct db_session *db, struct ql_slot *s, int64_t now,
                     int64_t now_s, uint64_t ep, int all)
{
    const struct quota_settings *q = qcfg->quotas;
    struct sync_req rq = { 0, 0, 0, 1, -1 };
    struct sync_res rs;
    int over, idle;

    if (slot_trylock(s) < 0)
        return;
    if (atomic_load(&s->tag) <= TAG_GONE || sync_running(s, now)) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (s->inflight > 0 &&
        now - s->last_use_ms > q->reservation_ttl_s * 1000)
        s->inflight = 0;          /* reservations of a killed worker */
    over = s->pe <= now_s;
    idle = now - s->last_use_ms > q->lease_idle_ms;
    if (s->spent > 0 && (all || over || now - s->last_push_ms >=
                         q->lease_flush_ms))
        rq.push = s->spent;
    if ((all || over || idle || s->epoch != ep) && available(s) > 0)
        rq.release = available(s);
    if (s->want_refill && !over && !idle && s->epoch == ep)
        rq.want = chunk(s, now);
    if (rq.push == 0 && rq.release == 0 && rq.want == 0 &&
        !(s->lease > 0 && s->expires_ms - now < q->lease_ttl_s * 500)) {
        /* nothing held, nothing to push: the slot is freed (its next
         * request syncs anyway), or per-user monthly limits would keep
         * one each for a month and fill the table */
        if ((over || idle) && s->lease == 0 && s->inflight == 0 &&
            s->spent == 0)
            atomic_store(&s->tag, TAG_GONE);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (rq.release > 0 && rq.push == 0)
        rq.push = s->spent;       /* give back and push together */
    sync_locked(db, s, &rq, &rs);
    pthread_mutex_unlock(&s->mu);
}

static void maintain_all(struct db_session *db, int all)
{
    int64_t now = wall_ms(), now_s = quota_now_s();
    uint64_t ep = ql_epoch();

    for (uint32_t i = 0; i < QL_SLOTS; i++)
        if (atomic_load(&shm->slot[i].tag) > TAG_GONE)
            maintain(db, &shm->slot[i], now, now_s, ep, all);
}

/* LISTEN aigw_quota: 0 listening, -1 not now. */
static int listen_on(struct db_session *ls)
{
    PGconn *c = db_get(ls);
    PGresult *res;

    if (c == NULL)
        return -1;
    res = PQexec(c, "LISTEN aigw_quota");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        PQclear(res);
        db_failed(ls);
        return -1;
    }
    PQclear(res);
    /* changes made while not listening: compare the generation */
    res = PQexec(c, "SELECT gen FROM quota_state");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        note_gen(strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    else
        ql_invalidate();
    PQclear(res);
    return 0;
}

static void drain_notifies(struct db_session *ls, int *listening)
{
    PGnotify *n;
    int got = 0;

    if (PQconsumeInput(ls->conn) == 0) {
        db_failed(ls);
        *listening = 0;
        return;
    }
    while ((n = PQnotifies(ls->conn)) != NULL) {
        got = 1;
        PQfreemem(n);
    }
    if (got)
        ql_invalidate();
}

static void *sync_thread(void *arg)
{
    struct db_session db, ls;
    int listening = 0;

    (void)arg;
    db_session_init(&db, qcfg, "aigw-quota-sync");
    db_session_init(&ls, qcfg, "aigw-quota-listen");
    for (;;) {
        struct pollfd pf[2];
        int n = 1;
        char junk[64];

        if (!listening)
            listening = listen_on(&ls) == 0;
        pf[0].fd = wake_fd[0];
        pf[0].events = POLLIN;
        if (listening) {
            pf[1].fd = PQsocket(ls.conn);
            pf[1].events = POLLIN;
            n = 2;
        }
        if (poll(pf, (nfds_t)n, (int)qcfg->quotas->lease_flush_ms) > 0) {
            if (pf[0].revents & POLLIN) {
                while (read(wake_fd[0], junk, sizeof(junk)) == sizeof(junk))
                    ;
            }
            if (n == 2 && pf[1].revents)
                drain_notifies(&ls, &listening);
        }
        maintain_all(&db, 0);
        if (ql_cycle_hook != NULL)
            ql_cycle_hook(&db);
    }
    return NULL;
}

int ql_open(const char *path, const struct config *cfg)
{
    pthread_t th;

    qcfg = cfg;
    if (map_file(path) < 0)
        return -1;
    if (pipe(wake_fd) < 0) {
        log_error(NULL, "quota leases: pipe: %s", strerror(errno));
        return -1;
    }
    fcntl(wake_fd[0], F_SETFL, O_NONBLOCK);
    fcntl(wake_fd[1], F_SETFL, O_NONBLOCK);
    if (pthread_create(&th, NULL, sync_thread, NULL) != 0) {
        log_error(NULL, "quota leases: sync thread did not start");
        return -1;
    }
    pthread_detach(th);
    return 0;
}

void ql_push_all(struct db_session *db)
{
    int64_t now_s = quota_now_s();

    if (shm == NULL)
        return;
    for (uint32_t i = 0; i < QL_SLOTS; i++) {
        struct ql_slot *s = &shm->slot[i];
        struct sync_req rq = { 0, 0, 0, 1, -1 };
        struct sync_res rs;

        if (atomic_load(&s->tag) <= TAG_GONE)
            continue;
        slot_lock(s);
        if (!sync_running(s, wall_ms()) && s->spent > 0 && s->pe > now_s) {
            rq.push = s->spent;
            sync_locked(db, s, &rq, &rs);
        }
        pthread_mutex_unlock(&s->mu);
    }
}

void ql_release_all(void)
{
    struct db_session db;

    if (shm == NULL)
        return;
    db_session_init(&db, qcfg, "aigw-quota-release");
    maintain_all(&db, 1);
    db_session_release(&db);
}
