#include "quota_cmd.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"

#define PROG "aigw-admin"

static const char help_quota[] =
    "usage: " PROG " [--db CONNINFO] quota <command> SUBJECT [options]\n"
    "\n"
    "SUBJECT: --group G | --user U | --api-key ID | --route R | --all\n"
    "         (G, U, ID or R may be '*': each one separately)\n"
    "\n"
    "Commands:\n"
    "  quota set SUBJECT --limit N [--unit U] [--period P] [--model M]\n"
    "            [--tz ZONE]    create or change a limit\n"
    "  quota add SUBJECT --amount N [--unit U] [--period P] [--model M]\n"
    "            raise (negative: lower) the current period's allowance\n"
    "  quota reset SUBJECT [--unit U] [--period P] [--model M]\n"
    "            zero the current period's usage and adjustments\n"
    "  quota delete SUBJECT [--unit U] [--period P] [--model M]\n"
    "  quota show SUBJECT       limits, used, remaining, reset time\n"
    "  quota list               every limit with this period's balances\n"
    "\n"
    "U: requests, input_tokens, output_tokens, total_tokens (default),\n"
    "   weighted_tokens (the gateway's quotas.weights and model_multipliers)\n"
    "   or usd (N in dollars, e.g. 12.50; stored and shown as micro-USD)\n"
    "P: minute, hour, day, week, month (default); calendar periods in ZONE\n"
    "   (an IANA time zone, default UTC), starting by themselves\n"
    "\n"
    "Exit status: 0 ok, 1 failure (database error, no such limit), 2 usage.\n";

static const char sql_admin[] =
    "SELECT aigw_quota_admin($1, $2, $3, $4, $5, $6, $7, $8::bigint, $9, "
    "now())";

const char quota_show_sql[] =
    "SELECT l.subject_kind, coalesce(q.subject, l.subject), l.model, l.unit,"
    " l.period, l.limit_value + coalesce(q.adjust, 0), coalesce(q.used, 0),"
    " coalesce(q.reserved, 0), greatest(l.limit_value + coalesce(q.adjust, 0)"
    " - coalesce(q.used, 0) - coalesce(q.reserved, 0), 0), "
    "to_char(b.pe AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "l.time_zone FROM quota_limits l "
    "CROSS JOIN LATERAL aigw_period_bounds(l.period, now(), l.time_zone) b "
    "LEFT JOIN quota_periods q ON q.limit_id = l.id AND q.period_start = b.ps"
    " AND (l.subject <> '*' OR $2::text IS NULL OR q.subject = $2) "
    "AND (l.subject = '*' OR q.subject = l.subject) "
    "WHERE ($1::text IS NULL OR l.subject_kind = $1) "
    "AND ($2::text IS NULL OR l.subject IN ('*', $2)) "
    "ORDER BY l.id, 2";

struct qopts {
    const char *kind, *subject, *model, *unit, *period, *value, *tz;
};

static int usage_err(const char *what, const char *arg)
{
    fprintf(stderr, PROG ": %s%s\nTry '" PROG " quota --help'.\n", what,
            arg);
    return CLI_USAGE;
}

static int parse(int argc, char **argv, int i, struct qopts *o)
{
    static const char *const kinds[][2] = {
        { "--group", "group" }, { "--user", "user" },
        { "--api-key", "api_key" }, { "--route", "route" } };
    const char *v;
    int m;

    for (; i < argc; i++) {
        int done = 0;

        if (strcmp(argv[i], "--all") == 0) {
            o->kind = "all";
            o->subject = "*";
            continue;
        }
        for (size_t k = 0; k < 4 && !done; k++)
            if ((m = cli_opt(argc, argv, &i, kinds[k][0], &v)) != 0) {
                if (m < 0 || !cli_text_ok(v, 128))
                    return usage_err("a subject option needs a value: ",
                                     kinds[k][0]);
                o->kind = kinds[k][1];
                o->subject = v;
                done = 1;
            }
        if (done)
            continue;
        if ((m = cli_opt(argc, argv, &i, "--model", &o->model)) ||
            (m = cli_opt(argc, argv, &i, "--unit", &o->unit)) ||
            (m = cli_opt(argc, argv, &i, "--period", &o->period)) ||
            (m = cli_opt(argc, argv, &i, "--limit", &o->value)) ||
            (m = cli_opt(argc, argv, &i, "--amount", &o->value)) ||
            (m = cli_opt(argc, argv, &i, "--tz", &o->tz))) {
            if (m < 0)
                return usage_err("option needs a value: ", argv[i]);
            continue;
        }
        return usage_err("unknown option: ", argv[i]);
    }
    return 0;
}

static int valid_number(const char *s)
{
    char *end;

    if (s == NULL || *s == '\0')
        return 0;
    (void)strtoll(s, &end, 10);
    return *end == '\0';
}

/* usd: dollars ("12.5", "-3") into micro-USD in out; 0, or -1 */
static int dollars_to_micro(const char *s, char *out, size_t outsz)
{
    char *end;
    double d;

    if (s == NULL || *s == '\0')
        return -1;
    d = strtod(s, &end);
    if (*end != '\0' || d > 9e12 || d < -9e12)
        return -1;
    snprintf(out, outsz, "%lld", (long long)(d * 1e6 + (d < 0 ? -0.5 : 0.5)));
    return 0;
}

static int change(PGconn *c, const char *action, const struct qopts *o)
{
    char actor[160], err[DB_ERR_LEN];
    const char *user = getenv("USER");
    const char *p[9];
    PGresult *res;

    snprintf(actor, sizeof(actor), "cli:%s", user ? user : "unknown");
    p[0] = actor;
    p[1] = action;
    p[2] = o->kind;
    p[3] = o->subject;
    p[4] = o->model;
    p[5] = o->unit;
    p[6] = o->period;
    p[7] = o->value ? o->value : "0";
    p[8] = o->tz;
    if (db_exec(c, sql_admin, 9, p,
                &res, err) < 0) {
        fprintf(stderr, PROG ": quota %s: %s\n", action, err);
        return CLI_FAIL;
    }
    printf("quota %s: %s %s model %s %s per %s%s%s (limit id %s)\n", action,
           o->kind, o->subject, o->model, o->unit, o->period,
           o->value ? ": " : "", o->value ? o->value : "",
           PQgetvalue(res, 0, 0));
    PQclear(res);
    return CLI_OK;
}

static int show(PGconn *c, const struct qopts *o)
{
    char err[DB_ERR_LEN];
    const char *p[2] = { o->kind, o->subject };
    PGresult *res;

    if (db_exec(c, quota_show_sql, 2, p,
                &res, err) < 0) {
        fprintf(stderr, PROG ": quota show: %s\n", err);
        return CLI_FAIL;
    }
    printf("%-8s %-24s %-12s %-13s %-6s %12s %12s %10s %12s  %s\n", "KIND",
           "SUBJECT", "MODEL", "UNIT", "PERIOD", "LIMIT", "USED", "RESERVED",
           "REMAINING", "RESETS_AT");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-8s %-24s %-12s %-13s %-6s %12s %12s %10s %12s  %s (%s)\n",
               PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
               PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
               PQgetvalue(res, i, 8), PQgetvalue(res, i, 9),
               PQgetvalue(res, i, 10));
    PQclear(res);
    return fflush(stdout) == EOF ? CLI_FAIL : CLI_OK;
}

int quota_main(const char *conninfo, int argc, char **argv, int i)
{
    struct qopts o = { NULL, NULL, "*", "total_tokens", "month", NULL, NULL };
    const char *cmd;
    char err[DB_ERR_LEN], micro[32];
    PGconn *c = NULL;
    int rc, list;

    if (i >= argc || cli_is_help(argv[i])) {
        fputs(help_quota, i >= argc ? stderr : stdout);
        return i >= argc ? CLI_USAGE : CLI_OK;
    }
    cmd = argv[i++];
    list = strcmp(cmd, "list") == 0;
    if (i < argc && cli_is_help(argv[i])) {
        fputs(help_quota, stdout);
        return CLI_OK;
    }
    if ((rc = parse(argc, argv, i, &o)) != 0)
        return rc;
    if (!list && strcmp(cmd, "show") != 0 && o.kind == NULL)
        return usage_err("needs a subject (--group G, ...): quota ", cmd);
    if (o.value != NULL && strcmp(o.unit, "usd") == 0) {
        if (dollars_to_micro(o.value, micro, sizeof(micro)) < 0)
            return usage_err("usd needs dollars (e.g. 12.50): ", o.value);
        o.value = micro;
    }
    if ((strcmp(cmd, "set") == 0 || strcmp(cmd, "add") == 0) &&
        !valid_number(o.value))
        return usage_err("needs a number (--limit N / --amount N): quota ",
                         cmd);
    if (!list && strcmp(cmd, "show") != 0 && strcmp(cmd, "set") != 0 &&
        strcmp(cmd, "add") != 0 && strcmp(cmd, "reset") != 0 &&
        strcmp(cmd, "delete") != 0)
        return usage_err("unknown quota command: ", cmd);
    if (db_connect(conninfo, PROG, &c, err) < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return CLI_FAIL;
    }
    if (list) {
        o.kind = NULL;
        o.subject = NULL;
    }
    rc = list || strcmp(cmd, "show") == 0 ? show(c, &o) : change(c, cmd, &o);
    PQfinish(c);
    return rc;
}
