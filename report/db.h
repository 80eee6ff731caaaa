/* libpq helpers for the report tools: connect, run one parameterised
 * statement, stream a result row by row. Errors come back as 0 or a
 * negative DB_E* code with a message in a caller-owned buffer of
 * DB_ERR_LEN bytes (redis anet style); messages never contain the
 * password of the connection string. */
#ifndef AIGW_REPORT_DB_H
#define AIGW_REPORT_DB_H

#include <stdio.h>

struct pg_conn;
struct pg_result;

#define DB_ERR_LEN 512

#define DB_EFAIL (-1)       /* connection or query failed */
#define DB_ECONNINFO (-2)   /* the connection string does not parse */
#define DB_ESTOP (-3)       /* a row callback asked to stop */

/* Connects using conninfo (key=value or URI; NULL or "" means the PG*
 * environment alone). connect_timeout is 5 s unless conninfo or
 * PGCONNECT_TIMEOUT sets it; application_name defaults to appname
 * (borrowed) and client_encoding to UTF8, unless conninfo sets them. The
 * session runs with TimeZone UTC. On success *conn is the
 * connection (caller PQfinish-es it). */
int db_connect(const char *conninfo, const char *appname,
               struct pg_conn **conn, char *err);

/* Runs sql with text parameters vals[0..n) (elements may be NULL for SQL
 * NULL). On success *res is the result (caller PQclear-s it); a result
 * that is neither COMMAND_OK nor TUPLES_OK is an error. */
int db_exec(struct pg_conn *conn, const char *sql, int n,
            const char *const *vals, struct pg_result **res, char *err);

/* Points vals[0..n) at columns first..first+n of res's row (borrowed from
 * res), NULL for SQL NULL. */
void db_values(const struct pg_result *res, int row, int first,
               const char **vals, int n);

/* Row callback: row is an index into res (borrowed for the call). Return
 * 0 to go on, anything else to stop. */
typedef int (*db_row_fn)(void *arg, const struct pg_result *res, int row);

/* Runs a query in single-row mode and calls fn for each row as it arrives.
 * Returns 0, DB_EFAIL (message in err) or DB_ESTOP (err untouched); after
 * a stop the rest of the result is cancelled and discarded. */
int db_stream(struct pg_conn *conn, const char *sql, int n,
              const char *const *vals, db_row_fn fn, void *arg, char *err);

/* Runs sql, a COPY ... TO STDOUT statement (no parameters: COPY takes
 * none, so values must be quoted into sql with PQescapeLiteral), and
 * writes the data to fp as it arrives, one row in memory at a time. *rows
 * gets the number of rows copied. Returns 0, DB_EFAIL (query failed; err)
 * or DB_ESTOP (a write to fp failed; errno set, the rest is discarded). */
int db_copy_out(struct pg_conn *conn, const char *sql, FILE *fp,
                long long *rows, char *err);

#endif
