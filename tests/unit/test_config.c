#include <stdlib.h>

#include "../../fcgi/config.c"
#include "t.h"

static const char *base =
    "// comment\n"
    "{ /* block */ \"database\": {\"conninfo\": \"host=${T_HOST}\"},\n"
    "  \"threads\": 4,\n"
    "  \"backends\": [{\"name\": \"b\", \"base_url\": \"${T_URL:-http://x/v1/}\","
    "                \"api_key\": \"${T_KEY:-}\", \"models\": [\"m\", \"mock-*\"]}],\n"
    "  \"routes\": [{\"prefix\": \"/v1/\", \"backend\": \"b\"}]}\n";

static void test_restart_changes(void)
{
    const char *a = "{\"database\": {\"conninfo\": \"x\"}, \"threads\": 4,"
        "\"max_body_bytes\": 4096, \"auth\": {\"cache_ttl_ms\": "
        "1000}, \"backends\": [{\"name\": \"b\", \"base_url\": "
        "\"http://x\"}], \"routes\": [{\"prefix\": \"/v1\", "
        "\"backend\": \"b\"}]}";
    char err[512], out[256], *b;
    struct config *c1, *c2;

    c1 = config_parse(a, "a.json", err, sizeof(err));
    c2 = config_parse(a, "a.json", err, sizeof(err));
    T_OK(c1 != NULL && c2 != NULL, "the file parses");
    if (c1 == NULL || c2 == NULL) {
        printf("# %s\n", err);
        return;
    }
    T_EQ_INT(config_restart_changes(c1, c2, out, sizeof(out)), 0,
             "same file: nothing needs a restart");
    config_free(c2);
    b = strdup(a);
    memcpy(strstr(b, "4,"), "8,", 2);             /* threads */
    memcpy(strstr(b, "4096"), "8192", 4);         /* reloadable */
    memcpy(strstr(b, "1000}"), "2000}", 5);       /* auth */
    c2 = config_parse(b, "a.json", err, sizeof(err));
    T_EQ_INT(config_restart_changes(c1, c2, out, sizeof(out)), 2,
             "threads and auth need a restart");
    T_EQ_STR(out, "threads, auth", "named in order");
    T_EQ_INT(c2->reload_watch_ms, 1000, "reload.watch_ms default");
    config_free(c1);
    config_free(c2);
    free(b);
}

int main(void)
{
    char err[512] = "";
    struct config *c;
    char *s;

    setenv("T_HOST", "/tmp", 1);
    unsetenv("T_URL");
    unsetenv("T_KEY");
    c = config_parse(base, "t.json", err, sizeof(err));
    T_OK(c != NULL, "comments and env references parse");
    if (c == NULL) {
        return t_done();
    }
    T_EQ_STR(c->db_conninfo, "host=/tmp", "required env expanded");
    T_EQ_STR(c->backends[0].base_url, "http://x/v1", "default used, / trimmed");
    T_OK(c->backends[0].api_key == NULL, "empty api key means none");
    T_EQ_INT(c->threads, 4, "threads read");
    T_EQ_STR(c->routes[0].prefix, "/v1", "route prefix trimmed");
    T_OK(c->routes[0].n_backends == 1 && c->routes[0].backends[0] == &c->backends[0], "route bound to backend");
    T_OK(route_backend(&c->routes[0], "m") == &c->backends[0], "route picks the serving backend");
    T_OK(route_backend(&c->routes[0], "zz") == NULL, "no backend for an unknown model");
    T_OK(backend_serves(&c->backends[0], "m"), "exact model served");
    T_OK(backend_serves(&c->backends[0], "mock-error-500"), "glob model");
    T_OK(!backend_serves(&c->backends[0], "gpt-4"), "other model refused");
    T_EQ_INT(c->max_body_bytes, 4 << 20, "default body limit");
    config_free(c);

    unsetenv("T_HOST");
    c = config_parse(base, "t.json", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "T_HOST") != NULL,
         "unset required variable named in the error");

    setenv("T_HOST", "h", 1);
    c = config_parse("{\n\"database\": {\"conninfo\": \"x\"},\n\"threads\": 0,"
                     "\"backends\": [], \"routes\": []}", "t.json", err,
                     sizeof(err));
    T_OK(c == NULL && strstr(err, "threads") != NULL, "range checked");
    c = config_parse("{\n\n  \"a\": [1,,]\n}", "f.json", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "f.json:3") != NULL,
         "syntax error cites file:line");
    c = config_parse("{\"database\": {\"conninfo\": \"x\"},"
                     "\"backends\": [{\"name\": \"b\", \"base_url\": \"ftp://x\"}],"
                     "\"routes\": [{\"prefix\": \"/v1\", \"backend\": \"b\"}]}",
                     "t.json", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "base_url") != NULL, "bad URL scheme");
    c = config_parse("{\"database\": {\"conninfo\": \"x\"},"
                     "\"backends\": [{\"name\": \"b\", \"base_url\": \"http://x\"}],"
                     "\"routes\": [{\"prefix\": \"/v1\", \"backend\": \"zz\"}]}",
                     "t.json", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "routes[0]") != NULL, "unknown backend");
    T_EQ_STR(err, "t.json: routes[0].backend: unknown backend \"zz\" (not in "
             "backends)", "unknown backend: its JSON path and name");
    c = config_parse("{\n  \"threads\": 4,\n  \"x\": [1,, 2]\n}", "t.json",
                     err, sizeof(err));
    T_OK(c == NULL && strncmp(err, "t.json:3:11: ", 13) == 0,
         "syntax error: line and column of the offending character");
    c = config_parse("{\"database\": {\"conninfo\": \"x\"}} }", "t.json", err,
                     sizeof(err));
    T_OK(c == NULL && strstr(err, "t.json:1:33: text after") != NULL,
         "text after the top-level object");
    test_restart_changes();

    setenv("T_A", "1", 1);
    s = config_expand("a${T_A}b${T_NOPE:-d}c", err, sizeof(err));
    T_EQ_STR(s, "a1bdc", "expansion in the middle of strings");
    free(s);
    s = config_expand("${T_A", err, sizeof(err));
    T_OK(s == NULL, "unterminated reference refused");
    return t_done();
}
