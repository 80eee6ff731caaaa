#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../fcgi/validate.c"
#include "t.h"

static int validate(const char *json, const char **why, const char **param,
                    struct chat_params *p)
{
    json_object *o = jparse(json, strlen(json), why);
    int rc;

    if (o == NULL)
        return -2;
    rc = chat_validate(o, p, why, param);
    json_object_put(o);
    return rc;
}


/* --- the scanner forms against the json-c forms ------------------------ */

#include "../../fcgi/jscan.h"

static int diffs;

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void differ(const char *what, const char *s, size_t len)
{
    if (++diffs <= 5)
        printf("# %s: %.*s\n", what, (int)(len > 300 ? 300 : len), s);
}

static void compare_forms(const char *s, size_t len)
{
    json_object *o = jparse(s, len, NULL);
    struct jspan root;

    if (o == NULL)
        return;                        /* both forms see valid JSON only */
    if (jscan(s, len, &root) < 0) {
        differ("scanner rejects", s, len);
    } else {
        for (int embed = 0; embed < 2; embed++) {
            struct chat_params a, b;
            const char *wa = NULL, *wb = NULL, *pa = NULL, *pb = NULL;
            int ra = embed ? embed_validate(o, &a, &wa, &pa)
                           : chat_validate(o, &a, &wa, &pa);
            int rb = embed ? embed_validate_scan(&root, &b, &wb, &pb)
                           : chat_validate_scan(&root, &b, &wb, &pb);

            if (ra != rb || !same_str(pa, pb) ||
                (ra < 0 && !same_str(wa, wb)))
                differ("verdict differs", s, len);
            else if (ra == 0 && (!same_str(a.model, b.model) ||
                                 a.stream != b.stream ||
                                 a.client_usage != b.client_usage))
                differ("params differ", s, len);
        }
    }
    json_object_put(o);
}

static const char *const requests[] = {
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\","
    "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":[{\"type\":"
    "\"text\",\"text\":\"hi \\u00e9\"}]}],\"stream\":false,\"max_tokens\":"
    "100,\"n\":1,\"stream_options\":{\"include_usage\":true},"
    "\"max_completion_tokens\":null,\"temperature\":0.5}",
    "{\"model\":\"m\\u0000\",\"stream\":true,\"messages\":[{\"role\":1},"
    "{\"role\":\"u\"}],\"stream_options\":{\"include_usage\":\"\"},\"n\":"
    "129,\"max_tokens\":2147483648}",
    "{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",[1,2],3,"
    "\"b\"],\"stream_options\":{\"include_usage\":0.0},\"messages\":[]}",
    "{\"model\":\"e\",\"input\":\"x\",\"stream\":null,\"stream_options\":"
    "{\"include_usage\":NaN},\"messages\":[{}],\"n\":-Infinity}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"stream\":true,"
    "\"stream_options\":{\"include_usage\":1},\"n\":128,\"max_tokens\":"
    "2147483647,\"input\":[\"a\",[1],2]}",
};

static const char *const edge_requests[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"stream\":true,"
    "\"stream_options\":{\"include_usage\":1},\"n\":128,\"max_tokens\":"
    "2147483647}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"stream\":true,"
    "\"stream_options\":{\"include_usage\":\"x\"},\"n\":129}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"stream\":false,"
    "\"stream_options\":{\"include_usage\":[]},\"max_completion_tokens\":0}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"stream_options\":"
    "{\"include_usage\":2.5e-1},\"max_tokens\":-1}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"stream_options\":"
    "{\"include_usage\":null},\"stream\":\"yes\"}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"stream_options\":7}",
    "{\"model\":\"\\u0001\",\"messages\":[{\"role\":\"u\"}]}",
    "{\"model\":\"\\ud83d\\ude00\",\"messages\":[{\"role\":\"u\"}]}",
    "{\"model\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
    "\"messages\":[{\"role\":\"u\"}]}",
    "{\"model\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
    "\"messages\":[{\"role\":\"u\"}]}",
    "{\"model\":\"m\",\"model\":7,\"messages\":[{\"role\":\"u\"}]}",
    "{\"model\":7,\"model\":\"m\",\"messages\":[{\"role\":\"u\"},"
    "{\"role\":\"a\",\"role\":null}]}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"n\":1.0}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],\"n\":"
    "99999999999999999999}",
    "{\"model\":\"e\",\"input\":[\"a\",[1],2]}", "{\"model\":\"e\",\"input\":[]}",
    "{\"model\":\"e\",\"input\":[\"a\",true]}", "{\"model\":\"e\",\"input\":7}",
    "{\"model\":\"e\"}", "[]", "\"m\"", "7", "{}",
};

static const char alphabet[] = "{}[]\",:\\ -.0123456789eEINaflnrstu\x01";

static void fuzz_forms(void)
{
    char buf[2048];
    unsigned rng = 7;
    long rounds = 0;

    for (size_t s = 0; s < sizeof(edge_requests) / sizeof(edge_requests[0]);
         s++)
        compare_forms(edge_requests[s], strlen(edge_requests[s]));
    for (size_t s = 0; s < sizeof(requests) / sizeof(requests[0]); s++) {
        compare_forms(requests[s], strlen(requests[s]));
        for (int i = 0; i < 40000; i++, rounds++) {
            size_t len = strlen(requests[s]);
            int n = 1 + (int)(rand_r(&rng) % 3);

            memcpy(buf, requests[s], len);
            for (int k = 0; k < n && len > 1; k++) {
                size_t at = (size_t)rand_r(&rng) % len;
                char c = alphabet[(size_t)rand_r(&rng) %
                                  (sizeof(alphabet) - 1)];

                if (rand_r(&rng) % 2)
                    buf[at] = c;
                else
                    memmove(buf + at, buf + at + 1, --len - at);
            }
            compare_forms(buf, len);
        }
    }
    {
        /* an embedding input at the 2048-item limit and past it */
        static char big[20000];
        for (int items = 2047; items <= 2049; items++) {
            size_t k = (size_t)sprintf(big, "{\"model\":\"e\",\"input\":[");
            for (int i = 0; i < items; i++)
                k += (size_t)sprintf(big + k, i ? ",%d" : "%d", i);
            k += (size_t)sprintf(big + k, "]}");
            compare_forms(big, k);
        }
    }
    T_OK(diffs == 0, "scanner forms give the json-c forms' verdicts");
    printf("# %ld mutated requests\n", rounds);
}

int main(void)
{
    struct chat_params p;
    const char *why = NULL, *param = NULL;

    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"x\"}]}", &why, &param, &p), 0,
             "minimal request valid");
    T_OK(!p.stream && !p.client_usage, "not streaming by default");
    T_EQ_INT(validate("{\"model\":\"m\",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true},\"messages\":[{\"role\":"
                      "\"user\"}]}", &why, &param, &p), 0, "stream request");
    T_OK(p.stream && p.client_usage, "stream and include_usage read");
    T_EQ_INT(validate("{\"messages\":[{\"role\":\"user\"}]}", &why, &param,
                      &p), -1, "missing model");
    T_EQ_STR(param, "model", "missing model names the param");
    T_EQ_INT(validate("{\"model\":\"\",\"messages\":[{\"role\":\"user\"}]}",
                      &why, &param, &p), -1, "empty model");
    T_EQ_INT(validate("{\"model\":\"a\\u0000b\",\"messages\":[{\"role\":"
                      "\"user\"}]}", &why, &param, &p), -1,
             "NUL inside model refused");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":{}}", &why, &param, &p),
             -1, "messages not an array");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[1]}", &why, &param, &p),
             -1, "message not an object");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"max_tokens\":0}", &why, &param, &p), -1,
             "max_tokens 0");
    T_EQ_STR(param, "max_tokens", "max_tokens named");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"max_tokens\":1.5}", &why, &param, &p), -1,
             "max_tokens not an integer");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"max_tokens\":4096,\"n\":2}", &why, &param, &p), 0,
             "max_tokens and n in range");
    T_EQ_INT(validate("{\"model\":\"m\",\"messages\":[{\"role\":\"u\"}],"
                      "\"stream_options\":3}", &why, &param, &p), -1,
             "stream_options not an object");

    /* jparse: strictness */
    T_EQ_INT(validate("{\"model\":\"m\"} x", &why, &param, &p), -2,
             "trailing garbage refused");
    T_EQ_INT(validate("{\"model\":\"m\",}", &why, &param, &p), -2,
             "trailing comma refused");
    T_EQ_INT(validate("{'model':'m'}", &why, &param, &p), -2,
             "single quotes refused");
    T_EQ_INT(validate("{\"model\":\"\xc3\x28\"}", &why, &param, &p), -2,
             "invalid UTF-8 refused");
    T_EQ_INT(validate("  {\"model\":\"m\",\"messages\":[{\"role\":\"u\"}]}"
                      "\r\n", &why, &param, &p), 0,
             "surrounding whitespace accepted");
    T_OK(jparse("7", 1, NULL) != NULL, "bare number parses");
    {
        char deep[200];
        memset(deep, '[', sizeof(deep) - 1);
        deep[sizeof(deep) - 1] = '\0';
        T_OK(jparse(deep, strlen(deep), &why) == NULL, "depth limited");
    }
    T_OK(json_has_object_member("{\"usage\" : {\"a\":1}}", 20, "usage"),
         "usage object found across whitespace");
    T_OK(!json_has_object_member("{\"usage\":null}", 14, "usage"),
         "usage null is not an object");
    T_OK(!json_has_object_member("{\"x\":\"usage\"}", 13, "usage"),
         "a string value is not a member");
    fuzz_forms();
    return t_done();
}
