/* A PostgreSQL session that reconnects by itself with a backoff, so a
 * database that is down costs a request one failed attempt per second per
 * thread, not a connect timeout each. One per thread; not thread-safe. */
#ifndef AIGW_DB_H
#define AIGW_DB_H

#include <libpq-fe.h>

struct config;

struct db_session {
    PGconn *conn;
    const struct config *cfg;
    const char *app_name;
    long long retry_at_ms;
    int prepared;            /* bitmask of statements prepared on conn */
};

void db_session_init(struct db_session *s, const struct config *cfg,
                     const char *app_name);
void db_session_release(struct db_session *s);
/* A connected session, or NULL (then retried no sooner than 1 s later). */
PGconn *db_get(struct db_session *s);
/* After a failed command: drops the connection if it is broken. */
void db_failed(struct db_session *s);
/* Prepares statement bit `id` as name/sql once per connection. */
int db_prepare(struct db_session *s, int id, const char *name,
               const char *sql, int nparams);
long long now_ms(void);

#endif
