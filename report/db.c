#include "db.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* err = prefix + msg, trailing newlines and spaces removed. */
static void set_err(char *err, const char *prefix, const char *msg)
{
    size_t n;

    snprintf(err, DB_ERR_LEN, "%s%s", prefix, msg ? msg : "unknown error");
    n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

/* Overwrites each occurrence of secret in err with '*'s. */
static void mask_secret(char *err, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    char *p = err;

    if (n == 0)
        return;
    while ((p = strstr(p, secret)) != NULL) {
        memset(p, '*', n);
        p += n;
    }
}

/* Copies msg to err with the text between double quotes replaced by "...":
 * libpq quotes parts of the connection string it cannot parse, and those
 * parts may hold a password. */
static void set_err_unquoted(char *err, const char *prefix, const char *msg)
{
    char tmp[DB_ERR_LEN];
    size_t o = 0;
    int quoted = 0;

    for (; msg && *msg && o + 4 < sizeof(tmp); msg++) {
        if (*msg == '"') {
            if (!quoted) {
                memcpy(tmp + o, "\"...", 4);
                o += 4;
            } else {
                tmp[o++] = '"';
            }
            quoted = !quoted;
        } else if (!quoted) {
            tmp[o++] = *msg;
        }
    }
    tmp[o] = '\0';
    set_err(err, prefix, tmp);
}

/* Checks that conninfo parses and extracts its password (caller frees). */
static int parse_conninfo(const char *conninfo, char **password, char *err)
{
    PQconninfoOption *opts, *o;
    char *msg = NULL;

    *password = NULL;
    opts = PQconninfoParse(conninfo, &msg);
    if (opts == NULL) {
        set_err_unquoted(err, "invalid connection string: ",
                         msg ? msg : "out of memory");
        PQfreemem(msg);
        return DB_ECONNINFO;
    }
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            *password = strdup(o->val);
    PQconninfoFree(opts);
    return 0;
}

static int set_utc(PGconn *c, char *err)
{
    PGresult *res = PQexec(c, "SET TimeZone = 'UTC'");
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        set_err(err, "", PQresultErrorMessage(res));
        rc = DB_EFAIL;
    }
    PQclear(res);
    return rc;
}

int db_connect(const char *conninfo, const char *appname,
               struct pg_conn **conn, char *err)
{
    const char *kw[5], *val[5], *env = getenv("PGCONNECT_TIMEOUT");
    char *password = NULL;
    PGconn *c = NULL;
    int k = 0, rc;

    *conn = NULL;
    if (conninfo != NULL && *conninfo == '\0')
        conninfo = NULL;
    if (conninfo && (rc = parse_conninfo(conninfo, &password, err)) < 0)
        goto out;
    /* Later entries win; the expanded dbname (the whole conninfo) is last
     * so that its own connect_timeout overrides our default. */
    if (env == NULL || *env == '\0') {
        kw[k] = "connect_timeout";
        val[k++] = "5";
    }
    kw[k] = "fallback_application_name";
    val[k++] = appname;
    kw[k] = "client_encoding";          /* JSON and CSV are UTF-8 */
    val[k++] = "UTF8";
    if (conninfo) {
        kw[k] = "dbname";
        val[k++] = conninfo;
    }
    kw[k] = val[k] = NULL;
    c = PQconnectdbParams(kw, val, 1);
    rc = DB_EFAIL;
    if (c == NULL) {
        set_err(err, "cannot connect to the database: ", "out of memory");
    } else if (PQstatus(c) != CONNECTION_OK) {
        set_err(err, "cannot connect to the database: ", PQerrorMessage(c));
        mask_secret(err, password);
    } else if ((rc = set_utc(c, err)) == 0) {
        *conn = c;
        c = NULL;
    }
out:
    PQfinish(c);
    free(password);
    return rc;
}

int db_exec(struct pg_conn *conn, const char *sql, int n,
            const char *const *vals, struct pg_result **res, char *err)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    *res = NULL;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        set_err(err, "", r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
        PQclear(r);
        return DB_EFAIL;
    }
    *res = r;
    return 0;
}

void db_values(const struct pg_result *res, int row, int first,
               const char **vals, int n)
{
    for (int i = 0; i < n; i++)
        vals[i] = PQgetisnull(res, row, first + i)
                      ? NULL
                      : PQgetvalue(res, row, first + i);
}

static void cancel(PGconn *conn)
{
    PGcancel *cn = PQgetCancel(conn);
    char buf[256];

    if (cn != NULL) {
        PQcancel(cn, buf, sizeof(buf));
        PQfreeCancel(cn);
    }
}

int db_stream(struct pg_conn *conn, const char *sql, int n,
              const char *const *vals, db_row_fn fn, void *arg, char *err)
{
    PGresult *res;
    int rc = 0;

    if (!PQsendQueryParams(conn, sql, n, NULL, vals, NULL, NULL, 0)) {
        set_err(err, "", PQerrorMessage(conn));
        return DB_EFAIL;
    }
    /* If single-row mode is refused, the rows come in one result. */
    PQsetSingleRowMode(conn);
    while ((res = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);

        if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
            for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
                if (fn(arg, res, r) != 0) {
                    rc = DB_ESTOP;
                    cancel(conn);
                }
            }
        } else if (rc == 0) {
            set_err(err, "", PQresultErrorMessage(res));
            rc = DB_EFAIL;
        }
        PQclear(res);
    }
    return rc;
}

/* Drains what is left of a COPY OUT and the results after it. */
static void copy_discard(PGconn *conn)
{
    char *line;
    PGresult *res;

    while (PQgetCopyData(conn, &line, 0) > 0)
        PQfreemem(line);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
}

int db_copy_out(struct pg_conn *conn, const char *sql, FILE *fp,
                long long *rows, char *err)
{
    PGresult *res = PQexec(conn, sql);
    char *line;
    int n, rc = 0;

    *rows = 0;
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        set_err(err, "", res ? PQresultErrorMessage(res)
                             : PQerrorMessage(conn));
        PQclear(res);
        return DB_EFAIL;
    }
    PQclear(res);
    while ((n = PQgetCopyData(conn, &line, 0)) > 0) {
        size_t len = (size_t)n;

        if (fwrite(line, 1, len, fp) != len) {
            PQfreemem(line);
            cancel(conn);
            copy_discard(conn);
            return DB_ESTOP;
        }
        PQfreemem(line);
        (*rows)++;
    }
    if (n == -2)
        set_err(err, "", PQerrorMessage(conn));
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == 0 && (n == -2 || PQresultStatus(res) != PGRES_COMMAND_OK)) {
            if (n != -2)
                set_err(err, "", PQresultErrorMessage(res));
            rc = DB_EFAIL;
        }
        PQclear(res);
    }
    return n == -2 ? DB_EFAIL : rc;
}
