/* aigw-admin: API key administration for shells and cron.
 *
 *   aigw-admin [--db CONNINFO] key create --user U --group G [--name N]
 *   aigw-admin [--db CONNINFO] key list [--all] [--format table|csv|json]
 *   aigw-admin [--db CONNINFO] key revoke API_KEY_ID
 *
 * A new key's secret is printed once on stdout and never stored: the
 * database keeps its SHA-256 and a masked hint. Exit status: 0 ok,
 * 1 failure (database, not found), 2 usage. */
#include "../fcgi/apikey.h"
#include "cli.h"
#include "db.h"
#include "out.h"
#include "quota_cmd.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PROG "aigw-admin"
#define TEXT_MAX 256        /* bytes in a user, group or key name */

static const char help_main[] =
    "usage: " PROG " [--db CONNINFO] key <command> [options]\n"
    "\n"
    "Commands:\n"
    "  key create --user USER --group GROUP [--name NAME] [--org ORG]\n"
    "             [--expires TIME] [--models LIST] [--routes LIST]\n"
    "             [--metadata JSON] [--admin]\n"
    "        create an API key; prints its secret once, on stdout\n"
    "  key list [--all] [--format table|csv|json]\n"
    "        list active keys (--all: revoked keys too)\n"
    "  key revoke API_KEY_ID\n"
    "        revoke a key now\n"
    "  quota set|add|reset|delete|show|list ...\n"
    "        token quotas and rate limits, degrade before the wall\n"
    "        ('quota --help')\n"
    "\n"
    "Options:\n"
    "  --db CONNINFO  libpq connection string or URI (default: the PGHOST,\n"
    "                 PGPORT, PGDATABASE, PGUSER ... environment);\n"
    "                 connect_timeout is 5 s unless set there\n"
    "  -h, --help     help; '" PROG " key create --help' for a command\n"
    "\n"
    "Exit status: 0 ok, 1 failure (database error, no such key), 2 usage.\n";

static const char help_key[] =
    "usage: " PROG " [--db CONNINFO] key create|list|revoke [options]\n"
    "Run '" PROG " key <command> --help' for a command's options.\n";

static const char help_create[] =
    "usage: " PROG " [--db CONNINFO] key create --user USER --group GROUP\n"
    "                  [--name NAME] [--org ORG] [--expires TIME]\n"
    "                  [--models M1,M2] [--routes R1,R2]\n"
    "                  [--metadata JSON] [--admin]\n"
    "\n"
    "Creates an API key for USER in GROUP. The secret (sk-aigw-...) is\n"
    "printed once on stdout and cannot be recovered: only its SHA-256 and a\n"
    "masked hint are stored. stderr gets:\n"
    "  created api key <uuid> (<hint>) for user USER group GROUP\n"
    "USER, GROUP and NAME: 1-256 bytes, no control characters.\n"
    "  --org ORG        the owning organisation\n"
    "  --expires TIME   the key stops working then (any PostgreSQL\n"
    "                   timestamp, e.g. 2027-01-01T00:00:00Z)\n"
    "  --models LIST    the only models the key may use (names or globs)\n"
    "  --routes LIST    the only routes (by name) the key may use\n"
    "  --metadata JSON  a JSON object kept with the key (\"plan\": the\n"
    "                   key's plan tier, see plans in the config)\n"
    "  --admin          the key holds the admin role\n";

static const char help_list[] =
    "usage: " PROG " [--db CONNINFO] key list [--all]\n"
    "                  [--format table|csv|json]\n"
    "\n"
    "Lists API keys, oldest first: id, hint, name, user_id, group_id,\n"
    "created_at, revoked_at (UTC, YYYY-MM-DDTHH:MM:SSZ). Only keys not\n"
    "revoked unless --all. Default format: table. CSV has a header row and\n"
    "LF line ends; JSON is an array of objects with null for no value.\n";

static const char help_revoke[] =
    "usage: " PROG " [--db CONNINFO] key revoke API_KEY_ID\n"
    "\n"
    "Sets revoked_at of the active key API_KEY_ID (a UUID, as listed by\n"
    "'key list') to now. Exits 1 if there is no such active key.\n";

static const struct out_col key_cols[] = {
    {"id", OUT_TEXT},         {"hint", OUT_TEXT},
    {"name", OUT_TEXT},       {"user_id", OUT_TEXT},
    {"group_id", OUT_TEXT},   {"created_at", OUT_TEXT},
    {"revoked_at", OUT_TEXT},
};
#define NKEY_COLS ((int)(sizeof(key_cols) / sizeof(key_cols[0])))

#define UTC_TS(col)                                                            \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char sql_insert[] =
    "INSERT INTO api_keys (key_hash, key_hint, name, user_id, group_id, "
    "org_id, expires_at, models, routes, metadata, is_admin) "
    "VALUES (decode($1, 'hex'), $2, $3, $4, $5, $6, $7::timestamptz, "
    "string_to_array($8, ','), string_to_array($9, ','), "
    "coalesce($10::jsonb, '{}'), $11::boolean) RETURNING id::text";

static const char sql_list[] =
    "SELECT id::text, key_hint, name, user_id, group_id, " UTC_TS("created_at")
    ", " UTC_TS("revoked_at") " FROM api_keys "
    "WHERE revoked_at IS NULL OR $1::boolean ORDER BY created_at, id";

static const char sql_revoke[] =
    "UPDATE api_keys SET revoked_at = now() "
    "WHERE id = $1::uuid AND revoked_at IS NULL "
    "RETURNING id::text, key_hint, user_id, group_id";

static const char sql_revoked_at[] =
    "SELECT " UTC_TS("revoked_at") " FROM api_keys WHERE id = $1::uuid";

static int open_db(const char *conninfo, PGconn **conn)
{
    char err[DB_ERR_LEN];
    int rc = db_connect(conninfo, PROG, conn, err);

    if (rc == 0)
        return CLI_OK;
    fprintf(stderr, PROG ": %s\n", err);
    return rc == DB_ECONNINFO ? CLI_USAGE : CLI_FAIL;
}

static int db_fail(const char *what, const char *err)
{
    fprintf(stderr, PROG ": %s: %s\n", what, err);
    return CLI_FAIL;
}

/* Runs one statement without parameters or rows (BEGIN, ROLLBACK). */
static int simple(PGconn *c, const char *sql, char *err)
{
    PGresult *res;
    int rc = db_exec(c, sql, 0, NULL, &res, err);

    PQclear(res);
    return rc;
}

/* Inserts the key in a transaction that commits only once the secret is
 * out on stdout, so a key whose secret was lost never exists. */
#define NCREATE 11

static int insert_key(PGconn *c, const char *const vals[NCREATE],
                      const char *secret)
{
    char err[DB_ERR_LEN];
    PGresult *res = NULL, *done = NULL;
    int rc = CLI_FAIL;

    if (simple(c, "BEGIN", err) < 0 ||
        db_exec(c, sql_insert, NCREATE, vals, &res, err) < 0)
        return db_fail("cannot create the key", err);
    if (printf("%s\n", secret) < 0 || fflush(stdout) == EOF) {
        fputs(PROG ": cannot write the secret to stdout; key not created\n",
              stderr);
        simple(c, "ROLLBACK", err);
        goto out;
    }
    if (db_exec(c, "COMMIT", 0, NULL, &done, err) < 0 ||
        strcmp(PQcmdStatus(done), "COMMIT") != 0) {
        db_fail("cannot create the key (discard the secret printed)",
                done ? "transaction rolled back" : err);
        goto out;
    }
    fprintf(stderr, "created api key %s (%s) for user %s group %s\n",
            PQgetvalue(res, 0, 0), vals[1], vals[3], vals[4]);
    rc = CLI_OK;
out:
    PQclear(done);
    PQclear(res);
    return rc;
}

/* The optional settings of a new key (NULL: not given). */
struct key_opts {
    const char *org, *expires, *models, *routes, *metadata;
    int admin;
};

static int create_key(PGconn *c, const char *user, const char *group,
                      const char *name, const struct key_opts *ko)
{
    char secret[APIKEY_SECRET_LEN + 1], hint[APIKEY_HINT_MAX];
    char hex[2 * APIKEY_HASH_LEN + 1];
    unsigned char hash[APIKEY_HASH_LEN];
    const char *vals[NCREATE];
    int rc;

    if (apikey_generate(secret, sizeof(secret)) < 0) {
        fputs(PROG ": cannot generate a key: the CSPRNG failed\n", stderr);
        return CLI_FAIL;
    }
    apikey_hash(secret, strlen(secret), hash);
    apikey_hex(hash, sizeof(hash), hex);
    apikey_hint(secret, strlen(secret), hint, sizeof(hint));
    vals[0] = hex;
    vals[1] = hint;
    vals[2] = name;
    vals[3] = user;
    vals[4] = group;
    vals[5] = ko->org;
    vals[6] = ko->expires;
    vals[7] = ko->models;
    vals[8] = ko->routes;
    vals[9] = ko->metadata;
    vals[10] = ko->admin ? "true" : "false";
    rc = insert_key(c, vals, secret);
    explicit_bzero(secret, sizeof(secret));
    explicit_bzero(hash, sizeof(hash));
    return rc;
}

static int check_text(const char *opt, const char *v)
{
    if (v != NULL && !cli_text_ok(v, TEXT_MAX))
        return cli_usage("key create",
                     "invalid %s value: must be 1-%d bytes without control "
                     "characters", opt, TEXT_MAX);
    return CLI_OK;
}

/* A comma-separated list of names or globs, none of them empty. */
static int check_list(const char *opt, const char *v)
{
    if (v == NULL)
        return CLI_OK;
    if (!cli_text_ok(v, 4 * TEXT_MAX) || v[0] == ',' ||
        v[strlen(v) - 1] == ',' || strstr(v, ",,") != NULL)
        return cli_usage("key create", "invalid %s value: a comma-separated "
                     "list of names", opt);
    return CLI_OK;
}

static int cmd_create(const char *db, int argc, char **argv, int i)
{
    const char *user = NULL, *group = NULL, *name = NULL;
    struct key_opts ko = { 0 };
    PGconn *c = NULL;
    int m, rc;

    for (; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return cli_help(help_create);
        if (strcmp(argv[i], "--admin") == 0) {
            ko.admin = 1;
            continue;
        }
        if ((m = cli_opt(argc, argv, &i, "--user", &user)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--org", &ko.org)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--expires", &ko.expires)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--models", &ko.models)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--routes", &ko.routes)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--metadata", &ko.metadata)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--group", &group)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--name", &name)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--db", &db)) == 0)
            return cli_usage("key create", "unexpected argument '%s'", argv[i]);
        if (m < 0)
            return cli_usage("key create", "%s needs a value", argv[i]);
    }
    if (user == NULL || group == NULL)
        return cli_usage("key create", "--user and --group are required");
    if ((rc = check_text("--user", user)) != CLI_OK ||
        (rc = check_text("--group", group)) != CLI_OK ||
        (rc = check_text("--name", name)) != CLI_OK ||
        (rc = check_text("--org", ko.org)) != CLI_OK ||
        (rc = check_text("--expires", ko.expires)) != CLI_OK ||
        (rc = check_list("--models", ko.models)) != CLI_OK ||
        (rc = check_list("--routes", ko.routes)) != CLI_OK)
        return rc;
    if (ko.metadata != NULL && (strlen(ko.metadata) > 8192 ||
                                ko.metadata[0] != '{'))
        return cli_usage("key create", "--metadata must be a JSON object "
                     "(at most 8 KB)");
    if ((rc = open_db(db, &c)) == CLI_OK)
        rc = create_key(c, user, group, name, &ko);
    PQfinish(c);
    return rc;
}

static int emit_row(void *arg, const PGresult *res, int row)
{
    const char *vals[OUT_MAX_COLS];

    db_values(res, row, 0, vals, NKEY_COLS);
    return out_row(arg, vals);
}

static int list_keys(PGconn *c, enum out_format fmt, int all)
{
    const char *param = all ? "true" : "false";
    char err[DB_ERR_LEN];
    struct out *o = out_new(fmt, stdout, key_cols, NKEY_COLS);
    int rc = CLI_FAIL, st;

    if (out_begin(o) < 0)
        goto write_error;
    st = db_stream(c, sql_list, 1, &param, emit_row, o, err);
    if (st == DB_EFAIL) {
        db_fail("cannot list keys", err);
        goto out;
    }
    if (st == 0 && out_end(o) == 0) {
        rc = CLI_OK;
        goto out;
    }
write_error:
    fprintf(stderr, PROG ": cannot write the listing: %s\n",
            strerror(out_errno(o)));
out:
    out_free(o);
    return rc;
}

static int cmd_list(const char *db, int argc, char **argv, int i)
{
    const char *format = "table";
    enum out_format fmt;
    PGconn *c = NULL;
    int all = 0, m, rc;

    for (; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return cli_help(help_list);
        if (strcmp(argv[i], "--all") == 0) {
            all = 1;
            continue;
        }
        if ((m = cli_opt(argc, argv, &i, "--format", &format)) == 0 &&
            (m = cli_opt(argc, argv, &i, "--db", &db)) == 0)
            return cli_usage("key list", "unexpected argument '%s'", argv[i]);
        if (m < 0)
            return cli_usage("key list", "%s needs a value", argv[i]);
    }
    if (out_format_parse(format, &fmt) < 0)
        return cli_usage("key list", "invalid --format value '%s' (expected "
                     "table, csv or json)", format);
    if ((rc = open_db(db, &c)) == CLI_OK)
        rc = list_keys(c, fmt, all);
    PQfinish(c);
    return rc;
}

/* Explains why id could not be revoked. */
static int not_revoked(PGconn *c, const char *id)
{
    char err[DB_ERR_LEN];
    PGresult *res;

    if (db_exec(c, sql_revoked_at, 1, &id, &res, err) < 0)
        return db_fail("cannot revoke the key", err);
    if (PQntuples(res) == 0)
        fprintf(stderr, PROG ": no api key %s\n", id);
    else
        fprintf(stderr, PROG ": api key %s was already revoked at %s\n", id,
                PQgetvalue(res, 0, 0));
    PQclear(res);
    return CLI_FAIL;
}

static int revoke_key(PGconn *c, const char *id)
{
    char err[DB_ERR_LEN];
    PGresult *res;

    if (db_exec(c, sql_revoke, 1, &id, &res, err) < 0)
        return db_fail("cannot revoke the key", err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return not_revoked(c, id);
    }
    fprintf(stderr, "revoked api key %s (%s) of user %s group %s\n",
            PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
            PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
    PQclear(res);
    return CLI_OK;
}

static int cmd_revoke(const char *db, int argc, char **argv, int i)
{
    const char *id = NULL;
    PGconn *c = NULL;
    int m, rc;

    for (; i < argc; i++) {
        if (cli_is_help(argv[i]))
            return cli_help(help_revoke);
        if ((m = cli_opt(argc, argv, &i, "--db", &db)) < 0)
            return cli_usage("key revoke", "%s needs a value", argv[i]);
        if (m == 1)
            continue;
        if (argv[i][0] == '-' || id != NULL)
            return cli_usage("key revoke", "unexpected argument '%s'", argv[i]);
        id = argv[i];
    }
    if (id == NULL)
        return cli_usage("key revoke", "API_KEY_ID is required");
    if (!cli_is_uuid(id))
        return cli_usage("key revoke", "invalid API_KEY_ID '%s' (expected a "
                     "UUID such as 0190f5e4-7b1c-7cc1-9e6a-3f2b8c4d5e6f)", id);
    if ((rc = open_db(db, &c)) == CLI_OK)
        rc = revoke_key(c, id);
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *cmd;
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
    if (strcmp(argv[i], "quota") == 0)          /* quota_cmd.c */
        return quota_main(db, argc, argv, i + 1);
    if (strcmp(argv[i], "key") != 0)
        return cli_usage(NULL, "unknown command '%s'", argv[i]);
    if (++i >= argc)
        return cli_usage("key", "key needs a command: create, list or revoke");
    cmd = argv[i++];
    if (cli_is_help(cmd))
        return cli_help(help_key);
    if (strcmp(cmd, "create") == 0)
        return cmd_create(db, argc, argv, i);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(db, argc, argv, i);
    if (strcmp(cmd, "revoke") == 0)
        return cmd_revoke(db, argc, argv, i);
    return cli_usage("key", "unknown key command '%s'", cmd);
}
