#include "quota_global.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "quota_headers.h"
#include "quota_lease.h"
#include "quota_units.h"
#include "ratelimit.h"
#include "request.h"
#include "worker.h"
#include "xalloc.h"

#define STMT_LIMITS 22
#define QG_MAX 16                 /* limits applied to one request */
#define CACHE_SLOTS 4096u         /* callers cached per process */
#define CACHE_TTL_MS 30000        /* a missed notification heals */
#define KEY_MAX 768
#define PENDING_MAX 100000

/* --- the applicable limits per caller, cached ------------------------- */

struct cache_entry {
    char *key;                    /* NULL: empty */
    uint64_t epoch;
    int64_t until_s;              /* the first period end among them */
    int64_t fetched_ms;
    int n;
    struct ql_limit *lim;         /* n of them */
};

static struct cache_entry *cache;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static const struct config *gcfg;

static const char sql_limits[] =
    "SELECT f.limit_id, f.subject_kind, f.subject, f.unit, f.period, "
    "f.threshold_pct, f.period_start::bigint, f.period_end::bigint, q.model,"
    " coalesce(q.degrade_pct, 0), coalesce(q.degrade_model, ''), "
    "coalesce(q.degrade_max_tokens, 0) FROM aigw_quota_limits_for("
    "$1, $2, $3, $4, $5, to_timestamp($6::double precision)) f "
    "JOIN quota_limits q ON q.id = f.limit_id ORDER BY f.limit_id";

static int make_key(const char *vals[QD_N], char *key, size_t keysz)
{
    int n = snprintf(key, keysz, "%s\x1f%s\x1f%s\x1f%s\x1f%s",
                     vals[QD_API_KEY], vals[QD_USER], vals[QD_GROUP],
                     vals[QD_ROUTE], vals[QD_MODEL]);

    return n > 0 && (size_t)n < keysz ? 0 : -1;
}

/* Queries the limits at time at. n, or -1 (database unavailable). */
static int fetch_limits(struct db_session *db, const char *vals[QD_N],
                        int64_t at, struct ql_limit *out)
{
    PGconn *c = db_get(db);
    char sat[24];
    const char *p[6] = { vals[QD_API_KEY], vals[QD_USER], vals[QD_GROUP],
                         vals[QD_ROUTE], vals[QD_MODEL], sat };
    PGresult *res;
    int n;

    if (c == NULL || db_prepare(db, STMT_LIMITS, "aigw_quota_limits_for",
                                sql_limits, 6) < 0) {
        db_failed(db);
        return -1;
    }
    snprintf(sat, sizeof(sat), "%" PRId64, at);
    res = PQexecPrepared(c, "aigw_quota_limits_for", 6, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn(NULL, "quota limits: %s", PQerrorMessage(c));
        PQclear(res);
        db_failed(db);
        return -1;
    }
    n = PQntuples(res);
    if (n > QG_MAX) {
        log_warn(NULL, "quota limits: %d apply to one caller; the first %d "
                 "are enforced", n, QG_MAX);
        n = QG_MAX;
    }
    for (int i = 0; i < n; i++) {
        struct ql_limit *l = &out[i];

        l->limit_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        snprintf(l->kind, sizeof(l->kind), "%s", PQgetvalue(res, i, 1));
        snprintf(l->subject, sizeof(l->subject), "%s", PQgetvalue(res, i, 2));
        snprintf(l->unit, sizeof(l->unit), "%s", PQgetvalue(res, i, 3));
        snprintf(l->period, sizeof(l->period), "%s", PQgetvalue(res, i, 4));
        l->threshold_pct = atoi(PQgetvalue(res, i, 5));
        l->period_start = strtoll(PQgetvalue(res, i, 6), NULL, 10);
        l->period_end = strtoll(PQgetvalue(res, i, 7), NULL, 10);
        snprintf(l->model, sizeof(l->model), "%s", PQgetvalue(res, i, 8));
        l->degrade_pct = atoi(PQgetvalue(res, i, 9));
        snprintf(l->degrade_model, sizeof(l->degrade_model), "%s",
                 PQgetvalue(res, i, 10));
        l->degrade_max_tokens = strtol(PQgetvalue(res, i, 11), NULL, 10);
    }
    PQclear(res);
    return n;
}

/* The caller's limits now: from the cache, else from PostgreSQL (and
 * cached). n, or -1 (database unavailable). */
static int limits_for(struct db_session *db, const char *vals[QD_N],
                      int64_t now, struct ql_limit *out)
{
    char key[KEY_MAX];
    int cacheable = make_key(vals, key, sizeof(key)) == 0;
    uint64_t h = rl_hash(RL_HASH_INIT, key), ep = ql_epoch();
    struct cache_entry *e = &cache[h & (CACHE_SLOTS - 1)];
    int64_t ms = now_ms();
    int n;

    if (cacheable) {
        pthread_mutex_lock(&cache_mu);
        if (e->key != NULL && e->epoch == ep && now < e->until_s &&
            ms - e->fetched_ms < CACHE_TTL_MS && strcmp(e->key, key) == 0) {
            n = e->n;
            if (n > 0)
                memcpy(out, e->lim, (size_t)n * sizeof(*out));
            pthread_mutex_unlock(&cache_mu);
            return n;
        }
        pthread_mutex_unlock(&cache_mu);
    }
    if ((n = fetch_limits(db, vals, now, out)) < 0 || !cacheable)
        return n;
    pthread_mutex_lock(&cache_mu);
    free(e->key);
    free(e->lim);
    e->key = xstrdup(key);
    e->lim = n > 0 ? xcalloc((size_t)n, sizeof(*e->lim)) : NULL;
    e->epoch = ep;
    e->fetched_ms = ms;
    e->until_s = INT64_MAX;
    for (int i = 0; i < n; i++)
        if (out[i].period_end < e->until_s)
            e->until_s = out[i].period_end;
    e->n = n;
    if (n > 0)
        memcpy(e->lim, out, (size_t)n * sizeof(*out));
    pthread_mutex_unlock(&cache_mu);
    return n;
}

/* --- the request in flight on this thread ----------------------------- */

struct qg_req {
    size_t n;
    struct ql_take t[QG_MAX];
    int unit[QG_MAX];
    /* admitted with the database down and no cached limits: its usage is
     * charged when the database is back */
    int pending;
    char vals[QD_N][192];
    int64_t at;
};

static _Thread_local struct qg_req gr;

/* Usage counted during an outage, waiting for the database. */
struct pending {
    struct pending *next;
    char vals[QD_N][192];
    char model[192];              /* priced at (the served one) */
    int64_t at, in, cached, out, reqs;
};

static struct pending *pend_head, **pend_tail = &pend_head;
static size_t pend_n;
static pthread_mutex_t pend_mu = PTHREAD_MUTEX_INITIALIZER;

void qg_release(void)
{
    for (size_t i = 0; i < gr.n; i++)
        ql_settle(&gr.t[i], 0);
    gr.n = 0;
    gr.pending = 0;
}

/* Fail-open without a lease: the request's usage is charged to its
 * limits by the sync thread (aigw_quota_charge). */
static int admit_pending(const char *vals[QD_N], int64_t now)
{
    gr.pending = 1;
    for (int d = 0; d < QD_N; d++)
        snprintf(gr.vals[d], sizeof(gr.vals[d]), "%s", vals[d]);
    gr.at = now;
    return 0;
}

int qg_admit(struct request *r, const char *vals[QD_N], int64_t est_in,
             int64_t est_out, int64_t now, struct qh_state *hs,
             struct quota_hit *hit)
{
    const struct quota_settings *q = gcfg->quotas;
    struct ql_limit lim[QG_MAX];
    const char *model = vals[QD_MODEL];
    int n;

    gr.n = 0;
    gr.pending = 0;
    snprintf(gr.vals[QD_MODEL], sizeof(gr.vals[QD_MODEL]), "%s", model);
    if (!ql_ready())
        return -2;
    n = limits_for(&r->w->db, vals, now, lim);
    if (n < 0)
        return q->fail_open ? admit_pending(vals, now) : -2;
    for (int i = 0; i < n; i++) {
        const struct ql_limit *l = &lim[i];
        int unit = quota_unit_of(l->unit);
        int64_t amt = quota_amount(unit, model, est_in, 0, est_out, 1);
        struct ql_view v;
        int rc = ql_reserve(&r->w->db, l, amt, q->fail_open, &gr.t[gr.n],
                            &v);

        if (rc == 1) {
            ql_invalidate();          /* deleted: re-read the limits */
            continue;
        }
        if (rc == QL_FULL) {          /* no lease: as if the database */
            qg_release();             /* were down, for all its limits */
            if (!q->fail_open)
                return -2;
            return admit_pending(vals, now);
        }
        if (rc < 0) {
            if (rc == -1) {
                snprintf(hit->kind, sizeof(hit->kind), "%s", l->kind);
                snprintf(hit->subject, sizeof(hit->subject), "%s",
                         l->subject);
                snprintf(hit->unit, sizeof(hit->unit), "%s", l->unit);
                snprintf(hit->period, sizeof(hit->period), "%s", l->period);
                hit->limit = v.limit;
                hit->used = v.used;
                hit->need = amt;
                hit->reset_at = l->period_end;
            }
            qg_release();
            return rc;
        }
        gr.unit[gr.n++] = unit;
        qh_note(hs, unit == QU_REQUESTS, v.limit, v.remaining,
                l->period_end - now, quota_period_s(l->period));
    }
    return 0;
}

/* The degrade target of this thread's request: the cached limit's model,
 * kept until the thread's next request (relay.c serves it). */
static _Thread_local char degrade_model[QL_MODEL_MAX];

int qg_degrade(struct request *r, const char *vals[QD_N], int64_t now,
               struct qg_degrade *out)
{
    struct ql_limit lim[QG_MAX];
    const char *model = vals[QD_MODEL];
    int n;

    memset(out, 0, sizeof(*out));
    if (!ql_ready() || (n = limits_for(&r->w->db, vals, now, lim)) <= 0)
        return 0;                 /* nothing known: admission decides */
    for (int i = 0; i < n; i++) {
        const struct ql_limit *l = &lim[i];
        struct ql_view v;

        if (l->degrade_pct == 0 ||
            (l->degrade_max_tokens == 0 &&
             strcmp(l->degrade_model, model) == 0))
            continue;             /* off, or already the cheaper model */
        /* the host's view: settled and in-flight usage here, everyone
         * else's (leases included) as of this host's last sync */
        if (ql_peek(l, &v) < 0 || v.limit <= 0 ||
            v.used * 100 < (int64_t)l->degrade_pct * v.limit)
            continue;
        snprintf(degrade_model, sizeof(degrade_model), "%s",
                 l->degrade_model);
        out->model = degrade_model[0] ? degrade_model : NULL;
        out->max_tokens = l->degrade_max_tokens;
        out->used_pct = v.used * 100 / v.limit;
        snprintf(out->name, sizeof(out->name), "%s:%s%s%s/%s", l->kind,
                 l->subject, strcmp(l->model, "*") != 0 ? ":" : "",
                 strcmp(l->model, "*") != 0 ? l->model : "", l->period);
        return 1;
    }
    return 0;
}

void qg_settle(const char *model, int64_t in, int64_t cached, int64_t out,
               int64_t reqs)
{
    if (model == NULL)
        model = gr.vals[QD_MODEL];
    for (size_t i = 0; i < gr.n; i++) {
        const struct ql_take *t = &gr.t[i];

        /* the model only matters to weighted units (quota_units.c) */
        ql_settle(t, quota_amount(gr.unit[i], model, in, cached, out,
                                  reqs));
    }
    gr.n = 0;
    if (gr.pending && (in > 0 || out > 0 || reqs > 0)) {
        struct pending *p = xcalloc(1, sizeof(*p));

        memcpy(p->vals, gr.vals, sizeof(p->vals));
        snprintf(p->model, sizeof(p->model), "%s", model);
        p->at = gr.at;
        p->in = in;
        p->cached = cached;
        p->out = out;
        p->reqs = reqs;
        pthread_mutex_lock(&pend_mu);
        if (pend_n >= PENDING_MAX) {
            log_warn(NULL, "quota: %d requests served during the database "
                     "outage wait to be charged; not counting more",
                     PENDING_MAX);
            free(p);
        } else {
            *pend_tail = p;
            pend_tail = &p->next;
            pend_n++;
        }
        pthread_mutex_unlock(&pend_mu);
    }
    gr.pending = 0;
}

/* --- reconciliation after an outage (on the sync thread) -------------- */

static int charge(struct db_session *db, const struct pending *p)
{
    const char *vals[QD_N];
    struct ql_limit lim[QG_MAX];
    PGconn *c;
    int n;

    for (int d = 0; d < QD_N; d++)
        vals[d] = p->vals[d];
    if ((n = fetch_limits(db, vals, p->at, lim)) < 0 ||
        (c = db_get(db)) == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        char id[24], at[24], amt[24];
        const char *pp[4] = { id, lim[i].subject, at, amt };
        PGresult *res;
        int ok;

        snprintf(id, sizeof(id), "%" PRId64, lim[i].limit_id);
        snprintf(at, sizeof(at), "%" PRId64, p->at);
        snprintf(amt, sizeof(amt), "%" PRId64,
                 quota_amount(quota_unit_of(lim[i].unit),
                              p->model, p->in, p->cached, p->out,
                              p->reqs));
        res = PQexecParams(c, "SELECT aigw_quota_charge($1::bigint, $2, "
                           "to_timestamp($3::double precision), $4::bigint)",
                           4, NULL, pp, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!ok)
            log_warn(NULL, "quota reconcile: %s", PQerrorMessage(c));
        PQclear(res);
        if (!ok) {
            db_failed(db);
            return -1;    /* an earlier limit of this one may be charged
                             twice on retry: logged, rare */
        }
    }
    return 0;
}

static int config_synced;

static void sync_config_limits(struct db_session *db);

static void reconcile(struct db_session *db)
{
    struct pending *p;
    size_t done = 0;

    /* this thread prices weighted units too (quota_units.c) */
    quota_units_bind(&gcfg->quotas->weights);
    if (!config_synced)
        sync_config_limits(db);
    for (;;) {
        pthread_mutex_lock(&pend_mu);
        p = pend_head;
        pthread_mutex_unlock(&pend_mu);
        if (p == NULL || charge(db, p) < 0)
            break;
        pthread_mutex_lock(&pend_mu);
        pend_head = p->next;
        if (pend_head == NULL)
            pend_tail = &pend_head;
        pend_n--;
        pthread_mutex_unlock(&pend_mu);
        free(p);
        done++;
    }
    if (done > 0)
        log_info(NULL, "quota: usage of %zu requests served during the "
                 "database outage charged", done);
}

/* --- config limits with "scope": "global" ----------------------------- */

/* The config owns its global limits, degrade settings included
 * (sql/0013); a change (the first worker to start with it) is audited
 * with actor config:<name>, like an operator's. */
#define QG_SETTINGS(t) "jsonb_build_object('limit', " t ".limit_value, " \
    "'time_zone', " t ".time_zone, 'degrade_pct', " t ".degrade_pct, " \
    "'degrade_model', " t ".degrade_model, 'degrade_max_tokens', " \
    t ".degrade_max_tokens)"
static const char sql_upsert[] =
    "WITH old AS (SELECT * FROM quota_limits WHERE subject_kind = $1 AND "
    "subject = $2 AND model = $3 AND unit = $4 AND period = $5), "
    "up AS (INSERT INTO quota_limits (subject_kind, subject, model, unit, "
    "period, limit_value, time_zone, source, degrade_pct, degrade_model, "
    "degrade_max_tokens) VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8, "
    "$9::int, $10, $11::bigint) ON CONFLICT (subject_kind, subject, model, "
    "unit, period) DO UPDATE SET limit_value = EXCLUDED.limit_value, "
    "time_zone = EXCLUDED.time_zone, source = EXCLUDED.source, "
    "degrade_pct = EXCLUDED.degrade_pct, degrade_model = "
    "EXCLUDED.degrade_model, degrade_max_tokens = "
    "EXCLUDED.degrade_max_tokens, updated_at = now() "
    "WHERE (quota_limits.limit_value, quota_limits.time_zone, "
    "quota_limits.source, quota_limits.degrade_pct, "
    "quota_limits.degrade_model, quota_limits.degrade_max_tokens) "
    "IS DISTINCT FROM (EXCLUDED.limit_value, EXCLUDED.time_zone, "
    "EXCLUDED.source, EXCLUDED.degrade_pct, EXCLUDED.degrade_model, "
    "EXCLUDED.degrade_max_tokens) RETURNING *) "
    "INSERT INTO quota_audit (actor, action, limit_id, subject_kind, "
    "subject, model, unit, period, old_value, new_value) "
    "SELECT $8, 'config', up.id, up.subject_kind, up.subject, up.model, "
    "up.unit, up.period, (SELECT " QG_SETTINGS("old") " FROM old), "
    QG_SETTINGS("up") " FROM up";

static const char *const subject_kinds[QD_N] = { "api_key", "user",
                                                 "group", NULL, "route" };

static void sync_config_limits(struct db_session *db)
{
    const struct quota_settings *q = gcfg->quotas;
    PGconn *c = db_get(db);
    PGresult *res;
    int ok = 1;

    if (c == NULL)
        return;
    for (size_t i = 0; ok && i < q->n_limits; i++) {
        const struct quota_local *l = &q->limits[i];
        const char *kind = "all", *subject = "*";
        char lim[24], source[200], dpct[16], dmax[24];
        const char *p[11];

        if (!l->global)
            continue;
        for (int d = 0; d < QD_N; d++) {
            if (subject_kinds[d] == NULL)
                continue;
            if (l->per & (1u << d))
                kind = subject_kinds[d];
            if (l->match[d] != NULL) {
                kind = subject_kinds[d];
                subject = l->match[d];
            }
        }
        snprintf(lim, sizeof(lim), "%" PRId64, l->limit);
        snprintf(source, sizeof(source), "config:%s", l->name);
        p[0] = kind;
        p[1] = subject;
        p[2] = l->match[QD_MODEL] ? l->match[QD_MODEL] : "*";
        p[3] = quota_unit_name(l->unit);
        p[4] = l->period;
        p[5] = lim;
        p[6] = l->time_zone;
        p[7] = source;
        snprintf(dpct, sizeof(dpct), "%d", l->degrade_pct);
        snprintf(dmax, sizeof(dmax), "%ld", l->degrade_max_tokens);
        p[8] = l->degrade_pct ? dpct : NULL;        /* NULL: off */
        p[9] = l->degrade_pct ? l->degrade_model : NULL;
        p[10] = l->degrade_pct && l->degrade_max_tokens ? dmax : NULL;
        res = PQexecParams(c, sql_upsert, 11, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            log_warn(NULL, "quota: config limit %s not synced: %s", l->name,
                     PQerrorMessage(c));
            ok = 0;
        }
        PQclear(res);
    }
    if (!ok) {
        db_failed(db);
        return;
    }
    config_synced = 1;
}

void qg_init(const struct config *cfg)
{
    const struct quota_settings *q = cfg->quotas;
    char path[4096];

    gcfg = cfg;
    cache = xcalloc(CACHE_SLOTS, sizeof(*cache));
    config_synced = q->n_global == 0;
    ql_cycle_hook = reconcile;
    if (!config_synced) {         /* before the first request if it can */
        struct db_session db;

        db_session_init(&db, cfg, "aigw-quota-config");
        sync_config_limits(&db);
        db_session_release(&db);
    }
    snprintf(path, sizeof(path), "%s/quotalease.shm", cfg->spool_dir);
    if (ql_open(path, cfg) < 0)
        log_error(NULL, "quota leases unavailable: global quotas answer as "
                  "if the database were down");
}
