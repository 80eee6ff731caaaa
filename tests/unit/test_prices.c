#include "../../fcgi/prices.c"
#include "t.h"

#include "../../fcgi/quota_units.h"

static void add(const char *model, int64_t from, int64_t in, int64_t out,
                int64_t cached)
{
    cur.p = xrealloc(cur.p, (cur.n + 1) * sizeof(*cur.p));
    cur.p[cur.n++] = (struct price){ xstrdup(model), from, in, out, cached };
}

static struct usage_event ev(const char *served, const char *requested,
                             int64_t ts, long long in, long long out,
                             long long cached)
{
    struct usage_event e;

    usage_event_init(&e);
    usage_set(e.served_model, sizeof(e.served_model), served);
    usage_set(e.requested_model, sizeof(e.requested_model), requested);
    e.ts_unix_us = ts;
    e.prompt_tokens = in;
    e.completion_tokens = out;
    e.cached_tokens = cached;
    return e;
}

int main(void)
{
    struct usage_event e;
    char b[64];

    e = ev("gpt-4o", "gpt-4o", 1000, 10, 1, 0);
    T_EQ_INT(prices_cost(&e), -1, "no copy loaded yet: unknown");
    /* sorted by model, then effective_from, as prices_refresh loads them */
    add("gpt-4o", INT64_MIN + 1, 2500000, 10000000, 1250000);
    add("gpt-4o", 5000, 3000000, 12000000, -1);
    add("gpt-4o-mini", INT64_MIN + 1, 150000, 600000, 75000);
    add("mock-gpt", INT64_MIN + 1, 1000000, 2000000, -1);

    e = ev("gpt-4o", "gpt-4o", 1000, 10, 1, 0);
    T_EQ_INT(prices_cost(&e), 10 * 2500000LL + 10000000LL,
             "exact served model at the price in effect");
    e = ev("gpt-4o", "gpt-4o", 6000, 10, 1, 0);
    T_EQ_INT(prices_cost(&e), 10 * 3000000LL + 12000000LL,
             "a later price applies from its effective time");
    e = ev("gpt-4o-2024-08-06", "gpt-4o", 1000, 10, 1, 4);
    T_EQ_INT(prices_cost(&e), 6 * 2500000LL + 4 * 1250000LL + 10000000LL,
             "dated snapshot priced as its model, cached tokens cheaper");
    e = ev("gpt-4o-mini-20240718", "x", 1000, 10, 0, 0);
    T_EQ_INT(prices_cost(&e), 10 * 150000LL, "compact date suffix too");
    e = ev("acme-snapshot", "mock-gpt", 1000, 3, 2, 1);
    T_EQ_INT(prices_cost(&e), 3 * 1000000LL + 2 * 2000000LL,
             "else the requested model (no cached price: the input price)");
    e = ev("unknown", "unpriced", 1000, 10, 1, 0);
    T_EQ_INT(prices_cost(&e), -1, "unpriced: -1, never zero");
    e = ev("gpt-4o", "gpt-4o", 1000, 0, 0, 0);
    T_EQ_INT(prices_cost(&e), 0, "priced, no tokens: zero");
    T_OK(undated("claude-3-haiku-20240307", b, sizeof(b)) &&
         strcmp(b, "claude-3-haiku") == 0, "undated strips YYYYMMDD");
    T_OK(!undated("gpt-4o", b, sizeof(b)), "undated leaves plain names");
    T_OK(!undated("-20240307", b, sizeof(b)), "undated needs a base name");
    /* quota unit usd: micro-USD at today's price, rounded up */
    T_EQ_INT(quota_amount(QU_USD, "gpt-4o", 1000, 0, 500, 1), 9000,
             "usd: 1000 in x $3/M + 500 out x $12/M = 9000 micro-USD");
    T_EQ_INT(quota_amount(QU_USD, "gpt-4o-mini-2024-07-18", 1, 0, 0, 1), 1,
             "usd of a dated name, a fraction rounded up");
    T_EQ_INT(quota_amount(QU_USD, "mock-gpt", 100, 100, 0, 1), 100,
             "cached input at the input price when it has none");
    T_EQ_INT(quota_amount(QU_USD, "nope", 100, 0, 0, 1), 0,
             "usd of an unpriced model: 0");
    prices_free();
    e = ev("gpt-4o", "gpt-4o", 1000, 10, 1, 0);
    T_EQ_INT(prices_cost(&e), -1, "freed: unknown again");
    return t_done();
}
