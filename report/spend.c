#include "spend.h"

#include "../fcgi/buf.h"
#include "db.h"

#include <libpq-fe.h>
#include <string.h>

/* One --by dimension: an expression over the rows u of
 * aigw_usage_rollup_between() (and k, the row's api_keys entry). */
struct spend_dim {
    const char *name;       /* --by value */
    const char *column;     /* output column */
    const char *expr;       /* grouped expression */
    const char *select;     /* output expression (text) over expr */
    const char *order;      /* sort expression */
    int grain;              /* the coarsest rollup that has it */
};

/* aigw_usage_rollup_between()'s p_grain: the group rollups by month and
 * by day lack api_key and user; the monthly one lacks days. */
enum { GRAIN_MONTH, GRAIN_DAY, GRAIN_HOUR };
static const char *const grain_names[] = {"month", "day", "hour"};

#define DAY_EXPR "to_char(u.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
#define MONTH_EXPR "to_char(u.bucket AT TIME ZONE 'UTC', 'YYYY-MM')"
#define C_ORDER(e) e " COLLATE \"C\""

static const struct spend_dim spend_dims[] = {
    {"api_key", "api_key_id", "u.api_key_id", "u.api_key_id::text",
     "u.api_key_id", GRAIN_HOUR},
    {"user", "user_id", "u.user_id", "u.user_id", C_ORDER("u.user_id"),
     GRAIN_HOUR},
    {"group", "group_id", "u.group_id", "u.group_id", C_ORDER("u.group_id"),
     GRAIN_MONTH},
    {"model", "model", "u.model", "u.model", C_ORDER("u.model"),
     GRAIN_MONTH},
    {"provider", "provider", "u.provider", "u.provider",
     C_ORDER("u.provider"), GRAIN_MONTH},
    {"route", "route", "u.route", "u.route", C_ORDER("u.route"),
     GRAIN_MONTH},
    {"day", "day", DAY_EXPR, DAY_EXPR, C_ORDER(DAY_EXPR), GRAIN_DAY},
    {"month", "month", MONTH_EXPR, MONTH_EXPR, C_ORDER(MONTH_EXPR),
     GRAIN_MONTH},
};
#define NDIMS (sizeof(spend_dims) / sizeof(spend_dims[0]))

/* The key's owner, shown beside api_key_id unless --by names the user or
 * group itself (which then come from the ledger rows). */
static const struct spend_dim key_user = {
    "", "user_id", "k.user_id", "k.user_id", C_ORDER("k.user_id"),
    GRAIN_HOUR};
static const struct spend_dim key_group = {
    "", "group_id", "k.group_id", "k.group_id", C_ORDER("k.group_id"),
    GRAIN_HOUR};

/* Exact sums: tokens as integers, cost_usd the pico-USD sum rounded half
 * away from zero to 6 decimals in numeric arithmetic, never a double. */
#define SPEND_AGG                                                              \
    "coalesce(sum(u.requests), 0), coalesce(sum(u.prompt_tokens), 0), "        \
    "coalesce(sum(u.completion_tokens), 0), "                                  \
    "coalesce(sum(u.total_tokens), 0), "                                       \
    "round(coalesce(sum(u.cost_pusd), 0) * 0.000000000001, 6), "               \
    "coalesce(sum(u.unpriced_requests), 0), coalesce(sum(u.cost_pusd), 0) "

static const struct out_col value_cols[] = {
    {"requests", OUT_INT},          {"prompt_tokens", OUT_INT},
    {"completion_tokens", OUT_INT}, {"total_tokens", OUT_INT},
    {"cost_usd", OUT_DECIMAL},      {"unpriced_requests", OUT_INT},
    {"cost_pusd", OUT_INT}};
#define NVALUES ((int)(sizeof(value_cols) / sizeof(value_cols[0])))

static const struct spend_dim *find_dim(const char *name, size_t n)
{
    for (size_t i = 0; i < NDIMS; i++)
        if (strlen(spend_dims[i].name) == n &&
            strncmp(spend_dims[i].name, name, n) == 0)
            return &spend_dims[i];
    return NULL;
}

int spend_parse_by(const char *list, struct spend_by *by, char *bad,
                   size_t badlen)
{
    const char *p = list;

    by->ndims = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        const struct spend_dim *d = find_dim(p, n);

        for (int i = 0; d != NULL && i < by->ndims; i++)
            if (by->dims[i] == d)
                d = NULL;               /* a repeat */
        if (d == NULL || by->ndims == SPEND_MAX_DIMS) {
            snprintf(bad, badlen, "%.*s", (int)n, p);
            return -1;
        }
        by->dims[by->ndims++] = d;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

static int has_dim(const struct spend_by *by, const char *name)
{
    for (int i = 0; i < by->ndims; i++)
        if (strcmp(by->dims[i]->name, name) == 0)
            return 1;
    return 0;
}

/* The key columns in output order: the --by dimensions, api_key followed
 * by its owner's user and group unless named. Returns how many. */
static int key_dims(const struct spend_by *by,
                    const struct spend_dim **keys)
{
    int n = 0;

    for (int i = 0; i < by->ndims; i++) {
        keys[n++] = by->dims[i];
        if (strcmp(by->dims[i]->name, "api_key") != 0)
            continue;
        if (!has_dim(by, "user"))
            keys[n++] = &key_user;
        if (!has_dim(by, "group"))
            keys[n++] = &key_group;
    }
    return n;
}

/* SELECT grand-total flag, keys, sums FROM the rollups and tail, grouped
 * by the keys and by nothing (the totals row, which sorts last). */
static void build_sql(struct buf *b, const struct spend_dim **keys, int n,
                      int join_keys, int filter_group)
{
    buf_adds(b, "SELECT (GROUPING(");
    for (int i = 0; i < n; i++)
        buf_addf(b, "%s%s", i ? ", " : "", keys[i]->expr);
    buf_adds(b, ") <> 0)::int");
    for (int i = 0; i < n; i++)
        buf_addf(b, ", %s", keys[i]->select);
    buf_adds(b, ", " SPEND_AGG "FROM aigw_usage_rollup_between("
                "$1::timestamptz, $2::timestamptz, $3) u ");
    if (join_keys)
        buf_adds(b, "LEFT JOIN api_keys k ON k.id = u.api_key_id ");
    if (filter_group)
        buf_adds(b, "WHERE u.group_id = $4 ");
    buf_adds(b, "GROUP BY GROUPING SETS ((");
    for (int i = 0; i < n; i++)
        buf_addf(b, "%s%s", i ? ", " : "", keys[i]->expr);
    buf_adds(b, "), ()) ORDER BY 1");
    for (int i = 0; i < n; i++)
        buf_addf(b, ", %s", keys[i]->order);
}

struct spend_ctx {
    struct out *o;
    int nkeys;
};

static int spend_row(void *arg, const PGresult *res, int row)
{
    struct spend_ctx *s = arg;
    const char *vals[OUT_MAX_COLS];

    db_values(res, row, 1, vals, s->nkeys + NVALUES);
    if (strcmp(PQgetvalue(res, row, 0), "0") == 0)
        return out_row(s->o, vals);
    return out_total(s->o, vals, (size_t)s->nkeys);
}

/* A totals row comes back from the query whatever the caller wants. */
static int spend_row_no_total(void *arg, const PGresult *res, int row)
{
    if (strcmp(PQgetvalue(res, row, 0), "0") != 0)
        return 0;
    return spend_row(arg, res, row);
}

int spend_run(struct pg_conn *c, const struct spend_query *q,
              enum out_format fmt, int totals, FILE *fp, char *err,
              int *errnum)
{
    const struct spend_by *by = q->by;
    const struct spend_dim *keys[SPEND_MAX_DIMS + 2];
    struct out_col cols[OUT_MAX_COLS];
    struct buf sql = BUF_INIT(16384);
    struct spend_ctx s = {NULL, key_dims(by, keys)};
    int grain = GRAIN_MONTH, st;
    const char *params[4];

    for (int i = 0; i < s.nkeys; i++) {
        cols[i].name = keys[i]->column;
        cols[i].type = OUT_TEXT;
        if (keys[i]->grain > grain)
            grain = keys[i]->grain;
    }
    memcpy(cols + s.nkeys, value_cols, sizeof(value_cols));
    build_sql(&sql, keys, s.nkeys, has_dim(by, "api_key"), q->group != NULL);
    params[0] = q->from;
    params[1] = q->to;
    params[2] = grain_names[grain];
    params[3] = q->group;
    s.o = out_new(fmt, fp, cols, (size_t)(s.nkeys + NVALUES));
    out_set_null(s.o, "(none)");
    st = out_begin(s.o) < 0 ? -2 : 0;
    if (st == 0)
        st = db_stream(c, sql.ptr, q->group ? 4 : 3, params,
                       totals ? spend_row : spend_row_no_total, &s, err);
    if (st == DB_ESTOP || (st == 0 && out_end(s.o) < 0))
        st = -2;
    *errnum = out_errno(s.o);
    out_free(s.o);
    buf_release(&sql);
    return st;
}
