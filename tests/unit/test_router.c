/* router.c: precedence, matching kinds, query decoding; with failover.c
 * (candidate order, weights), circuit.c and the model rewrite. */
#include <stdlib.h>
#include <unistd.h>

#include "../../fcgi/router.c"
#include "../../fcgi/circuit.h"
#include "../../fcgi/failover.h"
#include "../../fcgi/relay.h"
#include "../../fcgi/buf.h"
#include "t.h"

static const char *conf =
    "{ \"database\": {\"conninfo\": \"x\"},\n"
    "  \"backends\": [{\"name\": \"a\", \"base_url\": \"http://a\"},\n"
    "                {\"name\": \"b\", \"base_url\": \"http://b\"},\n"
    "                {\"name\": \"c\", \"base_url\": \"http://c\","
    "                 \"models\": [\"m1\"]}],\n"
    "  \"routing\": {\"aliases\": {\"grp\": [{\"backend\": \"c\","
    "     \"model\": \"m1\"}, {\"backend\": \"a\", \"model\": \"m2\"}]}},\n"
    "  \"routes\": [\n"
    "    {\"name\": \"root\", \"prefix\": \"/\", \"backend\": \"a\"},\n"
    "    {\"name\": \"v1\", \"prefix\": \"/v1\", \"backend\": \"a\"},\n"
    "    {\"name\": \"hdr\", \"prefix\": \"/v1\", \"backend\": \"b\",\n"
    "     \"headers\": [{\"name\": \"X-Model\", \"regex\": \"^g\"}]},\n"
    "    {\"name\": \"q\", \"prefix\": \"/v1\", \"backend\": \"b\",\n"
    "     \"query\": [{\"name\": \"model\", \"value\": \"a b\"}]},\n"
    "    {\"name\": \"re\", \"path\": {\"regex\": \"^/r/[0-9]+$\"},"
    "     \"backend\": \"a\"},\n"
    "    {\"name\": \"ex\", \"path\": {\"exact\": \"/r/1\"}, \"backend\": \"a\","
    "     \"endpoint\": \"chat\"},\n"
    "    {\"name\": \"host\", \"prefix\": \"/v1\", \"backend\": \"a\","
    "     \"hosts\": [\"*.t.test\"]},\n"
    "    {\"name\": \"w\", \"prefix\": \"/w\", \"backends\": [\n"
    "      {\"name\": \"a\", \"weight\": 9, \"priority\": 1},\n"
    "      {\"name\": \"b\", \"weight\": 1, \"priority\": 1},\n"
    "      {\"name\": \"c\", \"priority\": 0}]},\n"
    "    {\"name\": \"all\", \"prefix\": \"/all\","
    "     \"backends\": [\"a\", \"b\", \"c\"]}\n"
    "  ]}\n";

static const char *pick(const struct config *c, const char *path,
                        const char *host, char **env)
{
    struct request r;
    const struct route *rt;

    memset(&r, 0, sizeof(r));
    r.method = "POST";
    r.path = path;
    r.path_len = strcspn(path, "?");
    r.query = path[r.path_len] == '?' ? path + r.path_len + 1 : NULL;
    r.host = host;
    r.env = env;
    rt = router_select(c, &r);
    return rt ? rt->name : "(none)";
}

static void test_match(const struct config *c)
{
    static char g[] = "HTTP_X_MODEL=gpt", x[] = "HTTP_X_MODEL=xyz";
    char *env_g[] = { g, NULL };
    char *env_x[] = { x, NULL };

    T_EQ_STR(pick(c, "/v1/chat/completions", NULL, NULL), "v1",
             "longest prefix beats /");
    T_EQ_STR(pick(c, "/v1x", NULL, NULL), "root", "prefix ends at a /");
    T_EQ_STR(pick(c, "/v1/chat/completions", NULL, env_g), "hdr",
             "header regex: more specific than the bare prefix");
    T_EQ_STR(pick(c, "/v1/chat/completions", NULL, env_x), "v1",
             "header not matching: falls back");
    T_EQ_STR(pick(c, "/v1/chat/completions?model=a+b", NULL, NULL), "q",
             "query, '+' decoded");
    T_EQ_STR(pick(c, "/v1/chat/completions?model=a%20b&x", NULL, NULL), "q",
             "query, %20 decoded");
    T_EQ_STR(pick(c, "/v1/chat/completions?model=a", NULL, NULL), "v1",
             "query value differs");
    T_EQ_STR(pick(c, "/r/1", NULL, NULL), "ex", "exact beats regex");
    T_EQ_STR(pick(c, "/r/22", NULL, NULL), "re", "regex");
    T_EQ_STR(pick(c, "/v1/models", "api.t.test:8080", NULL), "host",
             "host wildcard, port ignored");
    T_EQ_STR(pick(c, "/v1/models", "t.test", NULL), "v1",
             "the wildcard needs a subdomain");
    T_EQ_STR(pick(c, "/v1/models", NULL, env_g), "hdr",
             "no Host: the host route is out");
}

static void test_query(void)
{
    char out[8];

    T_EQ_INT(router_query_param("a=1&model=x%2Fy", "model", out, 8), 3,
             "query param length");
    T_EQ_STR(out, "x/y", "query param decoded");
    T_EQ_INT(router_query_param("modelx=1", "model", out, 8), -1,
             "a longer name is not the param");
    T_EQ_INT(router_query_param("model=123456789", "model", out, 8), -1,
             "too long: refused");
    T_EQ_INT(router_query_param(NULL, "model", out, 8), -1, "no query");
}

static const struct route *route_named(const struct config *c,
                                       const char *n)
{
    for (size_t i = 0; i < c->n_routes; i++)
        if (strcmp(c->routes[i].name, n) == 0)
            return &c->routes[i];
    return NULL;
}

static void test_candidates(const struct config *c)
{
    struct fo_cand k[FO_MAX_CANDS];
    unsigned seed = 12345;
    int al, first_a = 0;
    size_t n;

    n = failover_candidates(c, route_named(c, "all"), "m1", k, FO_MAX_CANDS,
                            &seed, &al);
    T_EQ_INT(n, 3, "every backend serving m1 is a candidate");
    T_EQ_STR(k[0].be->name, "a", "plain list: config order first");
    T_EQ_STR(k[2].be->name, "c", "plain list: config order last");
    n = failover_candidates(c, route_named(c, "all"), "m9", k, FO_MAX_CANDS,
                            &seed, &al);
    T_EQ_INT(n, 2, "a backend not serving the model is left out");
    n = failover_candidates(c, route_named(c, "all"), "grp", k, FO_MAX_CANDS,
                            &seed, &al);
    T_OK(al && n == 2, "alias: its candidates");
    T_OK(strcmp(k[0].be->name, "c") == 0 && strcmp(k[0].model, "m1") == 0 &&
         strcmp(k[1].model, "m2") == 0, "alias: in order, model renamed");
    for (int i = 0; i < 1000; i++) {
        n = failover_candidates(c, route_named(c, "w"), "m1", k,
                                FO_MAX_CANDS, &seed, &al);
        first_a += strcmp(k[1].be->name, "a") == 0;
        if (strcmp(k[0].be->name, "c") != 0)
            break;
    }
    T_EQ_STR(k[0].be->name, "c", "priority 0 always first");
    T_OK(first_a > 850 && first_a < 950, "weights 9:1 within a priority");
    printf("# a first in %d of 1000\n", first_a);
}

static void test_circuit(void)
{
    struct circuit_policy two = { .failures = 2, .open_ms = 100,
                                  .max_open_ms = 100 };
    struct circuit_policy off = { .open_ms = 100, .max_open_ms = 100 };

    T_EQ_INT(circuit_allow("x"), 1, "unknown backend: closed");
    circuit_result("x", 0, &two, NULL);
    T_EQ_INT(circuit_allow("x"), 1, "one failure of two: still closed");
    circuit_result("x", 0, &two, NULL);
    T_EQ_INT(circuit_peek("x"), CB_OPEN, "two failures: open");
    T_EQ_INT(circuit_allow("x"), 0, "open: refused");
    usleep(120000);
    T_EQ_INT(circuit_allow("x"), 1, "half-open: one probe");
    T_EQ_INT(circuit_allow("x"), 0, "half-open: only one probe");
    circuit_result("x", 1, &two, NULL);
    T_EQ_INT(circuit_peek("x"), CB_CLOSED, "probe succeeded: closed");
    circuit_result("y", 0, &off, NULL);
    T_EQ_INT(circuit_peek("y"), CB_CLOSED, "threshold 0: breaking off");
    circuit_hold("y", 100);
    T_EQ_INT(circuit_peek("y"), CB_HELD, "Retry-After holds it");
}

static void test_rewrite(void)
{
    struct buf b = BUF_INIT(4096);
    const char *j = "{\"id\":\"x\",\"model\" : \"gpt-4o-2024\",\"c\":\"\\\"model\\\"\"}";

    T_OK(relay_rewrite_model(j, strlen(j), "gpt-4", &b), "model rewritten");
    T_EQ_STR(b.ptr, "{\"id\":\"x\",\"model\" : \"gpt-4\",\"c\":\"\\\"model\\\"\"}",
             "only the model value changes");
    buf_reset(&b);
    T_OK(!relay_rewrite_model("{\"a\":1}", 7, "gpt-4", &b), "no model: no-op");
    buf_release(&b);
}

int main(void)
{
    char err[512] = "";
    struct config *c = config_parse(conf, "t.json", err, sizeof(err));

    T_OK(c != NULL, "routing config parses");
    if (c == NULL) {
        printf("# %s\n", err);
        return t_done();
    }
    test_match(c);
    test_query();
    test_candidates(c);
    test_circuit();
    test_rewrite();
    config_free(c);
    c = config_parse("{\"database\":{\"conninfo\":\"x\"},\"backends\":[{\"name\":"
                     "\"a\",\"base_url\":\"http://a\"}],\"routes\":[{\"path\":"
                     "{\"regex\":\"([\"},\"backend\":\"a\"}]}", "t.json", err,
                     sizeof(err));
    T_OK(c == NULL && strstr(err, "path.regex") != NULL,
         "a bad regex is refused with its place");
    printf("# %s\n", err);
    return t_done();
}
