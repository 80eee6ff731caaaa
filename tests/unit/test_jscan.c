/* The scanner against json-c, which it stands in for on the hot path:
 * the same texts accepted, the same members found, the same values read.
 * Hand-picked edge cases, then a few hundred thousand random mutations of
 * realistic documents. */
#include <json-c/json.h>
#include <stdlib.h>

#include "../../fcgi/jscan.c"
#include "../../fcgi/usage.h"
#include "t.h"

static const char *const keys[] = { "usage", "model", "prompt_tokens",
                                    "completion_tokens", "cached_tokens",
                                    "prompt_tokens_details", "choices",
                                    "a", "b", "" };

static int mismatches;

static void note(const char *what, const char *s, size_t len)
{
    if (++mismatches <= 5) {
        printf("# %s: ", what);
        for (size_t i = 0; i < len && i < 300; i++)
            printf((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f
                   ? "%c" : "\\x%02x", (unsigned char)s[i]);
        printf("\n");
    }
}

static enum jscan_type type_of(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null: return JS_NULL;
    case json_type_boolean: return JS_BOOL;
    case json_type_double: return JS_DOUBLE;
    case json_type_int: return JS_INT;
    case json_type_object: return JS_OBJECT;
    case json_type_array: return JS_ARRAY;
    default: return JS_STRING;
    }
}

/* Member lookups in o (json-c) and sp (scanner) agree, recursively for
 * objects, down to a few levels. */
static void compare_obj(json_object *o, const struct jspan *sp,
                        const char *s, size_t len, int level)
{
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_object *v = NULL;
        struct jspan w;
        int a = json_object_object_get_ex(o, keys[i], &v);
        int b = jspan_member(sp, keys[i], &w);
        char got[64], want[64];

        if (a != b) {
            note("member presence differs", s, len);
            continue;
        }
        if (!a)
            continue;
        if (type_of(v) != w.type) {
            note("member type differs", s, len);
            continue;
        }
        if (json_object_get_int64(v) != jspan_int64(&w))
            note("int64 differs", s, len);
        if (w.type == JS_STRING) {
            size_t cut, full = jspan_strlen(&w, &cut);

            if (full != (size_t)json_object_get_string_len(v) ||
                cut != strlen(json_object_get_string(v)))
                note("string length differs", s, len);
            usage_set(want, sizeof(want), json_object_get_string(v));
            jspan_string(&w, got, sizeof(got));
            if (strcmp(got, want) != 0)
                note("string differs", s, len);
        }
        if (w.type == JS_ARRAY) {
            const char *it = NULL;
            struct jspan el;
            size_t n = 0;

            if ((json_object_array_length(v) == 0) != jspan_array_empty(&w))
                note("array emptiness differs", s, len);
            while (jspan_next(&w, &it, &el)) {
                json_object *e = json_object_array_get_idx(v, n++);

                if (type_of(e) != el.type)
                    note("array element type differs", s, len);
            }
            if (n != json_object_array_length(v))
                note("array length differs", s, len);
        }
        if (w.type == JS_OBJECT && level < 4)
            compare_obj(v, &w, s, len, level + 1);
    }
    {
        /* several keys in one pass find what single lookups find */
        struct jspan many[JSPAN_MAX_KEYS], one;
        unsigned got = jspan_members(sp, (const char *const *)keys,
                                     JSPAN_MAX_KEYS, many);

        for (int i = 0; i < JSPAN_MAX_KEYS; i++) {
            int a = jspan_member(sp, keys[i], &one);

            if (a != !!(got & 1u << i) ||
                (a && (one.p != many[i].p || one.len != many[i].len)))
                note("jspan_members differs", s, len);
        }
    }
}

static void compare(const char *s, size_t len)
{
    json_object *o = jparse(s, len, NULL);
    struct jspan root;
    int ok = jscan(s, len, &root) == 0;

    /* jparse() also fails on a top-level null (a NULL object) */
    if (ok && root.type == JS_NULL && o == NULL)
        return;
    if ((o != NULL) != ok) {
        note(ok ? "only the scanner accepts" : "only json-c accepts", s, len);
    } else if (o != NULL) {
        if (type_of(o) != root.type)
            note("root type differs", s, len);
        else if (root.type == JS_OBJECT)
            compare_obj(o, &root, s, len, 0);
    }
    json_object_put(o);
}

static const char *const cases[] = {
    "{}", "[]", "0", "-0", "01", "-01", "00", "-00", "1.", "-.5", ".5", "1e",
    "1e+", "1.e5", "1E+1", "1e-1", "0.e1", "1.5.5", "1e5e5", "--1", "1-2",
    "+1", "-", "[-]", "[1.,2]", "[01]", "{\"a\":-01}", "NaN", "Infinity",
    "-Infinity", "nan", "-NaN", "[NaN]", "[NaNx]", "[Infinity1]", "[-Inf]",
    "true", "True", "[truex]", "null", "[null]", "[nul]", "\"\\u0000\"",
    "\"a\\u0000b\"", "\"\\x\"", "\"\\U0041\"", "\"\\/\"", "\"\\'\"", "'a'",
    "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{a:1}", "/*c*/1", "1//c",
    " 1", "\f1", "1\f", "\v1", "[1\f]", "\"\xed\xa0\x80\"", "\"\xc0\x80\"",
    "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xf8\x80\x80\x80\x80\"",
    "\"\xff\"", "\"\x80\"", "\"\xc2\"", "\"\xe0\x80\"", "\"a\x01\"",
    "\"a\x1f\"", "{\"a\x01\":1}", "18446744073709551615",
    "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
    "99999999999999999999999", "1e999", "-1e999",
    "{\"a\":\"\\ud800\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":\"\\ud800\\n\"}",
    "{\"a\":\"\\ud800\\ud800\\udc00\"}", "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800\\u0000x\"}",
    "{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":1,\"a\":\"x\"}", "{\"a\":{},\"a\":2}",
    "{\"\\u0061\":3}", "{\"a\\u0000zz\":4}", "{\"model\":\"gpt\\/4o\"}",
    "{\"usage\":{\"prompt_tokens\":1.9e3,\"cached_tokens\":\"12x\"}}",
    "{\"usage\":{\"prompt_tokens\":true,\"completion_tokens\":-7}}",
    "{\"b\":[[[]]],\"a\":[ ],\"choices\":[\n]}", "{\"b\":NaN,\"a\":-Infinity}",
    "{\"a\":\"\\\"}\\\\\"}", "{\"a\":\" \\\\\",\"b\":1}",
    "{\"a\":\"x\\u0000y\\u0000\"}", "{\"a\":\"\\ud800\\u0000\"}",
    "{\"a\":\"\\ud800\"}", "{\"a\":[1,\"x\",[],{},null,true,2.5]}",
};

static const char *const seeds[] = {
    "{\"id\":\"chatcmpl-mock1\",\"object\":\"chat.completion\",\"created\":"
    "1795652208,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"mock0 \\\"mock1\\\" \\u00e9\\ud83d\\ude00 m\\n\",\"refusal\":null},"
    "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{"
    "\"prompt_tokens\":256,\"completion_tokens\":5,\"total_tokens\":261,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
    "{ \"model\" : \"m\\u00e9\" , \"a\" : [ 1 , -2.5e3 , true , false , null ,"
    " NaN , -Infinity , { \"b\" : { } } ] , \"usage\" : { \"prompt_tokens\" :"
    " 12 , \"prompt_tokens_details\" : { \"cached_tokens\" : 3 } } }\n",
    "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"b\":[\"\\t\",\"\\\\\"],"
    "\"usage\":null,\"model\":7}",
};

/* Mutations: bytes that matter to a JSON tokenizer. */
static const char alphabet[] = "{}[]\",:\\/ \t\n\r-+.0123456789eEINaflnrstu"
                               "\x01\x7f\x80\xbf\xc0\xc3\xe0\xed\xf0\xf4\xf8"
                               "\xff";

static size_t mutate(const char *seed, char *out, size_t cap,
                     unsigned *rng)
{
    size_t len = strlen(seed);
    int n = 1 + (int)(rand_r(rng) % 3);

    memcpy(out, seed, len);
    for (int i = 0; i < n && len > 0; i++) {
        size_t at = (size_t)rand_r(rng) % len;
        char c = alphabet[(size_t)rand_r(rng) % (sizeof(alphabet) - 1)];

        switch (rand_r(rng) % 4) {
        case 0:
            out[at] = c;
            break;
        case 1:
            if (len + 1 < cap) {
                memmove(out + at + 1, out + at, len - at);
                out[at] = c;
                len++;
            }
            break;
        case 2:
            memmove(out + at, out + at + 1, len - at - 1);
            len--;
            break;
        default:
            len = at + 1;              /* truncated */
        }
    }
    return len;
}

int main(void)
{
    char buf[4096];
    unsigned rng = 20261126;
    long rounds = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        compare(cases[i], strlen(cases[i]));
    for (int d = 62; d <= 66; d++) {
        size_t k = 0;

        for (int i = 0; i < d; i++)
            buf[k++] = '[';
        for (int i = 0; i < d; i++)
            buf[k++] = ']';
        compare(buf, k);
        k = 0;
        for (int i = 0; i < d; i++) {
            memcpy(buf + k, "{\"a\":", 5);
            k += 5;
        }
        buf[k++] = '1';
        for (int i = 0; i < d; i++)
            buf[k++] = '}';
        compare(buf, k);
        buf[0] = '[';                 /* a scalar in the innermost array */
        for (k = 1; k < (size_t)d; k++)
            buf[k] = '[';
        buf[k++] = '2';
        for (int i = 0; i < d; i++)
            buf[k++] = ']';
        compare(buf, k);
    }
    T_OK(mismatches == 0, "edge cases: the scanner agrees with json-c");

    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
        for (int i = 0; i < 60000; i++, rounds++)
            compare(buf, mutate(seeds[s], buf, sizeof(buf), &rng));
    T_OK(mismatches == 0, "random mutations: the scanner agrees with json-c");
    printf("# %ld mutated documents\n", rounds);

    {
        struct jspan root, u, v;
        const char *r = seeds[0];
        char model[8];

        T_OK(jscan(r, strlen(r), &root) == 0 && root.type == JS_OBJECT,
             "a chat completion scans");
        T_OK(jspan_member(&root, "usage", &u) &&
             jspan_member(&u, "prompt_tokens", &v) && jspan_int64(&v) == 256,
             "usage.prompt_tokens");
        T_OK(jspan_member(&root, "model", &v) &&
             jspan_string(&v, model, sizeof(model)) == 7 &&
             strcmp(model, "gpt-4o-") == 0, "model, cut to the buffer");
    }
    return t_done();
}
