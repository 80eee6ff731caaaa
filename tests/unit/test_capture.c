#include <json-c/json.h>
#include <stdlib.h>

#include "../../fcgi/capture.c"
#include "t.h"

static struct config *load(const char *capture, char *err, size_t errsz)
{
    char text[2048];

    snprintf(text, sizeof(text),
             "{\"database\":{\"conninfo\":\"x\"},\"backends\":[{\"name\":\"b\","
             "\"base_url\":\"http://x\"}],\"routes\":[{\"name\":\"r1\","
             "\"prefix\":\"/v1\",\"backend\":\"b\"}],"
             "\"observability\":{\"capture\":%s}}", capture);
    return config_parse(text, "t.json", err, errsz);
}

static int masked(const struct config *cfg, const char *in, const char *want)
{
    struct buf b = BUF_INIT(1 << 20);
    int ok;

    buf_adds(&b, in);
    ok = mask_all(cfg, "r1", &b) == 0 && strcmp(b.ptr, want) == 0;
    if (!ok)
        printf("# got '%s'\n", b.ptr);
    buf_release(&b);
    return ok;
}

int main(void)
{
    char err[512];
    struct config *cfg;

    cfg = load("{\"enabled\":true}", err, sizeof(err));
    T_OK(cfg != NULL && cfg->capture->enabled &&
         cfg->capture->max_bytes == 2048 && cfg->capture->n_routes == 0,
         "defaults: 2048 bytes, every route");
    if (cfg != NULL) {
        T_OK(route_on(cfg->capture, "anything"), "no list: every route");
        T_OK(masked(cfg, "mail a@b.example, key sk-proj-0123456789abcdef",
                    "mail <EMAIL>, key <SECRET>"),
             "default mask: PII builtins and secrets");
        T_OK(masked(cfg, "Authorization: Bearer abc.def-123456",
                    "Authorization: <SECRET>"), "bearer tokens");
        T_OK(masked(cfg, "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                    "Authorization: <SECRET>"), "basic credentials");
        T_OK(masked(cfg, "stripe sk_live_0123456789abcdef, google "
                    "AIzaSyA0123456789abcdefghijklmnopqrstuv, github "
                    "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
                    "stripe <SECRET>, google <SECRET>, github <SECRET>"),
             "underscore-style, Google API and GitHub keys");
        T_OK(masked(cfg, "nothing here", "nothing here"), "clean text kept");
    }
    config_free(cfg);

    cfg = load("{\"enabled\":true,\"routes\":[\"r1\"],\"max_bytes\":16,"
               "\"mask\":[]}", err, sizeof(err));
    T_OK(cfg != NULL && cfg->capture->n_routes == 1 &&
         route_on(cfg->capture, "r1") && !route_on(cfg->capture, "r2"),
         "a route list");
    if (cfg != NULL)
        T_OK(masked(cfg, "a@b.example AKIAIOSFODNN7EXAMPLE",
                    "a@b.example <AWS_ACCESS_KEY>"),
             "an empty mask list still masks secrets");
    config_free(cfg);

    cfg = load("{\"enabled\":true,\"routes\":[\"nope\"]}", err, sizeof(err));
    T_OK(cfg == NULL && strstr(err, "observability.capture.routes") != NULL,
         "an unknown route is a config error");
    config_free(cfg);
    cfg = load("{\"mask\":[\"bogus\"]}", err, sizeof(err));
    T_OK(cfg == NULL && strstr(err, "observability.capture.mask") != NULL,
         "an unknown builtin is a config error");
    config_free(cfg);
    cfg = load("{\"max_bytes\":1}", err, sizeof(err));
    T_OK(cfg == NULL && strstr(err, "max_bytes") != NULL, "max_bytes bounds");
    config_free(cfg);
    cfg = load("true", err, sizeof(err));
    T_OK(cfg == NULL, "capture must be an object");
    config_free(cfg);

    T_EQ_INT((int)utf8_cut("ab\xc3\xa9", 4, 3), 2,
             "a cut inside a character moves back");
    T_EQ_INT((int)utf8_cut("abc", 3, 10), 3, "short text kept whole");
    T_EQ_INT((int)utf8_cut("ab\xc3\xa9z", 5, 4), 4, "cut after a character");
    return t_done();
}
