#include "quota.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "jsonutil.h"
#include "log.h"
#include "plan.h"
#include "prices.h"
#include "quota_global.h"
#include "quota_headers.h"
#include "quota_lease.h"
#include "quota_units.h"
#include "quota_webhook.h"
#include "quotacfg.h"
#include "ratelimit.h"
#include "request.h"
#include "worker.h"

#define QUOTA_MAX_LOCAL 16
#define STMT_RESERVE 20
#define STMT_SETTLE 21

struct quota_take {
    uint64_t key;
    uint32_t win;
    int unit;
    int64_t amount;
};

/* The request in flight on this thread. */
struct quota_req {
    char request_id[37];
    int pg;                      /* a PostgreSQL reservation to settle */
    int lease;                   /* reservations on host leases */
    int64_t est_in, est_out;
    char model[129];             /* the requested model (usd, weights) */
    size_t n;
    struct quota_take t[QUOTA_MAX_LOCAL];
    char headers[1024];
};

quota_threshold_fn quota_threshold_hook;
quota_usage_fn quota_usage_hook;

static _Thread_local struct quota_req qr;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct config *gcfg;
static const char *clock_file;

static void init_once(void)
{
    const struct quota_settings *q = gcfg->quotas;
    char path[4096];

    clock_file = getenv("AIGW_TEST_CLOCK_FILE");
    if (q->enabled && q->leases)
        qg_init(gcfg);
    if (q->n_limits == q->n_global)
        return;
    if (q->shm_path != NULL)
        snprintf(path, sizeof(path), "%s", q->shm_path);
    else
        snprintf(path, sizeof(path), "%s/ratelimit.shm", gcfg->spool_dir);
    rl_open(path);
}

static void ensure_init(const struct config *cfg)
{
    gcfg = cfg;
    pthread_once(&once, init_once);
}

int64_t quota_now_s(void)
{
    struct timespec ts;

    if (clock_file != NULL && *clock_file) {
        FILE *f = fopen(clock_file, "r");
        long long v;

        if (f != NULL) {
            int ok = fscanf(f, "%lld", &v) == 1;

            fclose(f);
            if (ok)
                return v;
        }
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static int64_t period_s(const char *p);

int64_t quota_period_s(const char *period)
{
    return period_s(period);
}

static int64_t period_s(const char *p)
{
    return strcmp(p, "second") == 0 ? 1 : strcmp(p, "minute") == 0 ? 60
         : strcmp(p, "hour") == 0 ? 3600 : strcmp(p, "day") == 0 ? 86400
         : strcmp(p, "week") == 0 ? 604800 : 2592000;
}

static const char *window_name(int64_t w)
{
    return w == 1 ? "second" : w == 60 ? "minute" : "hour";
}

static int local_matches(const struct quota_local *l, const char *vals[QD_N],
                         const struct plan *plan)
{
    if (l->plan != NULL && (plan == NULL || strcmp(l->plan, plan->name) != 0))
        return 0;                 /* another plan's limit */
    for (int d = 0; d < QD_N; d++)
        if (l->match[d] != NULL && strcmp(l->match[d], vals[d]) != 0)
            return 0;
    return 1;
}

static uint64_t local_key(const struct quota_local *l, const char *vals[QD_N])
{
    uint64_t k = l->seed;

    for (int d = 0; d < QD_N; d++)
        if (l->per & (1u << d))
            k = rl_hash(k, vals[d]);
    return k;
}

static void local_undo(void)
{
    for (size_t i = 0; i < qr.n; i++)
        rl_adjust(qr.t[i].key, qr.t[i].win, -qr.t[i].amount);
    qr.n = 0;
}

/* Takes from every matching local limit. 0, or -1 with *hit filled (and
 * what was taken given back). */
static int local_admit(const struct quota_settings *q, const char *vals[QD_N],
                       const struct plan *plan, int64_t now,
                       struct qh_state *hs, struct quota_hit *hit)
{
    for (size_t i = 0; i < q->n_limits && rl_ready(); i++) {
        const struct quota_local *l = &q->limits[i];
        int64_t amt = quota_amount(l->unit, vals[QD_MODEL], qr.est_in, 0,
                                   qr.est_out, 1), used;
        uint64_t key;
        uint32_t win;
        int rc;

        if (l->global || !local_matches(l, vals, plan))
            continue;             /* global: PostgreSQL leases */
        key = local_key(l, vals);
        rc = rl_take(key, now, l->window_s, l->limit, amt, &used, &win);
        qh_note(hs, l->unit == QU_REQUESTS, l->limit, l->limit - used,
                l->window_s - now % l->window_s, l->window_s);
        if (rc == 0) {
            snprintf(hit->kind, sizeof(hit->kind), "local");
            snprintf(hit->subject, sizeof(hit->subject), "%s", l->name);
            snprintf(hit->unit, sizeof(hit->unit), "%s",
                     quota_unit_name(l->unit));
            snprintf(hit->period, sizeof(hit->period), "%s",
                     window_name(l->window_s));
            hit->limit = l->limit;
            hit->used = used;
            hit->need = amt;
            hit->reset_at = now - now % l->window_s + l->window_s;
            local_undo();
            return -1;
        }
        if (rc == 1 && qr.n < QUOTA_MAX_LOCAL)
            qr.t[qr.n++] = (struct quota_take){ key, win, l->unit, amt };
    }
    return 0;
}

static const char sql_reserve[] =
    "SELECT subject_kind, subject, unit, period, limit_value, used, "
    "extract(epoch FROM reset_at)::bigint, ok FROM aigw_quota_reserve("
    "$1::uuid, $2, $3, $4, $5, $6, to_timestamp($7::double precision), "
    "$8::bigint, $9::bigint, $10::int)";

static void hit_from_row(PGresult *res, int i, struct quota_hit *hit)
{
    snprintf(hit->kind, sizeof(hit->kind), "%s", PQgetvalue(res, i, 0));
    snprintf(hit->subject, sizeof(hit->subject), "%s",
             PQgetvalue(res, i, 1));
    snprintf(hit->unit, sizeof(hit->unit), "%s", PQgetvalue(res, i, 2));
    snprintf(hit->period, sizeof(hit->period), "%s", PQgetvalue(res, i, 3));
    hit->limit = strtoll(PQgetvalue(res, i, 4), NULL, 10);
    hit->used = strtoll(PQgetvalue(res, i, 5), NULL, 10);
    hit->reset_at = strtoll(PQgetvalue(res, i, 6), NULL, 10);
    hit->need = quota_amount(quota_unit_of(hit->unit), qr.model, qr.est_in,
                             0, qr.est_out, 1);
}

/* One round trip. 0 reserved (or nothing applies), -1 refused (*hit),
 * -2 database unavailable. */
static int pg_admit(struct request *r, const char *vals[QD_N], int64_t now,
                    struct qh_state *hs, struct quota_hit *hit)
{
    struct db_session *db = &r->w->db;
    PGconn *c = db_get(db);
    char snow[32], sin[32], sout[32], sttl[16];
    const char *p[10] = { r->request_id, vals[QD_API_KEY], vals[QD_USER],
                          vals[QD_GROUP], vals[QD_ROUTE], vals[QD_MODEL],
                          snow, sin, sout, sttl };
    PGresult *res;
    int rc = 0;

    if (c == NULL || db_prepare(db, STMT_RESERVE, "aigw_quota_reserve",
                                sql_reserve, 10) < 0) {
        db_failed(db);
        return -2;
    }
    snprintf(snow, sizeof(snow), "%" PRId64, now);
    snprintf(sin, sizeof(sin), "%" PRId64, qr.est_in);
    snprintf(sout, sizeof(sout), "%" PRId64, qr.est_out);
    snprintf(sttl, sizeof(sttl), "%ld", gcfg->quotas->reservation_ttl_s);
    res = PQexecPrepared(c, "aigw_quota_reserve", 10, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK &&
        PQstatus(c) != CONNECTION_OK) {  /* a restarted server: once more */
        PQclear(res);
        db_failed(db);
        if ((c = db_get(db)) == NULL ||
            db_prepare(db, STMT_RESERVE, "aigw_quota_reserve", sql_reserve,
                       10) < 0)
            return -2;
        res = PQexecPrepared(c, "aigw_quota_reserve", 10, p, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn(r->request_id, "quota reserve: %s", PQerrorMessage(c));
        PQclear(res);
        db_failed(db);
        return -2;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t lim = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        int64_t used = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        int64_t reset = strtoll(PQgetvalue(res, i, 6), NULL, 10);

        if (PQgetvalue(res, i, 7)[0] != 't') {
            hit_from_row(res, i, hit);
            rc = -1;
            break;
        }
        qr.pg = 1;
        qh_note(hs, strcmp(PQgetvalue(res, i, 2), "requests") == 0, lim,
                lim - used, reset - now, period_s(PQgetvalue(res, i, 3)));
    }
    PQclear(res);
    return rc;
}

static int is_rate(const char *period)
{
    return strcmp(period, "second") == 0 || strcmp(period, "minute") == 0 ||
           strcmp(period, "hour") == 0;
}

static void refuse(struct request *r, const struct quota_hit *h,
                   struct qh_state *hs, int64_t now)
{
    struct buf b = BUF_INIT(4096);
    int rate = is_rate(h->period), req = strcmp(h->unit, "requests") == 0;
    const char *code = rate ? "rate_limit_exceeded" : "quota_exceeded";
    char msg[512], hdr[1024];
    struct tm tm;
    time_t t = (time_t)h->reset_at;
    char iso[32];

    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(msg, sizeof(msg), "%s for %s '%s': %s per %s, limit "
             "%" PRId64 ", used %" PRId64 ", this request needs %" PRId64
             "; resets at %s.", rate ? "Rate limit reached" : "Quota exhausted",
             h->kind, h->subject, h->unit, h->period, h->limit, h->used,
             h->need, iso);
    qh_note(hs, req, h->limit, h->limit - h->used, h->reset_at - now,
            period_s(h->period));
    qh_format(hs, h->reset_at - now, hdr, sizeof(hdr));
    buf_adds(&b, "{\"error\":{\"message\":");
    buf_add_json_str(&b, msg, strlen(msg));
    buf_addf(&b, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\","
             "\"limit\":{\"subject_kind\":", rate ? (req ? "requests"
             : "tokens") : "insufficient_quota", code);
    buf_add_json_str(&b, h->kind, strlen(h->kind));
    buf_adds(&b, ",\"subject\":");
    buf_add_json_str(&b, h->subject, strlen(h->subject));
    buf_addf(&b, ",\"unit\":\"%s\",\"window\":\"%s\",\"limit\":%" PRId64
             ",\"used\":%" PRId64 ",\"reset_at\":\"%s\"}}}\n", h->unit,
             h->period, h->limit, h->used, iso);
    r->ev.http_status = 429;
    r->ev.error_type = code;
    r->ev.degraded[0] = '\0';    /* refused, not served degraded */
    if (r->error_out != NULL)         /* another API's error shape */
        r->error_out(r, 429, code, msg, hdr);
    else if (buf_error(&b) == 0)
        req_send_json(r, 429, b.ptr, b.len, hdr);
    buf_release(&b);
}

static int64_t completion_estimate(struct json_object *req, int embeddings)
{
    int64_t mt;

    if (embeddings)
        return 0;
    mt = jget_int(req, "max_completion_tokens", -1);
    if (mt < 0)
        mt = jget_int(req, "max_tokens", -1);
    return mt >= 0 ? mt : gcfg->quotas->default_max_tokens;
}

static void fill_vals(const struct request *r, const char *model,
                      const char *vals[QD_N])
{
    vals[QD_API_KEY] = r->ev.api_key_id;
    vals[QD_USER] = r->ev.user_id;
    vals[QD_GROUP] = r->ev.group_id;
    vals[QD_MODEL] = model ? model : "";
    vals[QD_ROUTE] = r->ev.route ? r->ev.route : "";
}

int quota_active(const struct config *cfg)
{
    const struct quota_settings *q = cfg->quotas;

    return q->enabled || q->n_limits > 0;
}

int quota_admit(struct request *r, const char *model, struct json_object *req,
                int embeddings)
{
    const struct quota_settings *q = r->w->cfg->quotas;
    const char *vals[QD_N];
    struct qh_state hs = { 0 };
    struct quota_hit hit;
    int64_t now;
    int rc;

    ensure_init(r->w->cfg);
    memset(qr.request_id, 0, sizeof(qr.request_id));
    qr.pg = 0;
    qr.lease = 0;
    qr.n = 0;
    if (!q->enabled && q->n_limits == 0)
        return 0;
    quota_units_bind(&q->weights);
    now = quota_now_s();
    fill_vals(r, model, vals);
    usage_set(qr.model, sizeof(qr.model), vals[QD_MODEL]);
    qr.est_in = (int64_t)r->body_len / q->chars_per_token + 8;
    qr.est_out = completion_estimate(req, embeddings);
    if (local_admit(q, vals, plan_of(r), now, &hs, &hit) < 0) {
        refuse(r, &hit, &hs, now);
        return -1;
    }
    qr.lease = q->enabled && q->leases && ql_ready();
    rc = !q->enabled ? 0 : qr.lease   /* no lease table: per request */
       ? qg_admit(r, vals, qr.est_in, qr.est_out, now, &hs, &hit)
       : pg_admit(r, vals, now, &hs, &hit);
    if (rc == -1 || (rc == -2 && !q->fail_open)) {
        local_undo();
        if (rc == -1) {
            refuse(r, &hit, &hs, now);
        } else {
            req_error(r, 503, "server_error", "quota_unavailable",
                      "Quotas cannot be checked right now; retry later.");
        }
        return -1;
    }
    memcpy(qr.request_id, r->request_id, sizeof(qr.request_id));
    qh_format(&hs, -1, qr.headers, sizeof(qr.headers));
    r->extra_headers = qr.headers;
    return 0;
}

static void note_degrade(struct request *r, const char *name,
                         int64_t used_pct, const struct quota_degrade *d)
{
    snprintf(r->ev.degraded, sizeof(r->ev.degraded), "limit=%.100s "
             "used_pct=%" PRId64 "%s%.100s%s%.0ld", name, used_pct,
             d->model ? " model=" : "", d->model ? d->model : "",
             d->max_tokens ? " max_tokens=" : "", d->max_tokens);
}

/* Global limits (quota_global.c): their degrade settings come with the
 * cached limits, the share from this host's lease view. */
static int global_degrade(struct request *r, const char *vals[QD_N],
                          int64_t now, struct quota_degrade *d)
{
    const struct quota_settings *q = r->w->cfg->quotas;
    struct qg_degrade g;

    if (!q->enabled || !q->leases || !ql_ready() ||
        !qg_degrade(r, vals, now, &g))
        return 0;
    d->model = g.model;
    d->max_tokens = g.max_tokens;
    note_degrade(r, g.name, g.used_pct, d);
    return 1;
}

int quota_degrade(struct request *r, const char *model,
                  struct quota_degrade *d)
{
    const struct quota_settings *q = r->w->cfg->quotas;
    const struct plan *plan;
    const char *vals[QD_N];
    int64_t now;

    memset(d, 0, sizeof(*d));
    if (q->n_limits == 0 && !q->enabled)
        return 0;
    ensure_init(r->w->cfg);
    fill_vals(r, model, vals);
    plan = plan_of(r);
    now = quota_now_s();
    for (size_t i = 0; i < q->n_limits && rl_ready(); i++) {
        const struct quota_local *l = &q->limits[i];
        int64_t used;

        if (l->global || l->degrade_pct == 0 ||
            !local_matches(l, vals, plan) ||
            (l->degrade_max_tokens == 0 && model != NULL &&
             strcmp(l->degrade_model, model) == 0))
            continue;             /* global (below), off, not ours, or
                                     already degraded */
        used = rl_peek(local_key(l, vals), now, l->window_s);
        if (used * 100 < (int64_t)l->degrade_pct * l->limit)
            continue;
        d->model = l->degrade_model;
        d->max_tokens = l->degrade_max_tokens;
        note_degrade(r, l->name, l->limit > 0 ? used * 100 / l->limit : 100,
                     d);
        return 1;
    }
    return global_degrade(r, vals, now, d);
}

static const char sql_settle[] =
    "SELECT subject_kind, subject, unit, period, limit_value, used_before, "
    "used_after, threshold_pct, (SELECT model FROM quota_limits l WHERE "
    "l.id = limit_id) FROM aigw_quota_settle($1::uuid, $2::bigint, "
    "$3::bigint, $4::bigint)";

void quota_threshold_emit(const struct quota_settings *q, const char *rid,
                          const char *kind, const char *subject,
                          const char *unit, const char *period, int64_t pct,
                          int64_t before, int64_t after, int64_t limit)
{
    struct buf b = BUF_INIT(2048);

    if (limit <= 0 || !(before * 100 < pct * limit &&
                        after * 100 >= pct * limit))
        return;
    buf_adds(&b, "{\"event\":\"quota_threshold\"");
    if (rid != NULL) {
        buf_adds(&b, ",\"request_id\":");
        buf_add_json_str(&b, rid, strlen(rid));
    }
    buf_adds(&b, ",\"subject_kind\":");
    buf_add_json_str(&b, kind, strlen(kind));
    buf_adds(&b, ",\"subject\":");
    buf_add_json_str(&b, subject, strlen(subject));
    buf_addf(&b, ",\"unit\":\"%s\",\"period\":\"%s\",\"threshold_pct\":%"
             PRId64 ",\"used\":%" PRId64 ",\"limit\":%" PRId64 "}", unit,
             period, pct, after, limit);
    if (buf_error(&b) == 0) {
        log_line(b.ptr, b.len);
        if (q->threshold_webhook != NULL)     /* queued, not sent */
            quota_webhook_post(q, b.ptr, b.len);
    }
    buf_release(&b);
    if (quota_threshold_hook != NULL)
        quota_threshold_hook(kind, subject, unit, period, after, limit);
}

static void threshold_event(PGresult *res, int i, const char *rid)
{
    quota_threshold_emit(gcfg->quotas, rid, PQgetvalue(res, i, 0),
                         PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                         PQgetvalue(res, i, 3),
                         strtoll(PQgetvalue(res, i, 7), NULL, 10),
                         strtoll(PQgetvalue(res, i, 5), NULL, 10),
                         strtoll(PQgetvalue(res, i, 6), NULL, 10),
                         strtoll(PQgetvalue(res, i, 4), NULL, 10));
}

/* The balance after a settlement, to the quota gauges. */
static void report_balance(PGresult *res, int i)
{
    if (quota_usage_hook != NULL)
        quota_usage_hook(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                         PQgetvalue(res, i, 8), PQgetvalue(res, i, 2),
                         PQgetvalue(res, i, 3),
                         strtoll(PQgetvalue(res, i, 6), NULL, 10),
                         strtoll(PQgetvalue(res, i, 4), NULL, 10));
}

static void pg_settle(struct request *r, int64_t in, int64_t out,
                      int64_t reqs)
{
    struct db_session *db = &r->w->db;
    PGconn *c = db_get(db);
    char sin[32], sout[32], sreq[8];
    const char *p[4] = { r->request_id, sin, sout, sreq };
    PGresult *res;

    if (c == NULL || db_prepare(db, STMT_SETTLE, "aigw_quota_settle",
                                sql_settle, 4) < 0) {
        log_warn(r->request_id, "quota settle: database unavailable; the "
                 "reservation expires after %lds",
                 r->w->cfg->quotas->reservation_ttl_s);
        return;
    }
    snprintf(sin, sizeof(sin), "%" PRId64, in);
    snprintf(sout, sizeof(sout), "%" PRId64, out);
    snprintf(sreq, sizeof(sreq), "%" PRId64, reqs);
    res = PQexecPrepared(c, "aigw_quota_settle", 4, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn(r->request_id, "quota settle: %s", PQerrorMessage(c));
        db_failed(db);
    } else {
        for (int i = 0; i < PQntuples(res); i++) {
            threshold_event(res, i, r->request_id);
            report_balance(res, i);
        }
    }
    PQclear(res);
}

/* The model the real usage is counted at: the served one, else (as the
 * ledger prices rows) the requested one when only that has a price. */
static const char *settle_model(const struct usage_event *ev)
{
    if (ev->served_model[0] == '\0')
        return qr.model;
    if (prices_cost_model(ev->served_model, ev->ts_unix_us, 0, 0, 0) < 0 &&
        prices_cost_model(qr.model, ev->ts_unix_us, 0, 0, 0) >= 0)
        return qr.model;
    return ev->served_model;
}

void quota_settle(struct request *r)
{
    const struct usage_event *ev = &r->ev;
    int called = ev->upstream_status != 0;
    int64_t in = 0, out = 0, cached = 0;
    const char *model = qr.n > 0 ? settle_model(ev) : NULL;

    if (qr.request_id[0] == '\0' ||
        strcmp(qr.request_id, r->request_id) != 0)
        return;
    quota_units_bind(&r->w->cfg->quotas->weights);
    if (ev->has_usage) {
        in = ev->prompt_tokens;
        out = ev->completion_tokens;
        cached = ev->cached_tokens;
    } else if (called) {          /* no usage reported: the estimate */
        in = qr.est_in;
        out = ev->completion_tokens > 0 ? ev->completion_tokens : qr.est_out;
    }
    for (size_t i = 0; i < qr.n; i++)
        if (qr.t[i].unit != QU_REQUESTS)
            rl_adjust(qr.t[i].key, qr.t[i].win,
                      quota_amount(qr.t[i].unit, model, in, cached, out, 1) -
                      qr.t[i].amount);
    if (qr.pg)
        pg_settle(r, in, out, called ? 1 : 0);
    if (qr.lease)
        qg_settle(settle_model(ev), in, cached, out, called ? 1 : 0);
    qr.request_id[0] = '\0';
    qr.n = 0;
    qr.pg = 0;
    qr.lease = 0;
}

void quota_stop(void)
{
    ql_release_all();
}

/* --- GET /v1/usage ---------------------------------------------------- */

static const char sql_status[] =
    "SELECT subject_kind, subject, model, unit, period, limit_value, used, "
    "reserved, extract(epoch FROM reset_at)::bigint, "
    "to_char(reset_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM aigw_quota_status($1, $2, $3, to_timestamp($4::double precision))";

static void add_entry(struct buf *b, int *first, const char *scope,
                      const char *kind, const char *subject,
                      const char *model, const char *unit,
                      const char *window, int64_t limit, int64_t used,
                      int64_t reserved, int64_t reset_at, int64_t now)
{
    char iso[32];
    struct tm tm;
    time_t t = (time_t)reset_at;
    int64_t rem = limit - used - reserved;

    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_adds(b, *first ? "" : ",");
    *first = 0;
    buf_addf(b, "{\"scope\":\"%s\",\"subject_kind\":", scope);
    buf_add_json_str(b, kind, strlen(kind));
    buf_adds(b, ",\"subject\":");
    buf_add_json_str(b, subject, strlen(subject));
    buf_adds(b, ",\"model\":");
    buf_add_json_str(b, model, strlen(model));
    buf_addf(b, ",\"unit\":\"%s\",\"window\":\"%s\",\"limit\":%" PRId64
             ",\"used\":%" PRId64 ",\"reserved\":%" PRId64 ",\"remaining\":%"
             PRId64 ",\"reset_at\":\"%s\",\"reset_in_s\":%" PRId64 "}",
             unit, window, limit, used, reserved, rem < 0 ? 0 : rem, iso,
             reset_at - now);
}

static void usage_local(struct request *r, struct buf *b, int *first,
                        int64_t now)
{
    const struct quota_settings *q = r->w->cfg->quotas;
    const struct plan *plan = plan_of(r);
    const char *vals[QD_N];

    fill_vals(r, NULL, vals);
    for (size_t i = 0; i < q->n_limits && rl_ready(); i++) {
        const struct quota_local *l = &q->limits[i];
        int64_t used;

        if (l->global || l->match[QD_MODEL] != NULL ||
            (l->per & (1u << QD_MODEL)) || !local_matches(l, vals, plan))
            continue;             /* per-model limits: see the headers */
        used = rl_peek(local_key(l, vals), now, l->window_s);
        add_entry(b, first, "local", "local", l->name, "*",
                  quota_unit_name(l->unit), window_name(l->window_s),
                  l->limit, used, 0, now - now % l->window_s + l->window_s,
                  now);
    }
}

static int usage_global(struct request *r, struct buf *b, int *first,
                        int64_t now)
{
    struct db_session *db = &r->w->db;
    PGconn *c = db_get(db);
    char snow[32];
    const char *p[4] = { r->ev.api_key_id, r->ev.user_id, r->ev.group_id,
                         snow };
    PGresult *res;
    int rc = 0;

    if (c == NULL)
        return -1;
    snprintf(snow, sizeof(snow), "%" PRId64, now);
    res = PQexecParams(c, sql_status, 4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn(r->request_id, "quota status: %s", PQerrorMessage(c));
        db_failed(db);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < PQntuples(res); i++)
        add_entry(b, first, "global", PQgetvalue(res, i, 0),
                  PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                  PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
                  strtoll(PQgetvalue(res, i, 5), NULL, 10),
                  strtoll(PQgetvalue(res, i, 6), NULL, 10),
                  strtoll(PQgetvalue(res, i, 7), NULL, 10),
                  strtoll(PQgetvalue(res, i, 8), NULL, 10), now);
    PQclear(res);
    return rc;
}

void quota_usage_handle(struct request *r)
{
    struct buf b = BUF_INIT(1 << 20);
    int first = 1;
    int64_t now;

    ensure_init(r->w->cfg);
    now = quota_now_s();
    buf_adds(&b, "{\"object\":\"usage\",\"api_key_id\":");
    buf_add_json_str(&b, r->ev.api_key_id, strlen(r->ev.api_key_id));
    buf_adds(&b, ",\"user\":");
    buf_add_json_str(&b, r->ev.user_id, strlen(r->ev.user_id));
    buf_adds(&b, ",\"group\":");
    buf_add_json_str(&b, r->ev.group_id, strlen(r->ev.group_id));
    buf_adds(&b, ",\"limits\":[");
    usage_local(r, &b, &first, now);
    if (r->w->cfg->quotas->enabled && ql_ready())
        ql_push_all(&r->w->db);   /* balances up to date, not batched */
    if (r->w->cfg->quotas->enabled && usage_global(r, &b, &first, now) < 0) {
        buf_release(&b);
        req_error(r, 503, "server_error", "quota_unavailable",
                  "Quotas cannot be read right now; retry later.");
        return;
    }
    buf_adds(&b, "]}\n");
    r->ev.http_status = 200;
    if (buf_error(&b) == 0)
        req_send_json(r, 200, b.ptr, b.len, "");
    else
        req_error(r, 500, "server_error", "usage_too_large",
                  "The usage report is too large.");
    buf_release(&b);
}
