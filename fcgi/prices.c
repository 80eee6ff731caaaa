#include "prices.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"
#include "xalloc.h"

struct price {
    char *model;
    int64_t from_us;          /* effective_from, unix microseconds */
    int64_t in, out, cached;  /* micro-USD per 1M tokens; cached -1: in */
};

struct table {
    struct price *p;          /* sorted by model, then from_us */
    size_t n;
};

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct table cur;

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->p[i].model);
    free(t->p);
    t->p = NULL;
    t->n = 0;
}

int prices_refresh(void *conn)
{
    /* -infinity as the smallest int64; rows sorted as the lookup needs */
    PGresult *res = PQexec(conn,
        "SELECT model, CASE WHEN effective_from = '-infinity' "
        "THEN -9223372036854775807 ELSE "
        "(extract(epoch FROM effective_from) * 1000000)::bigint END, "
        "input_per_mtok, output_per_mtok, "
        "coalesce(cached_input_per_mtok, -1) FROM model_prices "
        "ORDER BY model COLLATE \"C\", effective_from");
    struct table t = { NULL, 0 }, old;
    int n;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    t.p = xcalloc((size_t)n, sizeof(*t.p));
    for (int i = 0; i < n; i++) {
        struct price *p = &t.p[t.n++];

        p->model = xstrdup(PQgetvalue(res, i, 0));
        p->from_us = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        p->in = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        p->out = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        p->cached = strtoll(PQgetvalue(res, i, 4), NULL, 10);
    }
    PQclear(res);
    pthread_rwlock_wrlock(&lock);
    old = cur;
    cur = t;
    pthread_rwlock_unlock(&lock);
    table_free(&old);
    return n;
}

/* The price of model in effect at ts (caller holds the lock), or NULL. */
static const struct price *find(const char *model, int64_t ts)
{
    size_t lo = 0, hi = cur.n;
    const struct price *best = NULL;

    if (model == NULL || *model == '\0')
        return NULL;
    while (lo < hi) {                  /* first row of model */
        size_t mid = (lo + hi) / 2;

        if (strcmp(cur.p[mid].model, model) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < cur.n && strcmp(cur.p[lo].model, model) == 0; lo++)
        if (cur.p[lo].from_us <= ts)
            best = &cur.p[lo];         /* rows ascend by effective_from */
    return best;
}

/* s matches pattern, where '9' stands for any digit */
static int shaped(const char *s, const char *pattern)
{
    for (; *pattern; s++, pattern++)
        if (*pattern == '9' ? (*s < '0' || *s > '9') : *s != *pattern)
            return 0;
    return 1;
}

/* name without a trailing -YYYY-MM-DD or -YYYYMMDD into out (as the SQL
 * regexp '-[0-9]{4}-?[0-9]{2}-?[0-9]{2}$' strips it); 0 if none */
static int undated(const char *name, char *out, size_t outsz)
{
    size_t n = strlen(name), k;

    if (n > 11 && shaped(name + n - 11, "-9999-99-99"))
        k = n - 11;
    else if (n > 9 && shaped(name + n - 9, "-99999999"))
        k = n - 9;
    else
        return 0;
    if (k >= outsz)
        return 0;
    memcpy(out, name, k);
    out[k] = '\0';
    return 1;
}

/* The cost of the tokens at price p (pico-USD). */
static int64_t cost_at(const struct price *p, int64_t in, int64_t cached,
                       int64_t out)
{
    return (in - cached) * p->in +
           cached * (p->cached >= 0 ? p->cached : p->in) + out * p->out;
}

/* model's price at ts, else its undated name's (caller holds the lock) */
static const struct price *find_model(const char *model, int64_t ts)
{
    const struct price *p = find(model, ts);
    char base[160];

    if (p == NULL && model != NULL && undated(model, base, sizeof(base)))
        p = find(base, ts);
    return p;
}

int64_t prices_cost(const struct usage_event *ev)
{
    const struct price *p;
    int64_t cost = -1;

    pthread_rwlock_rdlock(&lock);
    p = find_model(ev->served_model, ev->ts_unix_us);
    if (p == NULL)
        p = find(ev->requested_model, ev->ts_unix_us);
    if (p != NULL)
        cost = cost_at(p, ev->prompt_tokens, ev->cached_tokens,
                       ev->completion_tokens);
    pthread_rwlock_unlock(&lock);
    return cost;
}

int64_t prices_cost_model(const char *model, int64_t ts_us, int64_t in,
                          int64_t cached, int64_t out)
{
    const struct price *p;
    int64_t cost = -1;

    pthread_rwlock_rdlock(&lock);
    if ((p = find_model(model, ts_us)) != NULL)
        cost = cost_at(p, in, cached, out);
    pthread_rwlock_unlock(&lock);
    return cost;
}

void prices_free(void)
{
    pthread_rwlock_wrlock(&lock);
    table_free(&cur);
    pthread_rwlock_unlock(&lock);
}
