#include "validate.h"

#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "jsonutil.h"

#define MODEL_NAME_MAX 128

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

