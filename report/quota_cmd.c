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
    "            [--tz ZONE] [DEGRADE]   create or change a limit\n"
    "  quota set SUBJECT DEGRADE [--unit U] [--period P] [--model M]\n"
    "            change only the degrade settings of an existing limit\n"
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
    "DEGRADE (degrade before the wall): from PCT% of the period's balance\n"
    "   on, requests are served by a cheaper model and/or with max_tokens\n"
    "   capped instead of being refused at 100%:\n"
    "     --degrade-at PCT [--degrade-model M] [--degrade-max-tokens N]\n"
    "     (PCT 1-100, with a model and/or N), or --no-degrade to clear\n"
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
    "l.time_zone, l.degrade_pct, coalesce(l.degrade_model, ''), "
    "coalesce(l.degrade_max_tokens::text, '') FROM quota_limits l "
    "CROSS JOIN LATERAL aigw_period_bounds(l.period, now(), l.time_zone) b "
    "LEFT JOIN quota_periods q ON q.limit_id = l.id AND q.period_start = b.ps"
    " AND (l.subject <> '*' OR $2::text IS NULL OR q.subject = $2) "
    "AND (l.subject = '*' OR q.subject = l.subject) "
    "WHERE ($1::text IS NULL OR l.subject_kind = $1) "
    "AND ($2::text IS NULL OR l.subject IN ('*', $2)) "
    "ORDER BY l.id, 2";

struct qopts {
    const char *kind, *subject, *model, *unit, *period, *value, *tz;
    /* degrade before the wall (sql/0013): set when pct is given */
    const char *degrade_pct, *degrade_model, *degrade_max;
    int no_degrade;
};

static const char sql_degrade[] =
    "SELECT aigw_quota_degrade($1, $2, $3, $4, $5, $6, $7::int, $8, "
    "$9::bigint)";

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

        if (strcmp(argv[i], "--no-degrade") == 0) {
            o->no_degrade = 1;
            continue;
        }
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
            (m = cli_opt(argc, argv, &i, "--tz", &o->tz)) ||
            (m = cli_opt(argc, argv, &i, "--degrade-at", &o->degrade_pct)) ||
            (m = cli_opt(argc, argv, &i, "--degrade-model",
                         &o->degrade_model)) ||
            (m = cli_opt(argc, argv, &i, "--degrade-max-tokens",
                         &o->degrade_max))) {
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

/* The degrade options: 0 (none given), 1 (set or clear), or CLI_USAGE
 * after a message. */
static int check_degrade(const struct qopts *o)
{
    char *end;
    long v;

    if (o->degrade_pct == NULL && o->degrade_model == NULL &&
        o->degrade_max == NULL)
        return o->no_degrade;
    if (o->no_degrade)
        return usage_err("--no-degrade goes alone, without ", "--degrade-*");
    if (o->degrade_pct == NULL)
        return usage_err("--degrade-model and --degrade-max-tokens need ",
                         "--degrade-at PCT");
    v = strtol(o->degrade_pct, &end, 10);
    if (*o->degrade_pct == '\0' || *end != '\0' || v < 1 || v > 100)
        return usage_err("--degrade-at needs a share 1-100: ",
                         o->degrade_pct);
    if (o->degrade_model == NULL && o->degrade_max == NULL)
        return usage_err("--degrade-at needs --degrade-model M and/or ",
                         "--degrade-max-tokens N");
    if (o->degrade_model != NULL && !cli_text_ok(o->degrade_model, 128))
        return usage_err("--degrade-model needs a model name: ",
                         o->degrade_model);
    if (o->degrade_max != NULL) {
        v = strtol(o->degrade_max, &end, 10);
        if (*o->degrade_max == '\0' || *end != '\0' || v < 1 ||
            v > 10000000)
            return usage_err("--degrade-max-tokens needs 1-10000000: ",
                             o->degrade_max);
    }
    return 1;
}

static void actor_of(char *actor, size_t sz)
{
    const char *user = getenv("USER");

    snprintf(actor, sz, "cli:%s", user ? user : "unknown");
}

static int degrade(PGconn *c, const struct qopts *o)
{
    char actor[160], err[DB_ERR_LEN];
    const char *p[9];
    PGresult *res;

    actor_of(actor, sizeof(actor));
    p[0] = actor;
    p[1] = o->kind;
    p[2] = o->subject;
    p[3] = o->model;
    p[4] = o->unit;
    p[5] = o->period;
    p[6] = o->no_degrade ? NULL : o->degrade_pct;
    p[7] = o->no_degrade ? NULL : o->degrade_model;
    p[8] = o->no_degrade ? NULL : o->degrade_max;
    if (db_exec(c, sql_degrade, 9, p, &res, err) < 0) {
        fprintf(stderr, PROG ": quota set: %s\n", err);
        return CLI_FAIL;
    }
    if (o->no_degrade)
        printf("quota degrade: %s %s model %s %s per %s: off (limit id %s)\n",
               o->kind, o->subject, o->model, o->unit, o->period,
               PQgetvalue(res, 0, 0));
    else
        printf("quota degrade: %s %s model %s %s per %s: from %s%% to "
               "model %s, max_tokens %s (limit id %s)\n", o->kind,
               o->subject, o->model, o->unit, o->period, o->degrade_pct,
               o->degrade_model ? o->degrade_model : "(kept)",
               o->degrade_max ? o->degrade_max : "(not capped)",
               PQgetvalue(res, 0, 0));
    PQclear(res);
    return CLI_OK;
}

/* set with --limit and DEGRADE: both or neither (one transaction) */
static int set_both(PGconn *c, const struct qopts *o);

static int change(PGconn *c, const char *action, const struct qopts *o)
{
    char actor[160], err[DB_ERR_LEN];
    const char *p[9];
    PGresult *res;

    actor_of(actor, sizeof(actor));
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

static int set_both(PGconn *c, const struct qopts *o)
{
    char err[DB_ERR_LEN];
    PGresult *res;
    int rc;

    if (db_exec(c, "BEGIN", 0, NULL, &res, err) < 0) {
        fprintf(stderr, PROG ": quota set: %s\n", err);
        return CLI_FAIL;
    }
    PQclear(res);
    rc = change(c, "set", o);
    if (rc == CLI_OK)
        rc = degrade(c, o);
    if (db_exec(c, rc == CLI_OK ? "COMMIT" : "ROLLBACK", 0, NULL, &res,
                err) < 0) {
        fprintf(stderr, PROG ": quota set: %s\n", err);
        return CLI_FAIL;
    }
    PQclear(res);
    return rc;
}

/* "50%>mini,max=256": the degrade settings of a limit, "-" when off */
static void degrade_text(const PGresult *res, int i, char *out, size_t sz)
{
    const char *pct = PQgetvalue(res, i, 11), *m = PQgetvalue(res, i, 12);
    const char *mx = PQgetvalue(res, i, 13);

    if (PQgetisnull(res, i, 11)) {
        snprintf(out, sz, "-");
        return;
    }
    snprintf(out, sz, "%s%%%s%s%s%s", pct, *m ? ">" : "", m,
             *mx ? ",max=" : "", mx);
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
    printf("%-8s %-24s %-12s %-13s %-6s %12s %12s %10s %12s  %s  %s\n",
           "KIND", "SUBJECT", "MODEL", "UNIT", "PERIOD", "LIMIT", "USED",
           "RESERVED", "REMAINING", "RESETS_AT", "DEGRADE");
    for (int i = 0; i < PQntuples(res); i++) {
        char deg[200];

        degrade_text(res, i, deg, sizeof(deg));
        printf("%-8s %-24s %-12s %-13s %-6s %12s %12s %10s %12s  %s (%s)  "
               "%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
               PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
               PQgetvalue(res, i, 8), PQgetvalue(res, i, 9),
               PQgetvalue(res, i, 10), deg);
    }
    PQclear(res);
    return fflush(stdout) == EOF ? CLI_FAIL : CLI_OK;
}

int quota_main(const char *conninfo, int argc, char **argv, int i)
{
    struct qopts o = { .model = "*", .unit = "total_tokens",
                       .period = "month" };
    const char *cmd;
    char err[DB_ERR_LEN], micro[32];
    PGconn *c = NULL;
    int rc, list, deg;

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
    if ((deg = check_degrade(&o)) == CLI_USAGE)
        return CLI_USAGE;
    if (deg && strcmp(cmd, "set") != 0)
        return usage_err("degrade options go with quota set, not ", cmd);
    if (((strcmp(cmd, "set") == 0 && !(deg && o.value == NULL)) ||
         strcmp(cmd, "add") == 0) && !valid_number(o.value))
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
    if (list || strcmp(cmd, "show") == 0)
        rc = show(c, &o);
    else if (deg)             /* quota set with DEGRADE, --limit or not */
        rc = o.value != NULL ? set_both(c, &o) : degrade(c, &o);
    else
        rc = change(c, cmd, &o);
    PQfinish(c);
    return rc;
}
