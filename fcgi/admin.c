#include "admin.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "jsonutil.h"
#include "quota.h"
#include "quota_lease.h"
#include "request.h"
#include "worker.h"

static const char sql_list[] =
    "SELECT coalesce(json_agg(json_build_object('id', l.id, "
    "'subject_kind', l.subject_kind, 'subject', l.subject, 'model', l.model, "
    "'unit', l.unit, 'period', l.period, 'limit', l.limit_value, "
    "'time_zone', l.time_zone, 'degrade', CASE WHEN l.degrade_pct IS NOT NULL "
    "THEN json_build_object('at_pct', l.degrade_pct, 'model', "
    "l.degrade_model, 'max_tokens', l.degrade_max_tokens) END, "
    "'balances', (SELECT coalesce(json_agg("
    "json_build_object('subject', q.subject, 'period_start', q.period_start,"
    " 'used', q.used, 'reserved', q.reserved, 'adjust', q.adjust, "
    "'limit', l.limit_value + q.adjust) ORDER BY q.subject), '[]') "
    "FROM quota_periods q WHERE q.limit_id = l.id AND q.period_start = "
    "(SELECT ps FROM aigw_period_bounds(l.period, to_timestamp($1::float8),"
    " l.time_zone)))) ORDER BY l.id), '[]') FROM quota_limits l";

static const char sql_admin[] =
    "SELECT aigw_quota_admin($1, $2, $3, $4, $5, $6, $7, $8::bigint, $9, "
    "to_timestamp($10::float8))";

/* degrade before the wall (sql/0013); $7 NULL clears */
static const char sql_degrade[] =
    "SELECT aigw_quota_degrade($1, $2, $3, $4, $5, $6, $7::int, $8, "
    "$9::bigint)";

static void db_error(struct request *r, PGconn *c, PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                        : NULL;

    if (st != NULL && (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0
                       || strcmp(st, "P0002") == 0)) {
        req_error(r, strcmp(st, "P0002") == 0 ? 404 : 400,
                  "invalid_request_error", "invalid_quota",
                  m ? m : "invalid quota change");
        return;
    }
    if (c != NULL && PQstatus(c) != CONNECTION_OK)
        db_failed(&r->w->db);
    req_error(r, 503, "server_error", "database_unavailable",
              "The database is unavailable; retry later.");
}

static void list(struct request *r, PGconn *c)
{
    char now[32];
    const char *p[1] = { now };
    PGresult *res;

    snprintf(now, sizeof(now), "%" PRId64, quota_now_s());
    res = PQexecParams(c, sql_list, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        db_error(r, c, res);
    } else {
        struct buf b = BUF_INIT(16 << 20);

        buf_adds(&b, "{\"object\":\"list\",\"data\":");
        buf_adds(&b, PQgetvalue(res, 0, 0));
        buf_adds(&b, "}\n");
        r->ev.http_status = 200;
        if (buf_error(&b) == 0)
            req_send_json(r, 200, b.ptr, b.len, "");
        buf_release(&b);
    }
    PQclear(res);
}

static const char *field(json_object *o, const char *k, const char *dflt)
{
    const char *v = jget_str(o, k);

    return v != NULL ? v : dflt;
}

/* The body's "degrade": absent (0), null (1: clear) or {"at_pct": P,
 * "model": M, "max_tokens": N} (1: set, into pct/model/max; checked by
 * the database), or -1 when it is not an object. */
static int degrade_of(json_object *o, char pct[16], const char **model,
                      char max[24])
{
    json_object *d, *v;

    pct[0] = max[0] = '\0';
    *model = NULL;
    if (!json_object_object_get_ex(o, "degrade", &d))
        return 0;
    if (d == NULL)
        return 1;
    if (!json_object_is_type(d, json_type_object) ||
        !json_object_object_get_ex(d, "at_pct", &v) ||
        !json_object_is_type(v, json_type_int))
        return -1;
    snprintf(pct, 16, "%d", json_object_get_int(v));
    *model = jget_str(d, "model");
    if (json_object_object_get_ex(d, "max_tokens", &v) && v != NULL)
        snprintf(max, 24, "%" PRId64, json_object_get_int64(v));
    return 1;
}

/* Runs the change: the limit (p), its degrade settings (dp, when deg), or
 * both in one transaction. The last result, or NULL (*failed: the one
 * that failed, for db_error). */
static PGresult *run_change(PGconn *c, const char *const p[10], int limit,
                            int deg, const char *const dp[9],
                            PGresult **failed)
{
    PGresult *res = NULL;
    int both = limit && deg;

    *failed = NULL;
    if (both)
        PQclear(PQexec(c, "BEGIN"));
    if (limit) {
        res = PQexecParams(c, sql_admin, 10, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            goto fail;
    }
    if (deg) {
        PQclear(res);
        res = PQexecParams(c, sql_degrade, 9, NULL, dp, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            goto fail;
    }
    if (both)
        PQclear(PQexec(c, "COMMIT"));
    return res;
fail:
    if (both)
        PQclear(PQexec(c, "ROLLBACK"));
    *failed = res;
    return NULL;
}

static void change(struct request *r, PGconn *c, const struct identity *id)
{
    const char *why = NULL, *action;
    json_object *o = jparse(r->body, r->body_len, &why);
    char actor[200], val[32], now[32], pct[16], max[24];
    const char *p[10], *dp[9];
    PGresult *res, *failed;
    int deg;

    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        (deg = degrade_of(o, pct, &dp[7], max)) < 0) {
        req_error(r, 400, "invalid_request_error", "invalid_json",
                  o == NULL || !json_object_is_type(o, json_type_object)
                  ? "the request body must be a JSON object"
                  : "degrade must be null or {\"at_pct\": 1-100, "
                    "\"model\": M, \"max_tokens\": N}");
        json_object_put(o);
        return;
    }
    snprintf(actor, sizeof(actor), "admin-api:%s",
             id->api_key_id[0] ? id->api_key_id : id->user_id);
    if (strcmp(field(o, "unit", ""), "usd") == 0) {   /* dollars */
        double d = json_object_get_double(json_object_object_get(o,
                                                                 "value"));

        snprintf(val, sizeof(val), "%" PRId64,
                 (int64_t)(d * 1e6 + (d < 0 ? -0.5 : 0.5)));
    } else
        snprintf(val, sizeof(val), "%" PRId64, jget_int(o, "value", 0));
    snprintf(now, sizeof(now), "%" PRId64, quota_now_s());
    action = field(o, "action", "");
    p[0] = dp[0] = actor;
    p[1] = action;
    p[2] = dp[1] = field(o, "subject_kind", "");
    p[3] = dp[2] = field(o, "subject", "*");
    p[4] = dp[3] = field(o, "model", "*");
    p[5] = dp[4] = field(o, "unit", "total_tokens");
    p[6] = dp[5] = field(o, "period", "month");
    p[7] = val;
    p[8] = jget_str(o, "time_zone");
    p[9] = now;
    dp[6] = pct[0] ? pct : NULL;      /* NULL: clear */
    dp[8] = max[0] ? max : NULL;
    if (strcmp(action, "degrade") == 0 && !deg) {
        req_error(r, 400, "invalid_request_error", "invalid_quota",
                  "action degrade needs \"degrade\" (null clears)");
    } else if (deg && strcmp(action, "set") != 0 &&
               strcmp(action, "degrade") != 0) {
        req_error(r, 400, "invalid_request_error", "invalid_quota",
                  "\"degrade\" goes with action set or degrade");
    } else if ((res = run_change(c, p, strcmp(action, "degrade") != 0, deg,
                                 dp, &failed)) == NULL) {
        db_error(r, c, failed);
        PQclear(failed);
    } else {
        char body[96];
        int n = snprintf(body, sizeof(body), "{\"ok\":true,\"limit_id\":%s}\n",
                         PQgetvalue(res, 0, 0));

        ql_invalidate();          /* this host at once; others: NOTIFY */
        r->ev.http_status = 200;
        req_send_json(r, 200, body, (size_t)n, "");
        PQclear(res);
    }
    json_object_put(o);
}

void admin_handle(const struct config *cfg, struct request *r)
{
    struct identity id;
    PGconn *c;
    int rc, get = strcmp(r->method, "GET") == 0;

    (void)cfg;
    if (!(r->path_len == 13 && memcmp(r->path, "/admin/quotas", 13) == 0)) {
        req_error(r, 404, "invalid_request_error", "unknown_url",
                  "Unknown request URL.");
        return;
    }
    rc = auth_authenticate(&r->w->db, r, RA_EITHER, &id);
    if (rc != AUTH_OK) {
        req_error(r, rc == AUTH_UNAVAILABLE ? 503 : 401,
                  "invalid_request_error", "invalid_api_key",
                  "An admin credential is required.");
    } else if (!auth_is_admin(&id)) {
        req_error(r, 403, "permission_error", "admin_required",
                  "This endpoint needs the admin role.");
    } else if (!get && strcmp(r->method, "POST") != 0) {
        req_error(r, 405, "invalid_request_error", "method_not_allowed",
                  "use GET or POST");
    } else if ((c = db_get(&r->w->db)) == NULL) {
        db_error(r, NULL, NULL);
    } else if (get) {
        list(r, c);
    } else {
        change(r, c, &id);
    }
    auth_identity_release(&id);
}
