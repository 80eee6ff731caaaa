/* ratelimit.c: exact fixed windows shared by processes (fork), settle
 * adjustments, window roll-over; quota_headers.c formatting; the quotas
 * config section. */
#include <unistd.h>
#include "../../fcgi/ratelimit.c"
#include "t.h"

#include <stdlib.h>
#include <sys/wait.h>

#include "../../fcgi/config.h"
#include "../../fcgi/quota_headers.h"
#include "../../fcgi/quotacfg.h"

static void test_counters(void)
{
    int64_t used;
    uint32_t win;
    uint64_t k = rl_hash(rl_hash(RL_HASH_INIT, "lim"), "key-a");
    int ok = 0;

    for (int i = 0; i < 15; i++)
        ok += rl_take(k, 120, 60, 10, 1, &used, &win) == 1;
    T_EQ_INT(ok, 10, "10 of 15 taken within the window");
    T_EQ_INT(used, 10, "refusal reports the count");
    T_EQ_INT(rl_take(k, 180, 60, 10, 1, &used, &win), 1,
             "next window: taken again");
    T_EQ_INT(used, 1, "the count restarts");
    rl_adjust(k, win, 5);
    T_EQ_INT(rl_peek(k, 180, 60), 6, "adjust adds usage");
    rl_adjust(k, win, -100);
    T_EQ_INT(rl_peek(k, 180, 60), 0, "adjust clamps at 0");
    rl_adjust(k, win - 1, 7);
    T_EQ_INT(rl_peek(k, 180, 60), 0, "adjust of an old window ignored");
    T_EQ_INT(rl_take(k, 181, 60, 10, 11, &used, &win), 0,
             "more than the limit at once: refused");
    T_OK(rl_hash(RL_HASH_INIT, "ab") != rl_hash(rl_hash(RL_HASH_INIT, "a"),
                                                 "b"),
         "field boundaries are hashed");
}

/* 4 processes x 100 takes against a limit of 150: exactly 150 taken. */
static void test_processes(void)
{
    uint64_t k = rl_hash(RL_HASH_INIT, "shared");
    int total = 0, st;

    for (int p = 0; p < 4; p++) {
        if (fork() == 0) {
            int n = 0;
            int64_t used;
            uint32_t win;

            for (int i = 0; i < 100; i++)
                n += rl_take(k, 1000, 60, 150, 1, &used, &win) == 1;
            _exit(n);
        }
    }
    for (int p = 0; p < 4; p++) {
        wait(&st);
        total += WEXITSTATUS(st);
    }
    T_EQ_INT(total, 150, "limit exact across 4 processes");
    T_EQ_INT(rl_peek(k, 1000, 60), 150, "the shared count");
}

static void test_headers(void)
{
    struct qh_state s = { 0 };
    char out[1024];

    qh_format(&s, -1, out, sizeof(out));
    T_EQ_STR(out, "", "nothing noted: no headers");
    qh_note(&s, 0, 1000, 400, 30, 2592000);
    qh_note(&s, 0, 100, 90, 20, 60);
    qh_note(&s, 1, 10, 3, 15, 60);
    qh_format(&s, 15, out, sizeof(out));
    T_EQ_STR(out, "Retry-After: 15\r\n"
             "x-ratelimit-limit-requests: 10\r\n"
             "x-ratelimit-remaining-requests: 3\r\n"
             "x-ratelimit-reset-requests: 15s\r\n"
             "x-ratelimit-limit-tokens: 100\r\n"
             "x-ratelimit-remaining-tokens: 90\r\n"
             "x-ratelimit-reset-tokens: 20s\r\n"
             "RateLimit-Policy: \"requests\";q=10;w=60, "
             "\"tokens\";q=100;w=60\r\n"
             "RateLimit: \"requests\";r=3;t=15, \"tokens\";r=90;t=20\r\n",
             "tightest limits formatted");
    qh_format(&s, -1, out, 64);
    T_EQ_STR(out, "", "no room: no partial headers");
}

#define BASE "\"database\":{\"conninfo\":\"x\"},\"backends\":[{\"name\":" \
    "\"b\",\"base_url\":\"http://x/v1\"}],\"routes\":[{\"prefix\":" \
    "\"/v1\",\"backend\":\"b\"}]"

static void test_config(void)
{
    char err[256] = "";
    struct config *c = config_parse(
        "{" BASE ",\"quotas\":{\"on_db_error\":"
        "\"open\",\"limits\":[{\"name\":\"a\",\"per\":[\"api_key\","
        "\"model\"],\"match\":{\"route\":\"r\"},\"unit\":\"total_tokens\","
        "\"window\":\"second\",\"limit\":5}]}}", "t", err, sizeof(err));

    T_OK(c != NULL, "quotas section parses");
    if (c != NULL) {
        T_OK(c->quotas->enabled && c->quotas->fail_open, "enabled, open");
        T_EQ_INT(c->quotas->n_limits, 1, "one local limit");
        T_EQ_INT(c->quotas->limits[0].window_s, 1, "per second");
        T_EQ_INT(c->quotas->limits[0].per,
                 (1u << QD_API_KEY) | (1u << QD_MODEL), "per key and model");
        T_EQ_STR(c->quotas->limits[0].match[QD_ROUTE], "r", "match route");
    }
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{"
                     "\"limits\":[{\"window\":\"fortnight\",\"limit\":1}]}}",
                     "t", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "window") != NULL, "bad window refused");
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{"
                     "\"limits\":[{\"limit\":-1}]}}", "t", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "limit") != NULL, "negative limit refused");
    config_free(c);
    c = config_parse("{" BASE "}", "t", err,
                     sizeof(err));
    T_OK(c != NULL && !c->quotas->enabled && c->quotas->n_limits == 0,
         "no section: off");
    config_free(c);
}

int main(void)
{
    char path[] = "/tmp/aigw-rl-XXXXXX";
    int fd = mkstemp(path);

    close(fd);
    T_OK(rl_open(path) == 0 && rl_ready(), "maps the file");
    test_counters();
    test_processes();
    rl_close();
    unlink(path);
    test_headers();
    test_config();
    return t_done();
}
