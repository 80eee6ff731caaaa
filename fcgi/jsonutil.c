#include "jsonutil.h"

#include <json-c/json.h>
#include <string.h>

int jadd(json_object *o, const char *k, json_object *v)
{
    if (v == NULL || json_object_object_add(o, k, v) < 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

json_object *jparse(const char *s, size_t len, const char **why)
{
    struct json_tokener *tok;
    json_object *o;
    size_t end;

    if (len > INT32_MAX - 1) {
        if (why)
            *why = "too large";
        return NULL;
    }
    tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (tok == NULL)
        return NULL;
    /* strict: no comments, no single quotes, no trailing commas; and
     * validate UTF-8 so nothing malformed reaches a provider */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, s, (int)len);
    if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
        /* a bare number needs the end of input to finish */
        o = json_tokener_parse_ex(tok, "", 1);
        if (o != NULL)
            end = len;
        else
            end = 0;
    } else {
        end = json_tokener_get_parse_end(tok);
    }
    if (o == NULL) {
        enum json_tokener_error e = json_tokener_get_error(tok);

        if (why)
            *why = e == json_tokener_continue ? "unexpected end of input"
                                              : json_tokener_error_desc(e);
        json_tokener_free(tok);
        return NULL;
    }
    while (end < len && strchr(" \t\r\n", s[end]) != NULL && s[end])
        end++;
    json_tokener_free(tok);
    if (end != len) {
        if (why)
            *why = "unexpected data after the JSON value";
        json_object_put(o);
        return NULL;
    }
    return o;
}

const char *jget_str(json_object *o, const char *k)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int64_t jget_int(json_object *o, const char *k, int64_t dflt)
{
    json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
        !json_object_is_type(v, json_type_int))
        return dflt;
    return json_object_get_int64(v);
}

int json_has_object_member(const char *s, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    const char *end = s + len, *p = s;

    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));

        if (q == NULL || (size_t)(end - q) < nlen + 2)
            return 0;
        if (memcmp(q + 1, name, nlen) == 0 && q[nlen + 1] == '"') {
            const char *r = q + nlen + 2;

            while (r < end && strchr(" \t\r\n", *r) && *r)
                r++;
            if (r < end && *r == ':') {
                r++;
                while (r < end && strchr(" \t\r\n", *r) && *r)
                    r++;
                if (r < end && *r == '{')
                    return 1;
            }
        }
        p = q + 1;
    }
    return 0;
}
