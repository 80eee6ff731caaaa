/* aigw-report: chargeback reports over the usage ledger.
 *
 *   aigw-report [--db CONNINFO] spend --by DIM[,DIM...] PERIOD [--format F]
 *   aigw-report [--db CONNINFO] usage PERIOD [--format csv|json]
 *   aigw-report [--db CONNINFO] quota [SUBJECT] [--format F]
 *   aigw-report [--db CONNINFO] rollup
 *
 * Aggregation happens in SQL (sql/0010: rollups plus the live tail) for
 * the half-open period [from, to), in UTC. cost_usd is the exact pico-USD
 * sum rounded half away from zero to 6 decimals by PostgreSQL numeric
 * arithmetic, never through a double. Exit status: 0 ok, 1 failure, 2
 * usage. */
#include "cli.h"
#include "db.h"
#include "out.h"
#include "quota_cmd.h"
#include "spend.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "aigw-report"

static const char help_main[] =
    "usage: " PROG " [--db CONNINFO] <command> [options]\n"
    "\n"
    "Commands:\n"
    "  spend   requests, tokens and cost grouped by any of api_key, user,\n"
    "          group, model, provider, route, day, month\n"
    "  usage   the raw usage events of a period, streamed (audit export)\n"
    "  quota   each subject's quota: limit, used, remaining, reset time\n"
    "  rollup  fold new usage events into the hourly rollups (cron)\n"
    "\n"
    "Options:\n"
    "  --db CONNINFO  libpq connection string or URI (default: the PGHOST,\n"
    "                 PGPORT, PGDATABASE, PGUSER ... environment);\n"
    "                 connect_timeout is 5 s unless set there\n"
    "  -h, --help     help; '" PROG " COMMAND --help' for a command\n"
    "\n"
    "Exit status: 0 ok, 1 failure (database error), 2 usage error.\n";

static const char help_rollup[] =
    "usage: " PROG " [--db CONNINFO] rollup\n"
    "\n"
    "Adds the usage events committed since the last run to the hourly\n"
    "rollup (every dimension) and the daily rollup by group and model that\n"
    "spend reads, with the not-yet-rolled tail, so reports are exact\n"
    "whenever it last ran. Events are rolled by the transaction that\n"
    "inserted them, not by their time: late events (spool replays with old\n"
    "timestamps) are counted in their own hour at the next run. Idempotent\n"
    "and safe to run concurrently (runs serialize); run it from cron every\n"
    "few minutes (conf/aigw-cron.example). Prints the number of events\n"
    "folded on stderr.\n";

static const char help_spend[] =
    "usage: " PROG " [--db CONNINFO] spend --by DIM[,DIM...]\n"
    "                   (--from DATE --to DATE | --month YYYY-MM)\n"
    "                   [--group G] [--format table|csv|json] [--no-total]\n"
    "\n"
    "Sums the usage events with from <= ts < to (only group G's with\n"
    "--group). DATE is YYYY-MM-DD (00:00 UTC) or an RFC 3339 timestamp\n"
    "such as 2025-01-31T12:00:00Z or 2025-01-31T13:00:00+01:00.\n"
    "\n"
    "DIM, any combination in any order (e.g. --by group,model or\n"
    "--by month,group): api_key, user, group, model (the served model, else\n"
    "the requested one), provider, route, day (YYYY-MM-DD, UTC), month\n"
    "(YYYY-MM, UTC). api_key also shows the key's user_id and group_id from\n"
    "api_keys, unless user or group is in DIM (they then come from the\n"
    "events). One row per combination, in DIM order, ascending (text in\n"
    "byte order, no value last).\n"
    "\n"
    "Columns: the DIM columns, requests, prompt_tokens, completion_tokens,\n"
    "total_tokens, cost_usd, unpriced_requests, cost_pusd. cost_usd covers\n"
    "priced requests (exact, rounded to 6 decimals); cost_pusd is the exact\n"
    "sum in pico-USD (1e-12 USD); unpriced_requests had no price for their\n"
    "model. Every format ends with a totals row (unless --no-total): the\n"
    "sums over the whole period, rounded once. table (default): a TOTAL\n"
    "line, a missing value shown as (none); csv: a header row, LF line\n"
    "ends, an empty field for no value, a last row whose first field is\n"
    "TOTAL; json: an array of objects whose counts and costs are numbers\n"
    "(cost_usd with exactly the 6 decimals above), null for no value, the\n"
    "last object {\"total\":true, ...} with null DIM columns.\n"
    "\n"
    "Reads the rollups plus the events not rolled up yet, in one query:\n"
    "exact to the token and to the pico-USD whenever the rollup last ran.\n";

static const char help_usage[] =
    "usage: " PROG " [--db CONNINFO] usage\n"
    "                   (--from DATE --to DATE | --month YYYY-MM)\n"
    "                   [--format csv|json]\n"
    "\n"
    "Exports the raw usage events with from <= ts < to, in time order, for\n"
    "audit: streamed by PostgreSQL's COPY, so memory stays constant however\n"
    "many events the period holds. DATE as for spend.\n"
    "\n"
    "Columns: request_id, ts (RFC 3339, UTC, microseconds), api_key_id,\n"
    "user_id, group_id, route, provider, backend, requested_model,\n"
    "served_model, http_status, prompt_tokens, completion_tokens,\n"
    "total_tokens, cached_tokens, usage_source, input_per_mtok,\n"
    "output_per_mtok, cached_input_per_mtok (micro-USD per 1M tokens),\n"
    "cost_pusd (pico-USD; empty/null when unpriced), latency_ms, ttft_ms,\n"
    "stream, partial, error_type, guardrail, attempts, degraded.\n"
    "csv (default): a header row, RFC 4180 quoting, LF line ends, empty\n"
    "for NULL, booleans t/f. json: JSON Lines, one object per event.\n"
    "Prints the number of events exported on stderr.\n";

static const char help_quota[] =
    "usage: " PROG " [--db CONNINFO] quota\n"
    "                   [--group G | --user U | --api-key ID | --route R]\n"
    "                   [--format table|csv|json]\n"
    "\n"
    "Every quota limit (aigw-admin quota set) with each subject's balance\n"
    "in the current period, or only the limits that apply to one subject.\n"
    "\n"
    "Columns: subject_kind, subject ('*' for a per-subject limit no one\n"
    "has used this period), model, unit, period, limit (with this period's\n"
    "adjustments), used, reserved (in flight), remaining, resets_at (RFC\n"
    "3339, UTC), time_zone. Amounts are in the limit's unit (usd:\n"
    "micro-USD).\n";

struct period_args {
    const char *db;
    const char *group;          /* spend --group */
    enum out_format fmt;
    int totals;
    struct spend_by by;
    char from[CLI_TIME_MAX], to[CLI_TIME_MAX];
};

/* Validates --from and --to and the order of the period. */
static int parse_period(const char *cmd, const char *from, const char *to,
                        struct period_args *a)
{
    struct cli_time f, t;

    if (cli_parse_time(from, &f, a->from) < 0)
        return cli_usage(cmd, "invalid --from value '%s' (expected "
                         "YYYY-MM-DD or an RFC 3339 timestamp)", from);
    if (cli_parse_time(to, &t, a->to) < 0)
        return cli_usage(cmd, "invalid --to value '%s' (expected "
                         "YYYY-MM-DD or an RFC 3339 timestamp)", to);
    if (cli_time_cmp(&f, &t) >= 0)
        return cli_usage(cmd, "empty period: --from %s is not before --to "
                         "%s", from, to);
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

/* Parses the options of spend (cmd "spend", --by allowed) or usage.
 * Returns CLI_OK, CLI_USAGE, or -1 for --help. */
static int parse_period_cmd(const char *cmd, int argc, char **argv, int i,
                            struct period_args *a)
{
    const char *by = NULL, *from = NULL, *to = NULL, *month = NULL;
    const char *format = NULL;
    int spend = strcmp(cmd, "spend") == 0, m;
    char mfrom[32], mto[32], bad[64];

    a->totals = 1;
    for (; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return -1;
        if (spend && strcmp(argv[i], "--no-total") == 0) {
            a->totals = 0;
            continue;
        }
        if ((m = spend ? cli_opt(argc, argv, &i, "--by", &by) : 0) == 0 &&
            (m = spend ? cli_opt(argc, argv, &i, "--group", &a->group)
                       : 0) == 0 &&
            (m = cli_opt(argc, argv, &i, "--from", &from)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--to", &to)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--format", &format)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--month", &month)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--db", &a->db)) == 0)
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        if (m < 0)
            return cli_usage(cmd, "%s needs a value", argv[i]);
    }
    if (month != NULL) {
        if (from != NULL || to != NULL)
            return cli_usage(cmd, "--month replaces --from and --to");
        if (month_period(month, mfrom, mto, sizeof(mfrom)) < 0)
            return cli_usage(cmd, "invalid --month value '%s' (expected "
                             "YYYY-MM)", month);
        from = mfrom;
        to = mto;
    }
    if ((spend && by == NULL) || from == NULL || to == NULL)
        return cli_usage(cmd, "%sa period (--from and --to, or --month) "
                         "%s required", spend ? "--by and " : "",
                         spend ? "are" : "is");
    if (spend && spend_parse_by(by, &a->by, bad, sizeof(bad)) < 0)
        return cli_usage(cmd, "invalid --by value '%s' (expected a list of "
                         "api_key, user, group, model, provider, route, "
                         "day, month, each at most once)", bad);
    if (a->group != NULL && !cli_text_ok(a->group, 256))
        return cli_usage(cmd, "invalid --group value");
    if (format == NULL)
        format = spend ? "table" : "csv";
    if (out_format_parse(format, &a->fmt) < 0 ||
        (!spend && a->fmt == OUT_TABLE))
        return cli_usage(cmd, "invalid --format value '%s' (expected %s)",
                         format, spend ? "table, csv or json" : "csv or json");
    return parse_period(cmd, from, to, a);
}

/* Connects; on failure prints why and returns the exit code. */
static int connect_db(const char *db, PGconn **c)
{
    char err[DB_ERR_LEN];
    int rc = db_connect(db, PROG, c, err);

    if (rc == 0)
        return CLI_OK;
    fprintf(stderr, PROG ": %s\n", err);
    return rc == DB_ECONNINFO ? CLI_USAGE : CLI_FAIL;
}

static int cmd_spend(const char *db, int argc, char **argv, int i)
{
    struct period_args a;
    struct spend_query q;
    char err[DB_ERR_LEN];
    PGconn *c = NULL;
    int rc, errnum = 0;

    memset(&a, 0, sizeof(a));
    a.db = db;
    rc = parse_period_cmd("spend", argc, argv, i, &a);
    if (rc < 0)
        return cli_help(help_spend);
    if (rc != CLI_OK || (rc = connect_db(a.db, &c)) != CLI_OK)
        goto out;
    q.by = &a.by;
    q.from = a.from;
    q.to = a.to;
    q.group = a.group;
    rc = spend_run(c, &q, a.fmt, a.totals, stdout, err, &errnum);
    if (rc == DB_EFAIL)
        fprintf(stderr, PROG ": spend query failed: %s\n", err);
    else if (rc != 0)
        fprintf(stderr, PROG ": cannot write the report: %s\n",
                strerror(errnum ? errnum : EIO));
    rc = rc == 0 ? CLI_OK : CLI_FAIL;
out:
    PQfinish(c);
    return rc;
}

/* The ledger's columns for audit, oldest first; the ts index streams them
 * in order. %s: the period's bounds as quoted literals. */
#define USAGE_SELECT                                                           \
    "SELECT u.request_id, to_char(u.ts AT TIME ZONE 'UTC', "                   \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS ts, u.api_key_id, u.user_id, "    \
    "u.group_id, u.route, u.provider, u.backend, u.requested_model, "          \
    "u.served_model, u.http_status, u.prompt_tokens, u.completion_tokens, "    \
    "u.total_tokens, u.cached_tokens, u.usage_source, u.input_per_mtok, "      \
    "u.output_per_mtok, u.cached_input_per_mtok, u.cost_pusd, u.latency_ms, "  \
    "u.ttft_ms, u.stream, u.partial, u.error_type, u.guardrail, u.attempts, "  \
    "u.degraded "                                                              \
    "FROM usage_events u WHERE u.ts >= %s::timestamptz "                       \
    "AND u.ts < %s::timestamptz ORDER BY u.ts"

/* CSV as PostgreSQL writes it (RFC 4180, NULL empty, "" for an empty
 * string). JSON Lines: row_to_json text through CSV mode with a quote and
 * delimiter that JSON text never holds raw (it escapes control
 * characters), so each line is the JSON exactly: text mode would double
 * its backslashes. */
#define USAGE_COPY_CSV                                                         \
    "COPY (" USAGE_SELECT ") TO STDOUT WITH (FORMAT csv, HEADER)"
#define USAGE_COPY_JSON                                                        \
    "COPY (SELECT row_to_json(x) FROM (" USAGE_SELECT ") x) TO STDOUT WITH "   \
    "(FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"

static int usage_export(PGconn *c, const struct period_args *a)
{
    char *from = PQescapeLiteral(c, a->from, strlen(a->from));
    char *to = PQescapeLiteral(c, a->to, strlen(a->to));
    char err[DB_ERR_LEN], *sql = NULL;
    long long rows = 0;
    int rc = CLI_FAIL, st, n;

    if (from == NULL || to == NULL) {
        fprintf(stderr, PROG ": %s", PQerrorMessage(c));
        goto out;
    }
    n = snprintf(NULL, 0, a->fmt == OUT_CSV ? USAGE_COPY_CSV
                                            : USAGE_COPY_JSON, from, to);
    sql = malloc((size_t)n + 1);
    if (sql == NULL)
        goto out;
    snprintf(sql, (size_t)n + 1, a->fmt == OUT_CSV ? USAGE_COPY_CSV
                                                   : USAGE_COPY_JSON, from, to);
    st = db_copy_out(c, sql, stdout, &rows, err);
    if (st == 0 && fflush(stdout) == 0 && !ferror(stdout)) {
        fprintf(stderr, PROG ": exported %lld usage events\n",
                a->fmt == OUT_CSV && rows > 0 ? rows - 1 : rows);
        rc = CLI_OK;
    } else if (st == DB_EFAIL) {
        fprintf(stderr, PROG ": usage export failed: %s\n", err);
    } else {
        fprintf(stderr, PROG ": cannot write the export: %s\n",
                strerror(errno ? errno : EIO));
    }
out:
    PQfreemem(from);
    PQfreemem(to);
    free(sql);
    return rc;
}

static int cmd_usage(const char *db, int argc, char **argv, int i)
{
    struct period_args a;
    PGconn *c = NULL;
    int rc;

    memset(&a, 0, sizeof(a));
    a.db = db;
    rc = parse_period_cmd("usage", argc, argv, i, &a);
    if (rc < 0)
        return cli_help(help_usage);
    if (rc == CLI_OK && (rc = connect_db(a.db, &c)) == CLI_OK)
        rc = usage_export(c, &a);
    PQfinish(c);
    return rc;
}

static const struct out_col quota_cols[] = {
    {"subject_kind", OUT_TEXT}, {"subject", OUT_TEXT}, {"model", OUT_TEXT},
    {"unit", OUT_TEXT},         {"period", OUT_TEXT},  {"limit", OUT_INT},
    {"used", OUT_INT},          {"reserved", OUT_INT}, {"remaining", OUT_INT},
    {"resets_at", OUT_TEXT},    {"time_zone", OUT_TEXT}};
#define NQUOTA_COLS (sizeof(quota_cols) / sizeof(quota_cols[0]))

static int quota_row(void *arg, const PGresult *res, int row)
{
    const char *vals[OUT_MAX_COLS];

    db_values(res, row, 0, vals, (int)NQUOTA_COLS);
    return out_row(arg, vals);
}

/* The limits and balances, as aigw-admin quota list/show reads them. */
static int quota_report(PGconn *c, const char *kind, const char *subject,
                        enum out_format fmt)
{
    const char *params[2] = {kind, subject};
    struct out *o = out_new(fmt, stdout, quota_cols, NQUOTA_COLS);
    char err[DB_ERR_LEN];
    int rc = CLI_FAIL, st = 0;

    if (out_begin(o) == 0)
        st = db_stream(c, quota_show_sql, 2, params, quota_row, o, err);
    if (st == DB_EFAIL)
        fprintf(stderr, PROG ": quota query failed: %s\n", err);
    else if (st == 0 && out_errno(o) == 0 && out_end(o) == 0)
        rc = CLI_OK;
    else
        fprintf(stderr, PROG ": cannot write the report: %s\n",
                strerror(out_errno(o) ? out_errno(o) : EIO));
    out_free(o);
    return rc;
}

static int cmd_quota(const char *db, int argc, char **argv, int i)
{
    static const char *const kinds[][2] = {{"--group", "group"},
                                           {"--user", "user"},
                                           {"--api-key", "api_key"},
                                           {"--route", "route"}};
    const char *kind = NULL, *subject = NULL, *format = "table", *v;
    enum out_format fmt;
    PGconn *c = NULL;
    int rc, m;

    for (; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return cli_help(help_quota);
        for (size_t k = 0; k < 4; k++) {
            if ((m = cli_opt(argc, argv, &i, kinds[k][0], &v)) == 0)
                continue;
            if (m < 0 || !cli_text_ok(v, 128))
                return cli_usage("quota", "%s needs a value", kinds[k][0]);
            if (kind != NULL)
                return cli_usage("quota", "one subject at most");
            kind = kinds[k][1];
            subject = v;
            goto next;
        }
        if ((m = cli_opt(argc, argv, &i, "--format", &format)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--db", &db)) == 0)
            return cli_usage("quota", "unexpected argument '%s'", argv[i]);
        if (m < 0)
            return cli_usage("quota", "%s needs a value", argv[i]);
next:;
    }
    if (out_format_parse(format, &fmt) < 0)
        return cli_usage("quota", "invalid --format value '%s' (expected "
                         "table, csv or json)", format);
    if ((rc = connect_db(db, &c)) == CLI_OK)
        rc = quota_report(c, kind, subject, fmt);
    PQfinish(c);
    return rc;
}

/* rollup: folds the ledger rows committed since the last run into the
 * hourly and daily rollups (sql/0010). Idempotent; meant for cron. */
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
    if (db_exec(c, "SELECT aigw_rollup_hourly()", 0, NULL, &res, err) < 0) {
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
    if (strcmp(argv[i], "usage") == 0)
        return cmd_usage(db, argc, argv, i + 1);
    if (strcmp(argv[i], "quota") == 0)
        return cmd_quota(db, argc, argv, i + 1);
    return cli_usage(NULL, "unknown command '%s'", argv[i]);
}
