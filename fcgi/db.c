#include "db.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"

long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void db_session_init(struct db_session *s, const struct config *cfg,
                     const char *app_name)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->app_name = app_name;
}

void db_session_release(struct db_session *s)
{
    if (s == NULL)
        return;
    if (s->conn != NULL)
        PQfinish(s->conn);
    s->conn = NULL;
}

static PGconn *db_connect(const struct db_session *s)
{
    char timeout[16], options[64];
    const char *keys[] = { "dbname", "connect_timeout", "options",
                           "application_name", NULL };
    const char *vals[] = { s->cfg->db_conninfo, timeout, options,
                           s->app_name, NULL };

    snprintf(timeout, sizeof(timeout), "%ld", s->cfg->db_connect_timeout_s);
    snprintf(options, sizeof(options), "-c statement_timeout=%ld",
             s->cfg->db_statement_timeout_ms);
    return PQconnectdbParams(keys, vals, 1);
}

PGconn *db_get(struct db_session *s)
{
    long long now;

    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        return s->conn;
    now = now_ms();
    if (now < s->retry_at_ms)
        return NULL;
    if (s->conn != NULL)
        PQfinish(s->conn);
    s->prepared = 0;
    s->conn = db_connect(s);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        /* libpq's message names host and database, never the password */
        log_warn(NULL, "database connection failed: %s",
                 PQerrorMessage(s->conn));
        PQfinish(s->conn);
        s->conn = NULL;
        s->retry_at_ms = now + 1000;
        return NULL;
    }
    return s->conn;
}

void db_failed(struct db_session *s)
{
    if (s->conn != NULL && PQstatus(s->conn) != CONNECTION_OK) {
        PQfinish(s->conn);
        s->conn = NULL;
        s->prepared = 0;
        s->retry_at_ms = 0;   /* one immediate reconnect attempt */
    }
}

int db_prepare(struct db_session *s, int id, const char *name,
               const char *sql, int nparams)
{
    PGresult *res;
    int ok;

    if (s->prepared & (1 << id))
        return 0;
    res = PQprepare(s->conn, name, sql, nparams, NULL);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        log_warn(NULL, "prepare %s: %s", name, PQerrorMessage(s->conn));
    PQclear(res);
    if (!ok)
        return -1;
    s->prepared |= 1 << id;
    return 0;
}
