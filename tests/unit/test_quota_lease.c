/* quota_lease.c without a database: the lease table shared by processes
 * (fork), reservations within a lease, fail-closed and fail-open when a
 * sync is needed and PostgreSQL is unreachable, settlement, invalidation;
 * and the quotas config's "scope": "global" and lease settings. */
#include "../../fcgi/quota_lease.c"
#include "t.h"

#include <stdlib.h>
#include <sys/wait.h>

#define BASE "\"database\":{\"conninfo\":\"host=/nonexistent-aigw " \
    "connect_timeout=1\"},\"backends\":[{\"name\":" \
    "\"b\",\"base_url\":\"http://x/v1\"}],\"routes\":[{\"prefix\":" \
    "\"/v1\",\"backend\":\"b\"}]"

static struct ql_limit limit_of(int64_t id, const char *subject)
{
    struct ql_limit l;

    memset(&l, 0, sizeof(l));
    l.limit_id = id;
    snprintf(l.kind, sizeof(l.kind), "group");
    snprintf(l.subject, sizeof(l.subject), "%s", subject);
    snprintf(l.unit, sizeof(l.unit), "total_tokens");
    snprintf(l.period, sizeof(l.period), "month");
    l.period_start = 1000;
    l.period_end = 4102444800;    /* 2100: never over in this test */
    return l;
}

/* A lease as a sync would have left it. */
static struct ql_slot *grant(const struct ql_limit *l, int64_t lease)
{
    struct ql_slot *s = slot_get(l);

    slot_lock(s);
    s->lease = lease;
    s->limit_eff = 1000;
    s->others = 100 + lease;
    s->epoch = ql_epoch();
    s->expires_ms = wall_ms() + 60000;
    pthread_mutex_unlock(&s->mu);
    return s;
}

static void test_leases(struct config *c)
{
    struct ql_limit a = limit_of(1, "grp-a"), b = limit_of(2, "grp-b");
    struct db_session db;
    struct ql_take t, t2;
    struct ql_view v;
    struct ql_slot *s;

    db_session_init(&db, c, "unit");
    s = grant(&a, 100);
    T_OK(slot_get(&a) == s, "a balance keeps its slot");
    T_OK(slot_get(&b) != s, "another balance gets another slot");
    T_EQ_INT(ql_reserve(&db, &a, 60, 0, &t, &v), 0,
             "within the lease: reserved without the database");
    T_EQ_INT(v.limit, 1000, "view: the limit");
    T_EQ_INT(v.remaining, 1000 - 200 - 60, "view: remaining");
    T_EQ_INT(ql_reserve(&db, &a, 60, 0, &t2, &v), -2,
             "past the lease, database down, fail-closed: -2");
    T_EQ_INT(s->inflight, 60, "nothing taken by the refusal");
    ql_settle(&t, 25);
    T_EQ_INT(s->inflight, 0, "settled: the estimate released");
    T_EQ_INT(s->spent, 25, "settled: the real usage kept to push");
    T_EQ_INT(ql_reserve(&db, &a, 75, 0, &t, &v), 0,
             "the lease's rest: reserved");
    ql_settle(&t, 75);
    T_EQ_INT(ql_reserve(&db, &a, 50, 1, &t, &v), 0,
             "past the lease, fail-open: admitted");
    ql_settle(&t, 50);
    T_EQ_INT(s->spent, 150, "fail-open usage counted for later");
    ql_invalidate();
    T_OK(s->epoch != ql_epoch(), "an operator change outdates the lease");
    T_EQ_INT(ql_reserve(&db, &a, 1, 0, &t, &v), -2,
             "outdated lease, database down, fail-closed: not used");
    db_session_release(&db);
}

/* ql_peek: the host's view for degrade before the wall, no round trip. */
static void test_peek(struct config *c)
{
    struct ql_limit a = limit_of(7, "grp-peek"), b = limit_of(8, "none");
    struct db_session db;
    struct ql_take t;
    struct ql_view v;
    struct ql_slot *s;

    db_session_init(&db, c, "unit");
    T_EQ_INT(ql_peek(&b, &v), -1, "peek: no slot, no view");
    s = slot_get(&a);
    T_EQ_INT(ql_peek(&a, &v), -1, "peek: a slot never synced has no view");
    grant(&a, 200);                   /* others: 300 of 1000 */
    T_EQ_INT(ql_peek(&a, &v), 0, "peek: synced, a view");
    T_OK(v.limit == 1000 && v.used == 300, "peek: used is everyone else's");
    T_EQ_INT(ql_reserve(&db, &a, 150, 0, &t, &v), 0, "reserved 150");
    ql_peek(&a, &v);
    T_EQ_INT(v.used, 450, "peek: in-flight estimates count");
    ql_settle(&t, 220);
    ql_peek(&a, &v);
    T_EQ_INT(v.used, 520, "peek: settled usage counts before it is pushed");
    T_EQ_INT(s->lease, 200, "peek: the lease is untouched");
    db_session_release(&db);
}

/* Processes share the table: a reservation in a child is seen here. */
static void test_processes(void)
{
    struct ql_limit l = limit_of(3, "grp-shared");
    struct ql_slot *s = grant(&l, 10000);
    int st = 0;
    pid_t pids[2];

    for (int p = 0; p < 2; p++) {
        if ((pids[p] = fork()) == 0) {
            struct db_session db;
            struct ql_take t;
            struct ql_view v;

            db_session_init(&db, qcfg, "unit");
            for (int i = 0; i < 1000; i++)
                if (ql_reserve(&db, &l, 3, 0, &t, &v) == 0)
                    ql_settle(&t, 2);
            _exit(0);
        }
    }
    for (int p = 0; p < 2; p++)
        waitpid(pids[p], &st, 0);
    T_EQ_INT(s->spent, 4000, "two processes: every settlement counted");
    T_EQ_INT(s->inflight, 0, "and every reservation released");
}

/* A child that dies holding a balance's lock (EOWNERDEAD): the next
 * holder makes it consistent and unlocks it, in maintain() and in
 * ql_reserve(); no worker of the host blocks behind it. */
static void die_holding(struct ql_slot *s)
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        pthread_mutex_lock(&s->mu);
        _exit(0);
    }
    waitpid(pid, &st, 0);
}

static void test_dead_holder(struct config *c)
{
    struct ql_limit l = limit_of(9, "grp-dead");
    struct ql_slot *s = grant(&l, 100);
    struct db_session db;
    struct ql_take t;
    struct ql_view v;
    int rc;

    db_session_init(&db, c, "unit");
    die_holding(s);
    maintain(&db, s, wall_ms(), quota_now_s(), ql_epoch(), 0);
    rc = pthread_mutex_trylock(&s->mu);
    T_EQ_INT(rc, 0, "maintain after a dead holder: the lock is free again");
    if (rc == 0)
        pthread_mutex_unlock(&s->mu);
    die_holding(s);
    T_EQ_INT(ql_reserve(&db, &l, 10, 0, &t, &v), 0,
             "reserve after a dead holder: admitted within the lease");
    ql_settle(&t, 10);
    rc = pthread_mutex_trylock(&s->mu);
    T_EQ_INT(rc, 0, "and the lock is free after it");
    if (rc == 0)
        pthread_mutex_unlock(&s->mu);
    /* unlocked without being made consistent: unrecoverable, reset */
    die_holding(s);
    T_EQ_INT(pthread_mutex_lock(&s->mu), EOWNERDEAD, "(a dead holder)");
    pthread_mutex_unlock(&s->mu);     /* now unrecoverable */
    T_EQ_INT(ql_reserve(&db, &l, 10, 0, &t, &v), -2,
             "an unrecoverable lock is reset; the slot re-syncs first");
    rc = pthread_mutex_trylock(&s->mu);
    T_EQ_INT(rc, 0, "and its lock works again");
    if (rc == 0)
        pthread_mutex_unlock(&s->mu);
    db_session_release(&db);
}

/* What a running sync gives back is not admitted against meanwhile. */
static void test_releasing(struct config *c)
{
    struct ql_limit l = limit_of(10, "grp-releasing");
    struct ql_slot *s = grant(&l, 100);
    struct db_session db;
    struct ql_take t;
    struct ql_view v;

    db_session_init(&db, c, "unit");
    /* as sync_locked() leaves it during the round trip */
    slot_lock(s);
    s->syncing = 1;
    s->sync_ms = wall_ms();
    s->releasing = 80;
    pthread_mutex_unlock(&s->mu);
    T_EQ_INT(ql_reserve(&db, &l, 20, 0, &t, &v), 0,
             "during a sync: the lease not being given back is admitted");
    T_EQ_INT(available(s), 0, "the part being given back is not available");
    ql_settle(&t, 0);
    slot_lock(s);
    s->syncing = 0;
    s->releasing = 0;
    pthread_mutex_unlock(&s->mu);
    db_session_release(&db);
}

/* A sync marked by a process that died is taken over at once; a live
 * one is waited for; one older than every database timeout is lost. */
static void test_lost_sync(struct config *c)
{
    struct ql_limit l = limit_of(11, "grp-lost");
    struct ql_slot *s = grant(&l, 100);
    struct db_session db;
    struct ql_take t;
    struct ql_view v;
    int64_t t0;
    pid_t pid;
    int st = 0;

    db_session_init(&db, c, "unit");
    if ((pid = fork()) == 0) {        /* dies in the middle of a sync */
        slot_lock(s);
        s->syncing = 1;
        s->sync_ms = wall_ms();
        s->sync_pid = getpid();
        pthread_mutex_unlock(&s->mu);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    slot_lock(s);
    s->spent = 5;
    T_EQ_INT(sync_running(s, wall_ms()), 0,
             "a sync whose process died: not running");
    T_EQ_INT(s->syncing, 0, "and taken over");
    s->syncing = 1;
    s->sync_pid = getpid();
    s->sync_ms = wall_ms();
    T_EQ_INT(sync_running(s, wall_ms()), 1, "a live sync: running");
    T_OK(sync_max_ms() >= 15000 &&
         sync_max_ms() > c->db_connect_timeout_s * 1000 +
                         c->db_statement_timeout_ms,
         "the takeover waits longer than a live sync can take");
    T_EQ_INT(sync_running(s, wall_ms() + sync_max_ms()), 0,
             "past every timeout: lost");
    s->syncing = 1;
    s->sync_pid = pid;                /* dead */
    pthread_mutex_unlock(&s->mu);
    t0 = wall_ms();
    T_EQ_INT(ql_reserve(&db, &l, 500, 0, &t, &v), -2,
             "a request past the lease does not wait for a dead sync");
    T_OK(wall_ms() - t0 < 3000, "(no wait)");
    s->syncing = 1;
    s->sync_pid = pid;
    maintain(&db, s, wall_ms(), quota_now_s(), ql_epoch(), 0);
    T_EQ_INT(s->syncing, 0, "maintain() takes a dead sync over");
    T_EQ_INT(s->spent, 5, "and tries to push (database down: kept)");
    db_session_release(&db);
}

/* A full table answers QL_FULL (not "the limit is gone"); maintain()
 * frees idle slots holding nothing, and the balance then finds one. */
static void test_table_full(struct config *c)
{
    struct ql_limit l = limit_of(12, "grp-full");
    uint64_t tag = balance_tag(l.limit_id, l.subject, l.period_start);
    struct ql_slot *idle_slot = NULL;
    struct db_session db;
    struct ql_take t;
    struct ql_view v;

    db_session_init(&db, c, "unit");
    for (uint32_t i = 0; i < QL_PROBES; i++) {
        struct ql_slot *s = &shm->slot[(tag + i) & (QL_SLOTS - 1)];

        if (atomic_load(&s->tag) > TAG_GONE)
            continue;                 /* a balance of another test */
        if (!s->mu_ready) {
            mutex_init_shared(&s->mu);
            s->mu_ready = 1;
        }
        memset(s->subject, 0, sizeof(s->subject));
        s->limit_id = 1000 + i;
        s->ps = 1000;
        s->pe = 4102444800;
        s->lease = s->inflight = s->spent = 0;
        s->epoch = ql_epoch();
        s->expires_ms = 0;
        s->last_use_ms = s->last_push_ms = wall_ms();
        s->syncing = s->want_refill = 0;
        atomic_store(&s->tag, tag + 1 + i);
        idle_slot = s;
    }
    T_EQ_INT(ql_reserve(&db, &l, 1, 1, &t, &v), QL_FULL,
             "a full table: QL_FULL, fail-open or not");
    T_EQ_INT(ql_reserve(&db, &l, 1, 0, &t, &v), QL_FULL, "(fail-closed)");
    idle_slot->last_use_ms = wall_ms() - c->quotas->lease_idle_ms - 1000;
    maintain(&db, idle_slot, wall_ms(), quota_now_s(), ql_epoch(), 0);
    T_EQ_INT(atomic_load(&idle_slot->tag), TAG_GONE,
             "an idle slot holding nothing is freed");
    T_EQ_INT(ql_reserve(&db, &l, 1, 0, &t, &v), -2,
             "the balance gets it (then needs the database)");
    T_OK(slot_get(&l) == idle_slot, "the freed slot");
    for (uint32_t i = 0; i < QL_PROBES; i++) {
        struct ql_slot *s = &shm->slot[(tag + i) & (QL_SLOTS - 1)];

        if (s->limit_id >= 1000)
            atomic_store(&s->tag, TAG_GONE);
    }
    db_session_release(&db);
}

static void test_config(void)
{
    char err[256] = "";
    struct config *c = config_parse(
        "{" BASE ",\"quotas\":{\"lease_min\":5,\"lease_max\":50,"
        "\"limits\":[{\"name\":\"g\",\"scope\":\"global\",\"match\":"
        "{\"group\":\"mkt\",\"model\":\"m\"},\"unit\":\"total_tokens\","
        "\"window\":\"month\",\"time_zone\":\"Europe/Paris\",\"limit\":5,"
        "\"degrade\":{\"at_pct\":60,\"model\":\"cheap\",\"max_tokens\":9}},"
        "{\"name\":\"l\",\"limit\":3}]}}", "t", err, sizeof(err));

    T_OK(c != NULL, "a global limit parses");
    if (c != NULL) {
        T_OK(c->quotas->limits[0].global && !c->quotas->limits[1].global,
             "scope global; local by default");
        T_OK(c->quotas->limits[0].degrade_pct == 60 &&
             strcmp(c->quotas->limits[0].degrade_model, "cheap") == 0 &&
             c->quotas->limits[0].degrade_max_tokens == 9,
             "a global limit may degrade before the wall");
        T_EQ_STR(c->quotas->limits[0].period, "month", "global period");
        T_EQ_STR(c->quotas->limits[0].time_zone, "Europe/Paris", "its zone");
        T_EQ_INT(c->quotas->n_global, 1, "one global limit");
        T_OK(c->quotas->leases && c->quotas->lease_min == 5 &&
             c->quotas->lease_max == 50, "lease settings");
    }
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{\"limits\":[{\"scope\":"
                     "\"global\",\"window\":\"second\",\"limit\":1}]}}", "t",
                     err, sizeof(err));
    T_OK(c == NULL && strstr(err, "window") != NULL,
         "global per second refused");
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{\"limits\":[{\"scope\":"
                     "\"global\",\"per\":[\"user\"],\"match\":{\"group\":"
                     "\"g\"},\"window\":\"day\",\"limit\":1}]}}", "t", err,
                     sizeof(err));
    T_OK(c == NULL && strstr(err, "at most one") != NULL,
         "two subject dimensions refused");
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{\"limits\":[{\"scope\":"
                     "\"planet\",\"limit\":1}]}}", "t", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "scope") != NULL, "unknown scope refused");
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{\"lease_min\":9,\"lease_max\":"
                     "8}}", "t", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "lease_min") != NULL,
         "lease_min above lease_max refused");
    config_free(c);
}

int main(void)
{
    char path[] = "/tmp/aigw-ql-XXXXXX", err[256];
    int fd = mkstemp(path);
    struct config *c = config_parse("{" BASE ",\"quotas\":{}}", "t", err,
                                    sizeof(err));

    close(fd);
    T_OK(c != NULL, "config");
    if (c == NULL)
        return t_done();
    /* the table alone: no sync thread (it would reach for the database) */
    qcfg = c;
    T_OK(map_file(path) == 0 && ql_ready(), "maps the file");
    T_OK(strlen(shm->host) == 32, "a host id");
    test_leases(c);
    test_peek(c);
    test_processes();
    test_dead_holder(c);
    test_releasing(c);
    test_lost_sync(c);
    test_table_full(c);
    unlink(path);
    test_config();
    config_free(c);
    return t_done();
}
