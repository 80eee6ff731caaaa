#include "oai.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../buf.h"
#include "../jsonutil.h"
#include "../usage.h"

void oai_stream_init(struct oai_stream *s, const char *request_id,
                     const char *model)
{
    snprintf(s->id, sizeof(s->id), "chatcmpl-%s", request_id);
    s->created = (long)time(NULL);
    usage_set(s->model, sizeof(s->model), model);
    s->role_sent = 0;
    s->finished = 0;
}

static void chunk_head(struct oai_stream *s, struct buf *b)
{
    buf_adds(b, "{\"id\":\"");
    buf_adds(b, s->id);
    buf_addf(b, "\",\"object\":\"chat.completion.chunk\",\"created\":%ld,"
             "\"model\":", s->created);
    buf_add_json_str(b, s->model, strlen(s->model));
}

static int send(struct provider_call *c, struct chunk_sink *sink,
                int usage_only)
{
    if (buf_error(c->scratch))
        return -1;
    return sink->chunk(sink->ctx, c->scratch->ptr, c->scratch->len,
                       usage_only);
}

/* {"id",...,"choices":[{"index":0,"delta":{DELTA},"finish_reason":FR}]} */
static int emit_delta(struct oai_stream *s, struct provider_call *c,
                      struct chunk_sink *sink, const char *delta,
                      const char *finish)
{
    struct buf *b = c->scratch;

    buf_reset(b);
    chunk_head(s, b);
    buf_adds(b, ",\"choices\":[{\"index\":0,\"delta\":{");
    buf_adds(b, delta);
    buf_adds(b, "},\"logprobs\":null,\"finish_reason\":");
    if (finish != NULL)
        buf_add_json_str(b, finish, strlen(finish));
    else
        buf_adds(b, "null");
    buf_adds(b, "}]}");
    return send(c, sink, 0);
}

static int ensure_role(struct oai_stream *s, struct provider_call *c,
                       struct chunk_sink *sink)
{
    if (s->role_sent)
        return 0;
    s->role_sent = 1;
    return emit_delta(s, c, sink, "\"role\":\"assistant\",\"content\":\"\"",
                      NULL);
}

int oai_emit_text(struct oai_stream *s, struct provider_call *c,
                  struct chunk_sink *sink, const char *text, size_t len)
{
    struct buf d = BUF_INIT((size_t)64 << 20);
    int rc;

    if (len == 0)
        return ensure_role(s, c, sink);
    if (ensure_role(s, c, sink) < 0)
        return -1;
    buf_adds(&d, "\"content\":");
    buf_add_json_str(&d, text, len);
    rc = buf_error(&d) ? -1 : emit_delta(s, c, sink, d.ptr, NULL);
    buf_release(&d);
    return rc;
}

int oai_emit_tool_call(struct oai_stream *s, struct provider_call *c,
                       struct chunk_sink *sink, int index, const char *id,
                       const char *name, const char *args, size_t args_len)
{
    struct buf d = BUF_INIT((size_t)64 << 20);
    int rc;

    if (ensure_role(s, c, sink) < 0)
        return -1;
    buf_addf(&d, "\"tool_calls\":[{\"index\":%d", index);
    if (id != NULL) {
        buf_adds(&d, ",\"id\":");
        buf_add_json_str(&d, id, strlen(id));
        buf_adds(&d, ",\"type\":\"function\"");
    }
    buf_adds(&d, ",\"function\":{");
    if (name != NULL) {
        buf_adds(&d, "\"name\":");
        buf_add_json_str(&d, name, strlen(name));
        buf_addc(&d, ',');
    }
    buf_adds(&d, "\"arguments\":");
    buf_add_json_str(&d, args ? args : "", args ? args_len : 0);
    buf_adds(&d, "}}]");
    rc = buf_error(&d) ? -1 : emit_delta(s, c, sink, d.ptr, NULL);
    buf_release(&d);
    return rc;
}

int oai_emit_finish(struct oai_stream *s, struct provider_call *c,
                    struct chunk_sink *sink, const char *finish_reason)
{
    if (s->finished)
        return 0;
    s->finished = 1;
    if (ensure_role(s, c, sink) < 0)
        return -1;
    return emit_delta(s, c, sink, "", finish_reason ? finish_reason : "stop");
}

void oai_usage_json(struct buf *out, const struct usage_event *ev)
{
    buf_addf(out, "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
             "\"total_tokens\":%lld,\"prompt_tokens_details\":"
             "{\"cached_tokens\":%lld}}",
             (long long)ev->prompt_tokens, (long long)ev->completion_tokens,
             (long long)ev->total_tokens, (long long)ev->cached_tokens);
}

int oai_emit_usage(struct oai_stream *s, struct provider_call *c,
                   struct chunk_sink *sink)
{
    struct buf *b = c->scratch;

    buf_reset(b);
    chunk_head(s, b);
    buf_adds(b, ",\"choices\":[],\"usage\":");
    oai_usage_json(b, c->ev);
    buf_addc(b, '}');
    return send(c, sink, 1);
}

void oai_completion(struct buf *out, const char *request_id,
                    const char *model, json_object *message,
                    const char *finish_reason, const struct usage_event *ev)
{
    buf_addf(out, "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion\","
             "\"created\":%ld,\"model\":", request_id, (long)time(NULL));
    buf_add_json_str(out, model, strlen(model));
    buf_adds(out, ",\"choices\":[{\"index\":0,\"message\":");
    buf_adds(out, json_object_to_json_string_ext(message,
                  JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    buf_adds(out, ",\"logprobs\":null,\"finish_reason\":");
    buf_add_json_str(out, finish_reason, strlen(finish_reason));
    buf_adds(out, "}],\"usage\":");
    oai_usage_json(out, ev);
    buf_addc(out, '}');
}

void oai_error(struct buf *out, const char *message, const char *type,
               const char *code)
{
    buf_adds(out, "{\"error\":{\"message\":");
    buf_add_json_str(out, message, strlen(message));
    buf_adds(out, ",\"type\":");
    buf_add_json_str(out, type, strlen(type));
    buf_adds(out, ",\"param\":null,\"code\":");
    if (code != NULL)
        buf_add_json_str(out, code, strlen(code));
    else
        buf_adds(out, "null");
    buf_adds(out, "}}");
}

const char *oai_error_type(long status)
{
    switch (status) {
    case 400: case 404: case 409: case 413: case 422:
        return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

void oai_set_usage(struct usage_event *ev, long long in, long long out,
                   long long cached)
{
    if (in < 0 || out < 0 || cached < 0)
        return;
    ev->prompt_tokens = in;
    ev->completion_tokens = out;
    ev->cached_tokens = cached <= in ? cached : in;
    ev->total_tokens = in + out;
    ev->has_usage = 1;
}

int oai_content_text(json_object *content, struct buf *out)
{
    size_t n;

    if (content == NULL || json_object_is_type(content, json_type_null))
        return 0;
    if (json_object_is_type(content, json_type_string)) {
        buf_add(out, json_object_get_string(content),
                (size_t)json_object_get_string_len(content));
        return 0;
    }
    if (!json_object_is_type(content, json_type_array))
        return -1;
    n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i), *t;
        const char *type = jget_str(part, "type");

        if (type != NULL && strcmp(type, "text") == 0 &&
            json_object_object_get_ex(part, "text", &t))
            buf_add(out, json_object_get_string(t),
                    (size_t)json_object_get_string_len(t));
    }
    return 0;
}

long long oai_max_tokens(json_object *req, long long dflt)
{
    long long v = jget_int(req, "max_completion_tokens", -1);

    if (v <= 0)
        v = jget_int(req, "max_tokens", -1);
    return v > 0 ? v : dflt;
}

json_object *oai_tool_schema(json_object *fn)
{
    json_object *params, *empty;

    if (json_object_object_get_ex(fn, "parameters", &params) &&
        json_object_is_type(params, json_type_object))
        return json_object_get(params);
    empty = json_object_new_object();
    jadd(empty, "type", json_object_new_string("object"));
    jadd(empty, "properties", json_object_new_object());
    return empty;
}
