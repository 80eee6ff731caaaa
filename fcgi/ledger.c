#include "ledger.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "prices.h"
#include "spool.h"
#include "usage.h"
#include "xalloc.h"

#define STMT_INGEST 0
#define PARTITION_CHECK_MS (6LL * 3600 * 1000)
#define PRICES_REFRESH_MS (60LL * 1000)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stopping;
    char **ring;               /* queued JSON lines, owned */
    size_t cap, head, count;
    size_t batch;
    long flush_ms;
    const struct config *cfg;
    struct db_session db;
    struct buf payload;
    atomic_int degraded;
    atomic_int failing;        /* neither PostgreSQL nor the spool takes
                                  usage: new requests are refused */
    char **held;               /* a batch kept in memory meanwhile */
    size_t n_held;
    long long partitions_at_ms;
    long long prices_at_ms;
} lg = { .lock = PTHREAD_MUTEX_INITIALIZER,
         .wake = PTHREAD_COND_INITIALIZER };

int ledger_degraded(void)
{
    return atomic_load(&lg.degraded);
}

int ledger_failing(void)
{
    return atomic_load(&lg.failing);
}

/* spool_append(), counted for aigw_ledger_spooled_events_total */
static int to_spool(char **lines, size_t n)
{
    int rc = spool_append(lines, n);

    if (rc == 0)
        metrics_ledger_spooled(n);
    return rc;
}

void ledger_submit_json(const char *json, size_t len)
{
    char *line = xstrndup(json, len);

    pthread_mutex_lock(&lg.lock);
    if (lg.count < lg.cap) {
        lg.ring[(lg.head + lg.count) % lg.cap] = line;
        lg.count++;
        if (lg.count >= lg.batch)
            pthread_cond_signal(&lg.wake);
        line = NULL;
    }
    pthread_mutex_unlock(&lg.lock);
    if (line != NULL) {
        /* queue full (database slow or down): straight to the spool */
        if (to_spool(&line, 1) < 0)
            atomic_store(&lg.failing, 1);
        atomic_store(&lg.degraded, 1);
        free(line);
    }
}

static int ingest_once(char **lines, size_t n);

/* Inserts lines in one statement. 0 stored, -1 connection problem,
 * -2 the database refused the data (some line is bad). A connection that
 * went stale (the server restarted since its last use) is replaced once
 * before giving up. */
static int ingest(char **lines, size_t n)
{
    int had_conn = lg.db.conn != NULL;
    int rc = ingest_once(lines, n);

    if (rc == -1 && had_conn && lg.db.conn == NULL)
        rc = ingest_once(lines, n);
    return rc;
}

static int ingest_once(char **lines, size_t n)
{
    PGconn *c = db_get(&lg.db);
    PGresult *res;
    const char *vals[1];
    int rc;

    if (c == NULL || db_prepare(&lg.db, STMT_INGEST, "aigw_ingest",
                                "SELECT aigw_ingest_usage_json($1::json)", 1) < 0) {
        db_failed(&lg.db);
        return -1;
    }
    buf_reset(&lg.payload);
    buf_addc(&lg.payload, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_addc(&lg.payload, ',');
        buf_adds(&lg.payload, lines[i]);
    }
    buf_addc(&lg.payload, ']');
    vals[0] = lg.payload.ptr;
    res = PQexecPrepared(c, "aigw_ingest", 1, vals, NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc < 0) {
        log_warn(NULL, "ledger insert of %zu events failed: %s", n,
                 PQerrorMessage(c));
        if (PQstatus(c) == CONNECTION_OK)
            rc = -2;
        db_failed(&lg.db);
    }
    PQclear(res);
    return rc;
}

/* Stores lines in PostgreSQL; a bad line is isolated so that it cannot
 * hold the others back. Anything not stored is spooled. Returns 0 when
 * every line is durable somewhere, -1 when some could not be kept. */
static int store(char **lines, size_t n)
{
    int rc = ingest(lines, n);

    if (rc == -2) {
        rc = 0;
        for (size_t i = 0; i < n; i++)
            if (ingest(&lines[i], 1) != 0) {
                log_error(NULL, "ledger rejected an event; kept in spool");
                if (to_spool(&lines[i], 1) < 0)
                    rc = -1;
            }
        return rc;
    }
    if (rc < 0) {
        atomic_store(&lg.degraded, 1);
        return to_spool(lines, n);
    }
    return 0;
}

/* Stores a batch, or holds it in memory (and refuses new requests) while
 * neither PostgreSQL nor the spool can take it. Frees what was stored. */
static void store_or_hold(char **lines, size_t n)
{
    if (store(lines, n) == 0) {
        for (size_t i = 0; i < n; i++)
            free(lines[i]);
        atomic_store(&lg.failing, 0);
        return;
    }
    atomic_store(&lg.failing, 1);
    lg.held = xrealloc(lg.held, (lg.n_held + n) * sizeof(char *));
    memcpy(lg.held + lg.n_held, lines, n * sizeof(char *));
    lg.n_held += n;
}

static void retry_held(void)
{
    char **held = lg.held;
    size_t n = lg.n_held;

    if (n == 0)
        return;
    lg.held = NULL;
    lg.n_held = 0;
    store_or_hold(held, n);
    free(held);
}

static int replay_sink(void *ctx, char **lines, size_t n)
{
    (void)ctx;
    return ingest(lines, n) == 0 ? 0 : -1;
}

/* Keeps monthly ledger partitions ahead of time, a few times a day. */
static void ensure_partitions(void)
{
    PGresult *res;

    if (lg.db.conn == NULL || now_ms() < lg.partitions_at_ms)
        return;
    lg.partitions_at_ms = now_ms() + PARTITION_CHECK_MS;
    res = PQexec(lg.db.conn, "SELECT aigw_ensure_usage_partitions("
                 "current_date, 3)");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        log_warn(NULL, "ledger partitions: %s", PQerrorMessage(lg.db.conn));
    PQclear(res);
}

/* The log's and metrics' copy of model_prices, once a minute. */
static void refresh_prices(void)
{
    if (now_ms() < lg.prices_at_ms || db_get(&lg.db) == NULL)
        return;
    if (prices_refresh(lg.db.conn) < 0)
        log_warn(NULL, "model prices: %s", PQerrorMessage(lg.db.conn));
    lg.prices_at_ms = now_ms() + PRICES_REFRESH_MS;
}

static void maybe_replay(void)
{
    long n;

    if (!spool_pending() || db_get(&lg.db) == NULL) {
        if (!spool_pending())
            atomic_store(&lg.degraded, 0);
        return;
    }
    n = spool_replay(replay_sink, NULL, lg.batch);
    if (n > 0)
        log_info(NULL, "replayed %ld spooled usage events", n);
    if (n >= 0 && !spool_pending())
        atomic_store(&lg.degraded, 0);
}

static size_t take(char **out, size_t max)
{
    size_t n = 0;

    while (n < max && lg.count > 0) {
        out[n++] = lg.ring[lg.head];
        lg.head = (lg.head + 1) % lg.cap;
        lg.count--;
    }
    return n;
}

static void *writer(void *arg)
{
    char **batch = xcalloc(lg.batch, sizeof(char *));
    long long next_replay = 0;

    (void)arg;
    for (;;) {
        struct timespec until;
        size_t n, queued;
        int stopping;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (lg.flush_ms % 1000) * 1000000;
        until.tv_sec += lg.flush_ms / 1000 + until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        pthread_mutex_lock(&lg.lock);
        while (!lg.stopping && lg.count < lg.batch &&
               pthread_cond_timedwait(&lg.wake, &lg.lock, &until) == 0)
            ;
        n = take(batch, lg.batch);
        queued = lg.count + n;
        stopping = lg.stopping;
        pthread_mutex_unlock(&lg.lock);
        metrics_ledger_state(queued + lg.n_held, ledger_degraded(),
                             ledger_failing());
        retry_held();
        if (n > 0)
            store_or_hold(batch, n);
        if (now_ms() >= next_replay) {
            maybe_replay();
            ensure_partitions();
            refresh_prices();
            next_replay = now_ms() + 1000;
        }
        if (stopping && n == 0) {
            if (lg.n_held > 0)
                log_error(NULL, "ALARM: %zu usage events could not be "
                          "stored at shutdown", lg.n_held);
            break;
        }
    }
    for (size_t i = 0; i < lg.n_held; i++)
        free(lg.held[i]);
    free(lg.held);
    free(batch);
    return NULL;
}

int ledger_start(const struct config *cfg)
{
    lg.cfg = cfg;
    lg.cap = cfg->ledger_queue_max;
    lg.batch = (size_t)cfg->ledger_batch_rows;
    lg.flush_ms = cfg->ledger_flush_ms;
    lg.ring = xcalloc(lg.cap, sizeof(char *));
    buf_init(&lg.payload, (size_t)1 << 30);
    db_session_init(&lg.db, cfg, "aigw-ledger");
    if (spool_open(cfg->spool_dir) < 0)
        return -1;
    if (pthread_create(&lg.thread, NULL, writer, NULL) != 0)
        return -1;
    lg.running = 1;
    return 0;
}

void ledger_stop(void)
{
    if (!lg.running)
        return;
    pthread_mutex_lock(&lg.lock);
    lg.stopping = 1;
    pthread_cond_signal(&lg.wake);
    pthread_mutex_unlock(&lg.lock);
    pthread_join(lg.thread, NULL);
    lg.running = 0;
    spool_close();
    db_session_release(&lg.db);
    buf_release(&lg.payload);
    free(lg.ring);
    lg.ring = NULL;
}
