/* Global-quota admissions per second on ONE subject (`make bench-quota`):
 *   lease    ql_reserve + ql_settle against the host lease table
 *            (quota_lease.c, as the gateway does; its sync thread pushes
 *            usage and refills leases from PostgreSQL meanwhile)
 *   per-req  one aigw_quota_reserve + one aigw_quota_settle round trip per
 *            request (the path with quotas.leases false)
 * each with 1 and BENCH_THREADS (32) threads for BENCH_SECONDS (3) per
 * pass (BENCH_MODES: "lease,per-req"), against the private PostgreSQL of tests/bench/quota-bench.sh.
 * Usage: quota-bench CONFIG LIMIT_ID SUBJECT */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../fcgi/config.h"
#include "../../fcgi/db.h"
#include "../../fcgi/quota_lease.h"
#include "../../fcgi/quotacfg.h"

#define EST 40                    /* a request's reservation (tokens) */
#define REAL 30                   /* and its real usage */

static struct config *cfg;
static struct ql_limit lim;
static atomic_int stop;
static atomic_long done, refused;
static const char *group;

static void *lease_worker(void *arg)
{
    struct db_session db;

    (void)arg;
    db_session_init(&db, cfg, "quota-bench");
    while (!atomic_load(&stop)) {
        struct ql_take t;
        struct ql_view v;

        if (ql_reserve(&db, &lim, EST, 0, &t, &v) == 0) {
            ql_settle(&t, REAL);
            atomic_fetch_add(&done, 1);
        } else {
            atomic_fetch_add(&refused, 1);
        }
    }
    db_session_release(&db);
    return NULL;
}

static void *perreq_worker(void *arg)
{
    struct db_session db;
    PGconn *c;
    long n = (long)(intptr_t)arg * 1000000000L;

    db_session_init(&db, cfg, "quota-bench");
    if ((c = db_get(&db)) == NULL)
        return NULL;
    while (!atomic_load(&stop)) {
        char id[40], now[24];
        const char *rp[10] = { id, "", "", group, "", "m", now, "20", "20",
                               "900" };
        const char *sp[4] = { id, "10", "20", "1" };
        PGresult *res;
        int ok;

        snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012lx", n++);
        snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
        res = PQexecParams(c, "SELECT bool_and(ok) FROM aigw_quota_reserve("
                           "$1::uuid, $2, $3, $4, $5, $6, to_timestamp($7::"
                           "double precision), $8::bigint, $9::bigint, "
                           "$10::int)", 10, NULL, rp, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_TUPLES_OK &&
             PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (!ok) {
            atomic_fetch_add(&refused, 1);
            continue;
        }
        res = PQexecParams(c, "SELECT count(*) FROM aigw_quota_settle("
                           "$1::uuid, $2::bigint, $3::bigint, $4::bigint)",
                           4, NULL, sp, NULL, NULL, 0);
        PQclear(res);
        atomic_fetch_add(&done, 1);
    }
    db_session_release(&db);
    return NULL;
}

static void pass(const char *name, void *(*fn)(void *), int threads,
                 int secs)
{
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    struct timespec a, b;
    double s;

    atomic_store(&stop, 0);
    atomic_store(&done, 0);
    atomic_store(&refused, 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, fn, (void *)(intptr_t)i);
    sleep((unsigned)secs);
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%-8s %2d thread%s  %10.0f admissions/s  (%ld admitted, %ld "
           "refused, %.1f s)\n", name, threads, threads == 1 ? " " : "s",
           (double)atomic_load(&done) / s, atomic_load(&done),
           atomic_load(&refused), s);
    fflush(stdout);
    free(th);
}

int main(int argc, char **argv)
{
    char err[512];
    const char *env;
    int threads = 32, secs = 3;

    if (argc != 4) {
        fprintf(stderr, "usage: quota-bench CONFIG LIMIT_ID GROUP\n");
        return 2;
    }
    if ((cfg = config_load(argv[1], err, sizeof(err))) == NULL) {
        fprintf(stderr, "quota-bench: %s\n", err);
        return 1;
    }
    if ((env = getenv("BENCH_THREADS")) != NULL)
        threads = atoi(env);
    if ((env = getenv("BENCH_SECONDS")) != NULL)
        secs = atoi(env);
    group = argv[3];
    lim.limit_id = strtoll(argv[2], NULL, 10);
    snprintf(lim.kind, sizeof(lim.kind), "group");
    snprintf(lim.subject, sizeof(lim.subject), "%s", group);
    snprintf(lim.unit, sizeof(lim.unit), "total_tokens");
    snprintf(lim.period, sizeof(lim.period), "month");
    lim.threshold_pct = 80;
    lim.period_start = strtoll(getenv("BENCH_PS"), NULL, 10);
    lim.period_end = strtoll(getenv("BENCH_PE"), NULL, 10);
    if (ql_open(getenv("BENCH_SHM"), cfg) < 0)
        return 1;
    printf("one subject (group %s), reservation %d, real usage %d, "
           "lease_max %ld\n", group, EST, REAL, cfg->quotas->lease_max);
    if ((env = getenv("BENCH_MODES")) == NULL)
        env = "lease,per-req";
    for (const char *m = env; *m; m += strcspn(m, ",") + (m[strcspn(m, ",")]
                                                         == ',')) {
        int per = strncmp(m, "per-req", 7) == 0;

        pass(per ? "per-req" : "lease", per ? perreq_worker : lease_worker,
             1, secs);
        pass(per ? "per-req" : "lease", per ? perreq_worker : lease_worker,
             threads, secs);
    }
    ql_release_all();
    return 0;
}
