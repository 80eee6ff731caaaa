/* aigw-report: usage and spend reports over the usage ledger.
 *
 *   aigw-report [--db CONNINFO] spend --by api_key|user|group|model
 *               --from DATE --to DATE [--format table|csv|json]
 *
 * Aggregation happens in SQL over usage_events for the half-open period
 * [from, to), in UTC. cost_usd is the exact pico-USD sum rounded half away
 * from zero to 6 decimals by PostgreSQL numeric arithmetic, never through a
 * double. Exit status: 0 ok, 1 failure, 2 usage. */
#include "cli.h"
#include "db.h"
#include "out.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PROG "aigw-report"

static const char help_main[] =
    "usage: " PROG " [--db CONNINFO] spend --by api_key|user|group|model\n"
    "                   --from DATE --to DATE [--format table|csv|json]\n"
    "\n"
    "Commands:\n"
    "  spend   requests, tokens and cost per API key, user, group or model\n"
    "  rollup  fold new usage events into the daily rollup (cron)\n"
    "\n"
    "Options:\n"
    "  --db CONNINFO  libpq connection string or URI (default: the PGHOST,\n"
    "                 PGPORT, PGDATABASE, PGUSER ... environment);\n"
    "                 connect_timeout is 5 s unless set there\n"
    "  -h, --help     help; '" PROG " spend --help' for the command\n"
    "\n"
    "Exit status: 0 ok, 1 failure (database error), 2 usage error.\n";

static const char help_rollup[] =
    "usage: " PROG " [--db CONNINFO] rollup\n"
    "\n"
    "Adds the usage events committed since the last run to the daily\n"
    "rollup that spend reads (with the not-yet-rolled tail, so reports are\n"
    "exact whenever it last ran). Idempotent and safe to run concurrently;\n"
    "run it from cron every few minutes (conf/aigw-cron.example).\n";

static const char help_spend[] =
    "usage: " PROG " [--db CONNINFO] spend --by api_key|user|group|model\n"
    "                   (--from DATE --to DATE | --month YYYY-MM)\n"
    "                   [--format table|csv|json]\n"
    "\n"
    "Sums usage_events with from <= ts < to. DATE is YYYY-MM-DD (00:00 UTC)\n"
    "or an RFC 3339 timestamp such as 2025-01-31T12:00:00Z or\n"
    "2025-01-31T13:00:00+01:00. One row per key, ascending (text in byte\n"
    "order, no key last); --by model groups by the served model, else the\n"
    "requested one.\n"
    "\n"
    "Columns: KEY [user_id group_id, for api_key], requests, prompt_tokens,\n"
    "completion_tokens, total_tokens, cost_usd, unpriced_requests.\n"
    "cost_usd covers priced requests (exact, rounded to 6 decimals);\n"
    "unpriced_requests had no price for their model. The table (default)\n"
    "ends with a TOTAL line and shows a missing key as (none); CSV has a\n"
    "header row and LF line ends, an empty field for no key; JSON is an\n"
    "array of objects whose counts and cost_usd are numbers (cost_usd with\n"
    "exactly the 6 decimals above), null for no key.\n";

/* Sums over aigw_usage_between() (sql/0005): the daily rollup plus the
 * not-yet-rolled tail for whole days, ledger rows for partial days. */
#define SPEND_AGG                                                              \
    "coalesce(sum(u.requests), 0) AS requests, "                               \
    "coalesce(sum(u.prompt_tokens), 0) AS prompt_tokens, "                     \
    "coalesce(sum(u.completion_tokens), 0) AS completion_tokens, "             \
    "coalesce(sum(u.total_tokens), 0) AS total_tokens, "                       \
    "round(coalesce(sum(u.cost_pusd), 0) * 0.000000000001, 6) AS cost_usd, "   \
    "coalesce(sum(u.unpriced_requests), 0) AS unpriced_requests "

/* Column 1 flags the grand-total row of the empty grouping set, which
 * sorts last; key text orders bytewise (COLLATE "C") whatever the
 * database's locale. $1 and $2 are the period's bounds. */
#define SPEND_SQL(keys, join, group, order)                                    \
    "SELECT (GROUPING(" group ") <> 0)::int, " keys ", " SPEND_AGG             \
    "FROM aigw_usage_between($1::timestamptz, $2::timestamptz) u " join       \
    "GROUP BY GROUPING SETS ((" group "), ()) ORDER BY 1, " order

#define MODEL "u.model"

#define SPEND_COLS                                                             \
    {"requests", OUT_INT}, {"prompt_tokens", OUT_INT},                         \
        {"completion_tokens", OUT_INT}, {"total_tokens", OUT_INT},             \
        {"cost_usd", OUT_DECIMAL}, { "unpriced_requests", OUT_INT }

static const struct out_col cols_api_key[] = {
    {"api_key_id", OUT_TEXT}, {"user_id", OUT_TEXT}, {"group_id", OUT_TEXT},
    SPEND_COLS};
static const struct out_col cols_user[] = {{"user_id", OUT_TEXT}, SPEND_COLS};
static const struct out_col cols_group[] = {{"group_id", OUT_TEXT},
                                            SPEND_COLS};
static const struct out_col cols_model[] = {{"model", OUT_TEXT}, SPEND_COLS};

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct spend_by {
    const char *name;           /* --by value */
    const char *sql;
    const struct out_col *cols;
    int ncols, nkeys;           /* output columns; those naming the key */
} spend_bys[] = {
    {"api_key",
     SPEND_SQL("u.api_key_id::text, k.user_id, k.group_id",
               "LEFT JOIN api_keys k ON k.id = u.api_key_id ",
               "u.api_key_id, k.user_id, k.group_id", "u.api_key_id"),
     cols_api_key, NCOLS(cols_api_key), 3},
    {"user", SPEND_SQL("u.user_id", "", "u.user_id", "u.user_id COLLATE \"C\""),
     cols_user, NCOLS(cols_user), 1},
    {"group",
     SPEND_SQL("u.group_id", "", "u.group_id", "u.group_id COLLATE \"C\""),
     cols_group, NCOLS(cols_group), 1},
    {"model", SPEND_SQL(MODEL, "", MODEL, MODEL " COLLATE \"C\""), cols_model,
     NCOLS(cols_model), 1},
};

struct spend_args {
    const char *db;
    const struct spend_by *by;
    enum out_format fmt;
    char from[CLI_TIME_MAX], to[CLI_TIME_MAX];
};

struct spend_ctx {
    struct out *o;
    const struct spend_by *by;
};

static int spend_row(void *arg, const PGresult *res, int row)
{
    struct spend_ctx *s = arg;
    const char *vals[OUT_MAX_COLS];

    db_values(res, row, 1, vals, s->by->ncols);
    if (strcmp(PQgetvalue(res, row, 0), "0") == 0)
        return out_row(s->o, vals);
    vals[0] = "TOTAL";
    for (int i = 1; i < s->by->nkeys; i++)
        vals[i] = "";
    out_total(s->o, vals);
    return 0;
}

static int spend(PGconn *c, const struct spend_args *a)
{
    const char *params[2] = {a->from, a->to};
    struct spend_ctx s = {NULL, a->by};
    char err[DB_ERR_LEN];
    int rc = CLI_FAIL, st;

    s.o = out_new(a->fmt, stdout, a->by->cols, (size_t)a->by->ncols);
    out_set_null(s.o, "(none)");
    if (out_begin(s.o) < 0)
        goto write_error;
    st = db_stream(c, a->by->sql, 2, params, spend_row, &s, err);
    if (st == DB_EFAIL) {
        fprintf(stderr, PROG ": spend query failed: %s\n", err);
        goto out;
    }
    if (st == 0 && out_end(s.o) == 0) {
        rc = CLI_OK;
        goto out;
    }
write_error:
    fprintf(stderr, PROG ": cannot write the report: %s\n",
            strerror(out_errno(s.o)));
out:
    out_free(s.o);
    return rc;
}

static int parse_by(const char *v, struct spend_args *a)
{
    for (size_t i = 0; i < sizeof(spend_bys) / sizeof(spend_bys[0]); i++) {
        if (strcmp(v, spend_bys[i].name) == 0) {
            a->by = &spend_bys[i];
            return CLI_OK;
        }
    }
    return cli_usage("spend", "invalid --by value '%s' (expected api_key, user, "
                 "group or model)", v);
}

/* Validates --from and --to and the order of the period. */
static int parse_period(const char *from, const char *to,
                        struct spend_args *a)
{
    struct cli_time f, t;

    if (cli_parse_time(from, &f, a->from) < 0)
        return cli_usage("spend", "invalid --from value '%s' (expected "
                     "YYYY-MM-DD or an RFC 3339 timestamp)", from);
    if (cli_parse_time(to, &t, a->to) < 0)
        return cli_usage("spend", "invalid --to value '%s' (expected "
                     "YYYY-MM-DD or an RFC 3339 timestamp)", to);
    if (cli_time_cmp(&f, &t) >= 0)
        return cli_usage("spend", "empty period: --from %s is not before --to %s",
                     from, to);
    return CLI_OK;
}

/* --month YYYY-MM: the half-open month [YYYY-MM-01, next month). */
static int month_period(const char *v, char *from, char *to, size_t sz)
{
    int y, mo, n = 0;

    if (sscanf(v, "%4d-%2d%n", &y, &mo, &n) != 2 || v[n] != '\0' ||
        strlen(v) != 7 || y < 1 || y > 9998 || mo < 1 || mo > 12)
        return -1;
    snprintf(from, sz, "%04d-%02d-01", y, mo);
    snprintf(to, sz, "%04d-%02d-01", mo == 12 ? y + 1 : y,
             mo == 12 ? 1 : mo + 1);
    return 0;
}

static int parse_spend(int argc, char **argv, int i, struct spend_args *a)
{
    const char *by = NULL, *from = NULL, *to = NULL, *format = "table";
    const char *month = NULL;
    char mfrom[32], mto[32];
    int m, rc;

    for (; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return -1;
        if ((m = cli_opt(argc, argv, &i, "--by", &by)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--from", &from)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--to", &to)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--format", &format)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--month", &month)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--db", &a->db)) == 0)
            return cli_usage("spend", "unexpected argument '%s'", argv[i]);
        if (m < 0)
            return cli_usage("spend", "%s needs a value", argv[i]);
    }
    if (month != NULL) {
        if (from != NULL || to != NULL)
            return cli_usage("spend", "--month replaces --from and --to");
        if (month_period(month, mfrom, mto, sizeof(mfrom)) < 0)
            return cli_usage("spend", "invalid --month value '%s' (expected "
                         "YYYY-MM)", month);
        from = mfrom;
        to = mto;
    }
    if (by == NULL || from == NULL || to == NULL)
        return cli_usage("spend", "--by and a period (--from and --to, or "
                     "--month) are required");
    if ((rc = parse_by(by, a)) != CLI_OK)
        return rc;
    if (out_format_parse(format, &a->fmt) < 0)
        return cli_usage("spend", "invalid --format value '%s' (expected table, "
                     "csv or json)", format);
    return parse_period(from, to, a);
}

static int cmd_spend(const char *db, int argc, char **argv, int i)
{
    struct spend_args a;
    char err[DB_ERR_LEN];
    PGconn *c = NULL;
    int rc;

    memset(&a, 0, sizeof(a));
    a.db = db;
    rc = parse_spend(argc, argv, i, &a);
    if (rc < 0)
        return cli_help(help_spend);
    if (rc != CLI_OK)
        return rc;
    rc = db_connect(a.db, PROG, &c, err);
    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        rc = rc == DB_ECONNINFO ? CLI_USAGE : CLI_FAIL;
    } else {
        rc = spend(c, &a);
    }
    PQfinish(c);
    return rc;
}

/* rollup: folds the ledger rows committed since the last run into the
 * daily rollup (sql/0005). Idempotent; meant for cron. */
static int cmd_rollup(const char *db, int argc, char **argv, int i)
{
    char err[DB_ERR_LEN];
    PGconn *c = NULL;
    PGresult *res = NULL;
    int rc;

    for (; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return cli_help(help_rollup);
        if ((rc = cli_opt(argc, argv, &i, "--db", &db)) <= 0)
            return cli_usage("rollup", rc < 0 ? "--db needs a value"
                                          : "unexpected argument");
    }
    rc = db_connect(db, PROG, &c, err);
    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        PQfinish(c);
        return rc == DB_ECONNINFO ? CLI_USAGE : CLI_FAIL;
    }
    rc = CLI_FAIL;
    if (db_exec(c, "SELECT aigw_rollup_usage()", 0, NULL, &res, err) < 0) {
        fprintf(stderr, PROG ": rollup failed: %s\n", err);
    } else {
        fprintf(stderr, PROG ": rolled up %s usage events\n",
                PQgetvalue(res, 0, 0));
        rc = CLI_OK;
    }
    PQclear(res);
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv)
{
    const char *db = NULL;
    int i = 1, m;

    cli_prog = PROG;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (cli_is_help(argv[i]))
            return cli_help(help_main);
        if ((m = cli_opt(argc, argv, &i, "--db", &db)) == 0)
            return cli_usage(NULL, "unknown option '%s'", argv[i]);
        if (m < 0)
            return cli_usage(NULL, "--db needs a value");
    }
    if (i >= argc)
        return cli_usage(NULL, "no command given");
    if (strcmp(argv[i], "help") == 0)
        return cli_help(help_main);
    if (strcmp(argv[i], "spend") == 0)
        return cmd_spend(db, argc, argv, i + 1);
    if (strcmp(argv[i], "rollup") == 0)
        return cmd_rollup(db, argc, argv, i + 1);
    return cli_usage(NULL, "unknown command '%s'", argv[i]);
}
