#include "validate.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "jsonutil.h"

static int check_int(json_object *o, const char *k, int64_t min, int64_t max)
{
    json_object *v;
    int64_t n;

    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v,
                                                        json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    n = json_object_get_int64(v);
    return n >= min && n <= max ? 0 : -1;
}

static int check_messages(json_object *req, const char **why)
{
    json_object *msgs;
    size_t n;

    if (!json_object_object_get_ex(req, "messages", &msgs)) {
        *why = "you must provide a messages parameter";
        return -1;
    }
    if (!json_object_is_type(msgs, json_type_array) ||
        (n = json_object_array_length(msgs)) == 0) {
        *why = "messages must be a non-empty array";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);

        if (!json_object_is_type(m, json_type_object) ||
            jget_str(m, "role") == NULL) {
            *why = "each message must be an object with a string role";
            return -1;
        }
    }
    return 0;
}

/* The object and its model: shared by every operation. */
static int check_model(json_object *req, struct chat_params *p,
                       const char **why, const char **param)
{
    size_t mlen;

    memset(p, 0, sizeof(*p));
    *param = NULL;
    if (!json_object_is_type(req, json_type_object)) {
        *why = "the request body must be a JSON object";
        return -1;
    }
    p->model = jget_str(req, "model");
    *param = "model";
    if (p->model == NULL) {
        *why = "you must provide a model parameter (a string)";
        return -1;
    }
    mlen = strlen(p->model);
    if (mlen == 0 || mlen > MODEL_NAME_MAX ||
        mlen != (size_t)json_object_get_string_len(
                    json_object_object_get(req, "model"))) {
        *why = "model must be a non-empty name of at most 128 characters";
        return -1;
    }
    for (size_t i = 0; i < mlen; i++)
        if ((unsigned char)p->model[i] < 0x20) {
            *why = "model contains control characters";
            return -1;
        }
    *param = NULL;
    return 0;
}

int embed_validate(json_object *req, struct chat_params *p, const char **why,
                   const char **param)
{
    json_object *in;

    if (check_model(req, p, why, param) < 0)
        return -1;
    *param = "input";
    if (!json_object_object_get_ex(req, "input", &in)) {
        *why = "you must provide an input parameter";
        return -1;
    }
    if (json_object_is_type(in, json_type_string))
        goto ok;
    if (!json_object_is_type(in, json_type_array) ||
        json_object_array_length(in) == 0 ||
        json_object_array_length(in) > 2048) {
        *why = "input must be a string or an array of 1 to 2048 items";
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(in); i++) {
        json_object *v = json_object_array_get_idx(in, i);

        if (!json_object_is_type(v, json_type_string) &&
            !json_object_is_type(v, json_type_int) &&
            !json_object_is_type(v, json_type_array)) {
            *why = "input items must be strings or token arrays";
            return -1;
        }
    }
ok:
    *param = NULL;
    return 0;
}

int chat_validate(json_object *req, struct chat_params *p, const char **why,
                  const char **param)
{
    json_object *v, *so;

    if (check_model(req, p, why, param) < 0)
        return -1;
    *param = "messages";
    if (check_messages(req, why) < 0)
        return -1;
    *param = "stream";
    if (json_object_object_get_ex(req, "stream", &v) &&
        !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            *why = "stream must be a boolean";
            return -1;
        }
        p->stream = json_object_get_boolean(v);
    }
    *param = "stream_options";
    if (json_object_object_get_ex(req, "stream_options", &so) &&
        !json_object_is_type(so, json_type_null)) {
        if (!json_object_is_type(so, json_type_object)) {
            *why = "stream_options must be an object";
            return -1;
        }
        if (json_object_object_get_ex(so, "include_usage", &v))
            p->client_usage = json_object_get_boolean(v);
    }
    if (check_int(req, "max_tokens", 1, INT32_MAX) < 0) {
        *param = "max_tokens";
        *why = "max_tokens must be an integer between 1 and 2147483647";
        return -1;
    }
    if (check_int(req, "max_completion_tokens", 1, INT32_MAX) < 0) {
        *param = "max_completion_tokens";
        *why = "max_completion_tokens must be an integer between 1 and "
               "2147483647";
        return -1;
    }
    if (check_int(req, "n", 1, 128) < 0) {
        *param = "n";
        *why = "n must be an integer between 1 and 128";
        return -1;
    }
    *param = NULL;
    return 0;
}


/* --- the same over the scanner -------------------------------------- */

/* The members the checks read, found in one pass over the request. */
enum { K_MODEL, K_MESSAGES, K_STREAM, K_STREAM_OPTIONS, K_MAX_TOKENS,
       K_MAX_COMPLETION_TOKENS, K_N, K_INPUT, K_COUNT };

static const char *const scan_keys[K_COUNT] = {
    "model", "messages", "stream", "stream_options", "max_tokens",
    "max_completion_tokens", "n", "input"
};

struct scanned {
    unsigned got;
    struct jspan v[K_COUNT];
};

static const struct jspan *member(const struct scanned *m, int k)
{
    return m->got & 1u << k ? &m->v[k] : NULL;
}

static int scan_int(const struct jspan *v, int64_t min, int64_t max)
{
    int64_t n;

    if (v == NULL || v->type == JS_NULL)
        return 0;
    if (v->type != JS_INT)
        return -1;
    n = jspan_int64(v);
    return n >= min && n <= max ? 0 : -1;
}

static int scan_messages(const struct jspan *msgs, const char **why)
{
    struct jspan m, role;
    const char *it = NULL;

    if (msgs == NULL) {
        *why = "you must provide a messages parameter";
        return -1;
    }
    if (msgs->type != JS_ARRAY || jspan_array_empty(msgs)) {
        *why = "messages must be a non-empty array";
        return -1;
    }
    while (jspan_next(msgs, &it, &m))
        if (m.type != JS_OBJECT || !jspan_member(&m, "role", &role) ||
            role.type != JS_STRING) {
            *why = "each message must be an object with a string role";
            return -1;
        }
    return 0;
}

static int scan_model(const struct jspan *req, struct scanned *m,
                      struct chat_params *p, const char **why,
                      const char **param)
{
    const struct jspan *v;
    size_t mlen, full;

    memset(p, 0, sizeof(*p));
    *param = NULL;
    if (req->type != JS_OBJECT) {
        *why = "the request body must be a JSON object";
        return -1;
    }
    m->got = jspan_members(req, scan_keys, K_COUNT, m->v);
    *param = "model";
    if ((v = member(m, K_MODEL)) == NULL || v->type != JS_STRING) {
        *why = "you must provide a model parameter (a string)";
        return -1;
    }
    full = jspan_strlen(v, &mlen);
    if (mlen == 0 || mlen > MODEL_NAME_MAX || mlen != full) {
        *why = "model must be a non-empty name of at most 128 characters";
        return -1;
    }
    jspan_string(v, p->model_buf, sizeof(p->model_buf));
    p->model = p->model_buf;
    for (size_t i = 0; i < mlen; i++)
        if ((unsigned char)p->model[i] < 0x20) {
            *why = "model contains control characters";
            return -1;
        }
    return 0;
}

/* json_object_get_boolean() */
static int scan_bool(const struct jspan *v)
{
    size_t cut;

    switch (v->type) {
    case JS_BOOL:
        return *v->p == 't';
    case JS_INT:
        return jspan_int64(v) != 0;
    case JS_DOUBLE:
        return strtod(v->p, NULL) != 0;   /* the text ends the number */
    case JS_STRING:
        return jspan_strlen(v, &cut) != 0;
    default:
        return 0;
    }
}

int embed_validate_scan(const struct jspan *req, struct chat_params *p,
                        const char **why, const char **param)
{
    struct scanned m;
    const struct jspan *in;
    struct jspan v;
    const char *it = NULL;
    size_t n = 0;

    if (scan_model(req, &m, p, why, param) < 0)
        return -1;
    *param = "input";
    if ((in = member(&m, K_INPUT)) == NULL) {
        *why = "you must provide an input parameter";
        return -1;
    }
    if (in->type == JS_STRING)
        goto ok;
    while (n <= 2048 && jspan_next(in, &it, &v))
        n++;
    if (in->type != JS_ARRAY || n == 0 || n > 2048) {
        *why = "input must be a string or an array of 1 to 2048 items";
        return -1;
    }
    for (it = NULL; jspan_next(in, &it, &v);)
        if (v.type != JS_STRING && v.type != JS_INT && v.type != JS_ARRAY) {
            *why = "input items must be strings or token arrays";
            return -1;
        }
ok:
    *param = NULL;
    return 0;
}

int chat_validate_scan(const struct jspan *req, struct chat_params *p,
                       const char **why, const char **param)
{
    struct scanned m;
    const struct jspan *v, *so;
    struct jspan u;

    if (scan_model(req, &m, p, why, param) < 0)
        return -1;
    *param = "messages";
    if (scan_messages(member(&m, K_MESSAGES), why) < 0)
        return -1;
    *param = "stream";
    if ((v = member(&m, K_STREAM)) != NULL && v->type != JS_NULL) {
        if (v->type != JS_BOOL) {
            *why = "stream must be a boolean";
            return -1;
        }
        p->stream = *v->p == 't';
    }
    *param = "stream_options";
    if ((so = member(&m, K_STREAM_OPTIONS)) != NULL && so->type != JS_NULL) {
        if (so->type != JS_OBJECT) {
            *why = "stream_options must be an object";
            return -1;
        }
        if (jspan_member(so, "include_usage", &u))
            p->client_usage = scan_bool(&u);
    }
    if (scan_int(member(&m, K_MAX_TOKENS), 1, INT32_MAX) < 0) {
        *param = "max_tokens";
        *why = "max_tokens must be an integer between 1 and 2147483647";
        return -1;
    }
    if (scan_int(member(&m, K_MAX_COMPLETION_TOKENS), 1, INT32_MAX) < 0) {
        *param = "max_completion_tokens";
        *why = "max_completion_tokens must be an integer between 1 and "
               "2147483647";
        return -1;
    }
    if (scan_int(member(&m, K_N), 1, 128) < 0) {
        *param = "n";
        *why = "n must be an integer between 1 and 128";
        return -1;
    }
    *param = NULL;
    return 0;
}
