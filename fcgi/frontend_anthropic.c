/* The Anthropic Messages API as a client dialect. parse() turns a Messages
 * request into the unified (OpenAI Chat Completions) request; reply(),
 * chunk()/stream_end() and error() turn the unified reply, stream and
 * errors back into Anthropic's message, SSE events and error shape. */
#include "frontend_anthropic.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonutil.h"
#include "relay.h"
#include "request.h"
#include "validate.h"
#include "xalloc.h"

#define ANT_WHY_MAX 256

/* --- request: Anthropic -> unified --------------------------------------- */

/* Sets a message for the client (why: ANT_WHY_MAX bytes); returns -1. */
static int bad(char *why, const char *fmt, ...) GW_PRINTF(2, 3);

static int bad(char *why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, ANT_WHY_MAX, fmt, ap);
    va_end(ap);
    return -1;
}

static json_object *text_part(const char *text)
{
    json_object *p = json_object_new_object();

    jadd(p, "type", json_object_new_string("text"));
    jadd(p, "text", json_object_new_string(text));
    return p;
}

/* An image block's source -> an image_url part (data: URL for base64). */
static json_object *image_part(json_object *block)
{
    json_object *src, *p, *iu;
    const char *type, *url = NULL;
    struct buf b = BUF_INIT((size_t)64 << 20);

    if (!json_object_object_get_ex(block, "source", &src) ||
        (type = jget_str(src, "type")) == NULL)
        return NULL;
    if (strcmp(type, "base64") == 0 && jget_str(src, "media_type") &&
        jget_str(src, "data")) {
        buf_addf(&b, "data:%s;base64,", jget_str(src, "media_type"));
        buf_adds(&b, jget_str(src, "data"));
        url = buf_error(&b) ? NULL : b.ptr;
    } else if (strcmp(type, "url") == 0) {
        url = jget_str(src, "url");
    }
    if (url == NULL) {
        buf_release(&b);
        return NULL;
    }
    p = json_object_new_object();
    iu = json_object_new_object();
    jadd(iu, "url", json_object_new_string(url));
    jadd(p, "type", json_object_new_string("image_url"));
    jadd(p, "image_url", iu);
    buf_release(&b);
    return p;
}

/* Text of a string or an array of blocks (text blocks only). */
static int blocks_text(json_object *content, struct buf *out)
{
    size_t n;

    if (json_object_is_type(content, json_type_string)) {
        buf_adds(out, json_object_get_string(content));
        return 0;
    }
    if (!json_object_is_type(content, json_type_array))
        return -1;
    n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(content, i);
        const char *type = jget_str(b, "type");

        if (type != NULL && strcmp(type, "text") == 0 && jget_str(b, "text"))
            buf_adds(out, jget_str(b, "text"));
        else if (type == NULL || strcmp(type, "image") != 0)
            return -1;       /* images in tool results are left out */
    }
    return 0;
}

/* {"role":role,"content":text} (plus tool_call_id for tool messages). */
static json_object *text_message(const char *role, const char *text,
                                 const char *tool_call_id)
{
    json_object *m = json_object_new_object();

    jadd(m, "role", json_object_new_string(role));
    if (tool_call_id != NULL)
        jadd(m, "tool_call_id", json_object_new_string(tool_call_id));
    jadd(m, "content", json_object_new_string(text));
    return m;
}

/* A tool_result block -> a role "tool" message appended to msgs. */
static int tool_result(json_object *msgs, json_object *block, char *why,
                       size_t i, size_t j)
{
    const char *id = jget_str(block, "tool_use_id");
    json_object *content = NULL;
    struct buf t = BUF_INIT((size_t)64 << 20);
    int rc = 0;

    if (id == NULL)
        return bad(why, "messages.%zu.content.%zu.tool_use_id: Field "
                   "required", i, j);
    if (json_object_object_get_ex(block, "content", &content) &&
        !json_object_is_type(content, json_type_null) &&
        blocks_text(content, &t) < 0)
        rc = bad(why, "messages.%zu.content.%zu.content: must be a string "
                 "or text and image blocks", i, j);
    if (rc == 0 && buf_error(&t) == 0)
        json_object_array_add(msgs, text_message("tool", t.ptr ? t.ptr : "",
                                                 id));
    buf_release(&t);
    return rc;
}

/* The blocks of a user message: tool results become tool messages (first,
 * as OpenAI wants them right after the assistant's calls), the rest one
 * user message. */
static int user_blocks(json_object *msgs, json_object *content, char *why,
                       size_t i)
{
    json_object *parts = json_object_new_array();
    size_t n = json_object_array_length(content);
    int rc = 0;

    for (size_t j = 0; j < n && rc == 0; j++) {
        json_object *b = json_object_array_get_idx(content, j), *p = NULL;
        const char *type = jget_str(b, "type");

        if (type == NULL)
            rc = bad(why, "messages.%zu.content.%zu.type: Field required",
                     i, j);
        else if (strcmp(type, "text") == 0 && jget_str(b, "text") != NULL)
            p = text_part(jget_str(b, "text"));
        else if (strcmp(type, "image") == 0 && (p = image_part(b)) == NULL)
            rc = bad(why, "messages.%zu.content.%zu.source: a base64 or "
                     "url image source is required", i, j);
        else if (strcmp(type, "tool_result") == 0)
            rc = tool_result(msgs, b, why, i, j);
        else if (strcmp(type, "image") != 0)
            rc = bad(why, "messages.%zu.content.%zu: block type `%s` is not "
                     "supported here", i, j, type);
        if (p != NULL)
            json_object_array_add(parts, p);
    }
    if (rc == 0 && json_object_array_length(parts) > 0) {
        json_object *m = json_object_new_object();

        jadd(m, "role", json_object_new_string("user"));
        jadd(m, "content", json_object_get(parts));
        json_object_array_add(msgs, m);
    }
    json_object_put(parts);
    return rc;
}

/* A tool_use block -> an OpenAI tool call (arguments as a JSON string). */
static json_object *tool_call(json_object *b)
{
    json_object *tc = json_object_new_object(), *fn = json_object_new_object();
    json_object *input = NULL;

    json_object_object_get_ex(b, "input", &input);
    jadd(tc, "id", json_object_new_string(jget_str(b, "id")));
    jadd(tc, "type", json_object_new_string("function"));
    jadd(fn, "name", json_object_new_string(jget_str(b, "name")));
    jadd(fn, "arguments", json_object_new_string(input != NULL
         ? json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN |
                                          JSON_C_TO_STRING_NOSLASHESCAPE)
         : "{}"));
    jadd(tc, "function", fn);
    return tc;
}

static int assistant_blocks(json_object *msgs, json_object *content,
                            char *why, size_t i)
{
    json_object *calls = json_object_new_array(), *m;
    struct buf text = BUF_INIT((size_t)64 << 20);
    size_t n = json_object_array_length(content);
    int rc = 0;

    for (size_t j = 0; j < n && rc == 0; j++) {
        json_object *b = json_object_array_get_idx(content, j);
        const char *type = jget_str(b, "type");

        if (type != NULL && strcmp(type, "text") == 0 && jget_str(b, "text"))
            buf_adds(&text, jget_str(b, "text"));
        else if (type != NULL && strcmp(type, "tool_use") == 0 &&
                 jget_str(b, "id") && jget_str(b, "name"))
            json_object_array_add(calls, tool_call(b));
        else if (type == NULL || (strcmp(type, "thinking") != 0 &&
                                  strcmp(type, "redacted_thinking") != 0))
            rc = bad(why, "messages.%zu.content.%zu: block type `%s` is not "
                     "supported here", i, j, type ? type : "?");
    }
    if (rc == 0 && buf_error(&text) == 0) {
        m = text_message("assistant", text.ptr ? text.ptr : "", NULL);
        if (json_object_array_length(calls) > 0) {
            if (text.len == 0)
                json_object_object_add(m, "content", NULL);
            jadd(m, "tool_calls", json_object_get(calls));
        }
        json_object_array_add(msgs, m);
    }
    json_object_put(calls);
    buf_release(&text);
    return rc;
}

/* The system prompt: a string or text blocks (joined by blank lines). */
static int system_message(json_object *msgs, json_object *sys, char *why,
                          const char *where)
{
    struct buf t = BUF_INIT((size_t)64 << 20);
    int rc = 0;

    if (blocks_text(sys, &t) < 0)
        rc = bad(why, "%s: must be a string or an array of text blocks",
                 where);
    else if (buf_error(&t) == 0)
        json_object_array_add(msgs, text_message("system",
                                                 t.ptr ? t.ptr : "", NULL));
    buf_release(&t);
    return rc;
}

static int one_message(json_object *msgs, json_object *m, char *why,
                       size_t i)
{
    const char *role = jget_str(m, "role");
    json_object *c;

    if (role == NULL || (strcmp(role, "user") != 0 &&
                         strcmp(role, "assistant") != 0 &&
                         strcmp(role, "system") != 0))
        return bad(why, "messages.%zu.role: must be \"user\" or "
                   "\"assistant\"", i);
    if (!json_object_object_get_ex(m, "content", &c) ||
        (!json_object_is_type(c, json_type_string) &&
         !json_object_is_type(c, json_type_array)))
        return bad(why, "messages.%zu.content: must be a string or an "
                   "array of content blocks", i);
    if (strcmp(role, "system") == 0)
        return system_message(msgs, c, why, "messages.content");
    if (json_object_is_type(c, json_type_string)) {
        json_object_array_add(msgs, text_message(role,
                                                 json_object_get_string(c),
                                                 NULL));
        return 0;
    }
    return strcmp(role, "user") == 0 ? user_blocks(msgs, c, why, i)
                                     : assistant_blocks(msgs, c, why, i);
}

static int messages(json_object *in, json_object *out, char *why)
{
    json_object *src, *msgs = json_object_new_array(), *sys;
    size_t n;

    jadd(out, "messages", msgs);
    if (json_object_object_get_ex(in, "system", &sys) &&
        !json_object_is_type(sys, json_type_null) &&
        system_message(msgs, sys, why, "system") < 0)
        return -1;
    if (!json_object_object_get_ex(in, "messages", &src) ||
        !json_object_is_type(src, json_type_array) ||
        (n = json_object_array_length(src)) == 0)
        return bad(why, "messages: a non-empty array is required");
    for (size_t i = 0; i < n; i++)
        if (one_message(msgs, json_object_array_get_idx(src, i), why, i) < 0)
            return -1;
    return 0;
}

/* tools [{name, description, input_schema}] -> OpenAI function tools. */
static int tools(json_object *in, json_object *out, char *why)
{
    json_object *src, *dst, *schema;
    size_t n;

    if (!json_object_object_get_ex(in, "tools", &src) ||
        json_object_is_type(src, json_type_null))
        return 0;
    if (!json_object_is_type(src, json_type_array))
        return bad(why, "tools: must be an array");
    dst = json_object_new_array();
    jadd(out, "tools", dst);
    n = json_object_array_length(src);
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(src, i), *ft, *fn;
        const char *type = jget_str(t, "type");

        if (type != NULL && strcmp(type, "custom") != 0)
            return bad(why, "tools.%zu: tool type `%s` is not supported by "
                       "this gateway", i, type);
        if (jget_str(t, "name") == NULL ||
            !json_object_object_get_ex(t, "input_schema", &schema))
            return bad(why, "tools.%zu: name and input_schema are "
                       "required", i);
        fn = json_object_new_object();
        jadd(fn, "name", json_object_new_string(jget_str(t, "name")));
        if (jget_str(t, "description") != NULL)
            jadd(fn, "description",
                 json_object_new_string(jget_str(t, "description")));
        jadd(fn, "parameters", json_object_get(schema));
        ft = json_object_new_object();
        jadd(ft, "type", json_object_new_string("function"));
        jadd(ft, "function", fn);
        json_object_array_add(dst, ft);
    }
    return 0;
}

/* tool_choice {type: auto|any|tool|none, name, disable_parallel_tool_use} */
static int tool_choice(json_object *in, json_object *out, char *why)
{
    json_object *tc, *v, *fn, *o;
    const char *type;

    if (!json_object_object_get_ex(in, "tool_choice", &tc) ||
        json_object_is_type(tc, json_type_null))
        return 0;
    type = jget_str(tc, "type");
    if (type == NULL)
        return bad(why, "tool_choice.type: Field required");
    if (strcmp(type, "auto") == 0 || strcmp(type, "none") == 0) {
        jadd(out, "tool_choice", json_object_new_string(type));
    } else if (strcmp(type, "any") == 0) {
        jadd(out, "tool_choice", json_object_new_string("required"));
    } else if (strcmp(type, "tool") == 0 && jget_str(tc, "name") != NULL) {
        fn = json_object_new_object();
        jadd(fn, "name", json_object_new_string(jget_str(tc, "name")));
        o = json_object_new_object();
        jadd(o, "type", json_object_new_string("function"));
        jadd(o, "function", fn);
        jadd(out, "tool_choice", o);
    } else {
        return bad(why, "tool_choice.type: `%s` is not one of auto, any, "
                   "tool (with a name), none", type);
    }
    if (json_object_object_get_ex(tc, "disable_parallel_tool_use", &v) &&
        json_object_get_boolean(v) &&
        json_object_object_get_ex(out, "tools", &v))
        jadd(out, "parallel_tool_calls", json_object_new_boolean(0));
    return 0;
}

/* Copies member k when it has json type t (null or absent: skipped). */
static int copy(json_object *in, const char *k, json_object *out,
                const char *to, json_type t, char *why)
{
    json_object *v;

    if (!json_object_object_get_ex(in, k, &v) ||
        json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, t) && !(t == json_type_double &&
                                        json_object_is_type(v, json_type_int)))
        return bad(why, "%s: has the wrong type", k);
    jadd(out, to, json_object_get(v));
    return 0;
}

static int scalars(json_object *in, json_object *out, char *why)
{
    json_object *v, *md;

    if (copy(in, "model", out, "model", json_type_string, why) < 0 ||
        copy(in, "temperature", out, "temperature", json_type_double,
             why) < 0 ||
        copy(in, "top_p", out, "top_p", json_type_double, why) < 0 ||
        copy(in, "stop_sequences", out, "stop", json_type_array, why) < 0 ||
        copy(in, "stream", out, "stream", json_type_boolean, why) < 0)
        return -1;
    if (!json_object_object_get_ex(in, "max_tokens", &v) ||
        !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 1)
        return bad(why, "max_tokens: a positive integer is required");
    jadd(out, "max_tokens", json_object_get(v));
    if (json_object_object_get_ex(in, "metadata", &md) &&
        jget_str(md, "user_id") != NULL)
        jadd(out, "user", json_object_new_string(jget_str(md, "user_id")));
    if (json_object_object_get_ex(out, "stream", &v) &&
        json_object_get_boolean(v)) {
        json_object *so = json_object_new_object();

        jadd(so, "include_usage", json_object_new_boolean(1));
        jadd(out, "stream_options", so);
    }
    return 0;
}

/* The unified request for an Anthropic one (caller puts), or NULL with a
 * message for the client in why (ANT_WHY_MAX bytes). */
static json_object *ant_request(json_object *in, char *why)
{
    json_object *out;

    if (!json_object_is_type(in, json_type_object)) {
        snprintf(why, ANT_WHY_MAX, "the request body must be a JSON object");
        return NULL;
    }
    out = json_object_new_object();
    if (jget_str(in, "model") == NULL)
        bad(why, "model: Field required");
    else if (scalars(in, out, why) == 0 && messages(in, out, why) == 0 &&
             tools(in, out, why) == 0 && tool_choice(in, out, why) == 0)
        return out;
    json_object_put(out);
    return NULL;
}

/* --- errors --------------------------------------------------------------- */

static const char *ant_error_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 409: return "conflict_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

/* {"type":"error","error":{"type","message"},"request_id"} */
static void ant_error_json(struct buf *out, const char *type,
                           const char *msg, const char *request_id)
{
    buf_adds(out, "{\"type\":\"error\",\"error\":{\"type\":");
    buf_add_json_str(out, type, strlen(type));
    buf_adds(out, ",\"message\":");
    buf_add_json_str(out, msg, strlen(msg));
    buf_adds(out, "},\"request_id\":");
    buf_add_json_str(out, request_id, strlen(request_id));
    buf_addc(out, '}');
}

void frontend_anthropic_error(struct request *r, int status,
                              const char *code, const char *msg,
                              const char *extra)
{
    struct buf b = BUF_INIT(8192);

    r->ev.http_status = status;
    if (r->ev.error_type == NULL)
        r->ev.error_type = code;
    ant_error_json(&b, ant_error_type(status), msg, r->request_id);
    if (!r->headers_sent && buf_error(&b) == 0)
        req_send_json(r, status, b.ptr, b.len, extra ? extra : "");
    buf_release(&b);
}

static void send_error(struct request *r, int status, const char *code,
                       const char *msg)
{
    frontend_anthropic_error(r, status, code, msg, "");
}

static int ant_parse_req(struct request *r, enum provider_op op,
                         json_object **out, struct chat_params *p)
{
    const char *why = NULL, *param = NULL;
    char msg[ANT_WHY_MAX];
    json_object *in;

    (void)op;
    *out = NULL;
    in = jparse(r->body, r->body_len, &why);
    if (in == NULL) {
        snprintf(msg, sizeof(msg), "the request body is not valid JSON: %s",
                 why ? why : "parse error");
        send_error(r, 400, "invalid_json", msg);
        return -1;
    }
    *out = ant_request(in, msg);
    json_object_put(in);
    if (*out == NULL) {
        send_error(r, 400, "invalid_request", msg);
        return -1;
    }
    if (chat_validate(*out, p, &why, &param) < 0) {
        send_error(r, 400, "invalid_value", why);
        return -1;
    }
    p->client_usage = 1;     /* message_delta always carries the usage */
    return 0;
}

/* An OpenAI-shaped error (status kept, extra headers passed on). */
static void ant_error_out(struct relay *x, int status, const char *json,
                          size_t len, const char *extra)
{
    json_object *o = jparse(json, len, NULL), *e;
    const char *msg = NULL;
    struct buf b = BUF_INIT(65536);

    if (o != NULL && json_object_object_get_ex(o, "error", &e))
        msg = jget_str(e, "message");
    ant_error_json(&b, ant_error_type(status),
                   msg ? msg : "the upstream provider failed",
                   x->r->request_id);
    if (buf_error(&b) == 0)
        req_send_json(x->r, status, b.ptr, b.len, extra);
    buf_release(&b);
    json_object_put(o);
}

/* --- replies: unified -> Anthropic ---------------------------------------- */

static const char *stop_reason(const char *finish)
{
    if (finish == NULL || strcmp(finish, "stop") == 0)
        return "end_turn";
    if (strcmp(finish, "length") == 0)
        return "max_tokens";
    if (strcmp(finish, "tool_calls") == 0 ||
        strcmp(finish, "function_call") == 0)
        return "tool_use";
    if (strcmp(finish, "content_filter") == 0)
        return "refusal";
    return "end_turn";
}

/* Anthropic's usage: input_tokens are those not read from the cache. */
static void usage_json(struct buf *out, long long in, long long outt,
                       long long cached)
{
    if (cached > in)
        cached = in;
    buf_addf(out, "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":0,"
             "\"cache_read_input_tokens\":%lld,\"output_tokens\":%lld}",
             in - cached, cached, outt);
}

static void read_usage(json_object *root, long long *in, long long *out,
                       long long *cached)
{
    json_object *u, *d;

    if (!json_object_object_get_ex(root, "usage", &u) ||
        !json_object_is_type(u, json_type_object))
        return;
    *in = jget_int(u, "prompt_tokens", 0);
    *out = jget_int(u, "completion_tokens", 0);
    if (json_object_object_get_ex(u, "prompt_tokens_details", &d))
        *cached = jget_int(d, "cached_tokens", 0);
}

static void msg_id(char *dst, size_t n, const char *request_id)
{
    size_t j = 0;

    j = (size_t)snprintf(dst, n, "msg_");
    for (; *request_id && j + 1 < n; request_id++)
        if (*request_id != '-')
            dst[j++] = *request_id;
    dst[j] = '\0';
}

static void tool_use_block(struct buf *out, json_object *tc)
{
    json_object *fn = NULL, *input;
    const char *args;

    json_object_object_get_ex(tc, "function", &fn);
    args = jget_str(fn, "arguments");
    input = args ? jparse(args, strlen(args), NULL) : NULL;
    buf_adds(out, "{\"type\":\"tool_use\",\"id\":");
    buf_add_json_str(out, jget_str(tc, "id") ? jget_str(tc, "id") : "",
                     strlen(jget_str(tc, "id") ? jget_str(tc, "id") : ""));
    buf_adds(out, ",\"name\":");
    buf_add_json_str(out, jget_str(fn, "name") ? jget_str(fn, "name") : "",
                     strlen(jget_str(fn, "name") ? jget_str(fn, "name")
                                                 : ""));
    buf_adds(out, ",\"input\":");
    buf_adds(out, input != NULL && json_object_is_type(input,
                                                       json_type_object)
             ? json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE)
             : "{}");
    buf_addc(out, '}');
    json_object_put(input);
}

/* The content blocks of an assistant message: its text, then its calls. */
static void content_blocks(struct buf *out, json_object *msg)
{
    struct buf text = BUF_INIT((size_t)64 << 20);
    json_object *c = NULL, *calls;
    int n = 0;

    buf_addc(out, '[');
    if (json_object_object_get_ex(msg, "content", &c))
        blocks_text(c, &text);
    if (text.len == 0 && jget_str(msg, "refusal") != NULL)
        buf_adds(&text, jget_str(msg, "refusal"));
    if (text.len > 0) {
        buf_adds(out, "{\"type\":\"text\",\"text\":");
        buf_add_json_str(out, text.ptr, text.len);
        buf_addc(out, '}');
        n++;
    }
    if (json_object_object_get_ex(msg, "tool_calls", &calls) &&
        json_object_is_type(calls, json_type_array))
        for (size_t i = 0; i < json_object_array_length(calls); i++) {
            if (n++ > 0)
                buf_addc(out, ',');
            tool_use_block(out, json_object_array_get_idx(calls, i));
        }
    buf_addc(out, ']');
    buf_release(&text);
}

/* A unified chat.completion as an Anthropic message. -1: unreadable. */
static int ant_message(struct buf *out, const char *json, size_t len,
                       const char *request_id, const char *model)
{
    json_object *root = jparse(json, len, NULL), *ch, *c0, *msg = NULL;
    long long in = 0, outt = 0, cached = 0;
    char id[64];

    if (root == NULL || !json_object_object_get_ex(root, "choices", &ch) ||
        (c0 = json_object_array_get_idx(ch, 0)) == NULL ||
        !json_object_object_get_ex(c0, "message", &msg)) {
        json_object_put(root);
        return -1;
    }
    if (jget_str(root, "model") != NULL && *jget_str(root, "model"))
        model = jget_str(root, "model");
    read_usage(root, &in, &outt, &cached);
    msg_id(id, sizeof(id), request_id);
    buf_addf(out, "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\","
             "\"model\":", id);
    buf_add_json_str(out, model, strlen(model));
    buf_adds(out, ",\"content\":");
    content_blocks(out, msg);
    buf_addf(out, ",\"stop_reason\":\"%s\",\"stop_sequence\":null,"
             "\"usage\":", stop_reason(jget_str(c0, "finish_reason")));
    usage_json(out, in, outt, cached);
    buf_addc(out, '}');
    json_object_put(root);
    return 0;
}

static void ant_reply(struct relay *x, const char *json, size_t len)
{
    struct buf b = BUF_INIT((size_t)256 << 20);

    if (ant_message(&b, json, len, x->r->request_id, x->p.model) < 0 ||
        buf_error(&b)) {
        x->r->ev.http_status = 502;
        x->r->ev.error_type = "upstream_bad_response";
        send_error(x->r, 502, "upstream_bad_response",
                   "the upstream provider sent an unreadable response");
    } else {
        req_send_json(x->r, 200, b.ptr, b.len, "");
    }
    buf_release(&b);
}

/* --- streams: unified chunks -> Anthropic events -------------------------- */

enum block { B_NONE, B_TEXT, B_TOOL };

/* One stream's translation state. */
struct ant_stream {
    char id[64];
    char request_id[37];
    char model[129];
    int started;             /* message_start sent */
    int next;                /* index of the next content block */
    enum block open;         /* the open block's kind */
    int tool;                /* the open tool block's OpenAI index */
    const char *stop;        /* stop_reason, once known */
    long long in, out, cached;
    int has_usage;
    struct buf ev;           /* events of one chunk */
};

static void event(struct ant_stream *s, const char *name, const char *json)
{
    buf_addf(&s->ev, "event: %s\ndata: %s\n\n", name, json);
}

static void start(struct ant_stream *s, json_object *chunk)
{
    const char *m = jget_str(chunk, "model");
    struct buf b = BUF_INIT(4096);

    if (s->started)
        return;
    s->started = 1;
    if (m != NULL && *m)
        snprintf(s->model, sizeof(s->model), "%s", m);
    buf_addf(&b, "{\"type\":\"message_start\",\"message\":{\"id\":\"%s\","
             "\"type\":\"message\",\"role\":\"assistant\",\"model\":", s->id);
    buf_add_json_str(&b, s->model, strlen(s->model));
    buf_adds(&b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":"
             "null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}");
    event(s, "message_start", b.ptr);
    event(s, "ping", "{\"type\":\"ping\"}");
    buf_release(&b);
}

static void close_block(struct ant_stream *s)
{
    char j[96];

    if (s->open == B_NONE)
        return;
    snprintf(j, sizeof(j), "{\"type\":\"content_block_stop\",\"index\":%d}",
             s->next - 1);
    event(s, "content_block_stop", j);
    s->open = B_NONE;
}

/* content_block_delta of the open block: text_delta or input_json_delta */
static void delta(struct ant_stream *s, const char *kind, const char *field,
                  const char *text)
{
    struct buf b = BUF_INIT((size_t)64 << 20);

    buf_addf(&b, "{\"type\":\"content_block_delta\",\"index\":%d,\"delta\":"
             "{\"type\":\"%s\",\"%s\":", s->next - 1, kind, field);
    buf_add_json_str(&b, text, strlen(text));
    buf_adds(&b, "}}");
    if (buf_error(&b) == 0)
        event(s, "content_block_delta", b.ptr);
    buf_release(&b);
}

static void text_delta(struct ant_stream *s, const char *text)
{
    char j[128];

    if (*text == '\0')
        return;
    if (s->open != B_TEXT) {
        close_block(s);
        snprintf(j, sizeof(j), "{\"type\":\"content_block_start\",\"index\":"
                 "%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
                 s->next++);
        event(s, "content_block_start", j);
        s->open = B_TEXT;
    }
    delta(s, "text_delta", "text", text);
}

static void tool_delta(struct ant_stream *s, json_object *tc)
{
    json_object *fn = NULL;
    const char *id = jget_str(tc, "id"), *name, *args;
    int idx = (int)jget_int(tc, "index", 0);
    struct buf b = BUF_INIT(4096);

    json_object_object_get_ex(tc, "function", &fn);
    name = jget_str(fn, "name");
    args = jget_str(fn, "arguments");
    if (id != NULL || s->open != B_TOOL || s->tool != idx) {
        close_block(s);
        buf_addf(&b, "{\"type\":\"content_block_start\",\"index\":%d,"
                 "\"content_block\":{\"type\":\"tool_use\",\"id\":", s->next++);
        buf_add_json_str(&b, id ? id : "", id ? strlen(id) : 0);
        buf_adds(&b, ",\"name\":");
        buf_add_json_str(&b, name ? name : "", name ? strlen(name) : 0);
        buf_adds(&b, ",\"input\":{}}}");
        if (buf_error(&b) == 0)
            event(s, "content_block_start", b.ptr);
        s->open = B_TOOL;
        s->tool = idx;
    }
    if (args != NULL && *args)
        delta(s, "input_json_delta", "partial_json", args);
    buf_release(&b);
}

static void choice(struct ant_stream *s, json_object *c0)
{
    json_object *d, *calls;
    const char *finish = jget_str(c0, "finish_reason");

    if (json_object_object_get_ex(c0, "delta", &d)) {
        if (jget_str(d, "content") != NULL)
            text_delta(s, jget_str(d, "content"));
        if (jget_str(d, "refusal") != NULL)
            text_delta(s, jget_str(d, "refusal"));
        if (json_object_object_get_ex(d, "tool_calls", &calls) &&
            json_object_is_type(calls, json_type_array))
            for (size_t i = 0; i < json_object_array_length(calls); i++)
                tool_delta(s, json_object_array_get_idx(calls, i));
    }
    if (finish != NULL) {
        s->stop = stop_reason(finish);
        close_block(s);
    }
}

/* Translates one unified chunk into s->ev (appended). -1: unreadable. */
static int ant_stream_chunk(struct ant_stream *s, const char *json,
                            size_t len)
{
    json_object *root = jparse(json, len, NULL), *ch, *c0;

    if (root == NULL)
        return -1;
    start(s, root);
    if (json_object_object_get_ex(root, "usage", &ch) &&
        json_object_is_type(ch, json_type_object)) {
        read_usage(root, &s->in, &s->out, &s->cached);
        s->has_usage = 1;
    }
    if (json_object_object_get_ex(root, "choices", &ch) &&
        (c0 = json_object_array_get_idx(ch, 0)) != NULL &&
        jget_int(c0, "index", 0) == 0)
        choice(s, c0);
    json_object_put(root);
    return 0;
}

/* The end: message_delta and message_stop, or an error event. */
static void ant_stream_end(struct ant_stream *s, const char *code)
{
    struct buf b = BUF_INIT(4096);
    char msg[128];

    if (code != NULL) {
        snprintf(msg, sizeof(msg), "the upstream stream ended before "
                 "completion (%s)", code);
        ant_error_json(&b, strcmp(code, "upstream_timeout") == 0
                       ? "timeout_error" : "api_error", msg, s->request_id);
        event(s, "error", b.ptr);
        buf_release(&b);
        return;
    }
    start(s, NULL);
    close_block(s);
    buf_addf(&b, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
             "\"%s\",\"stop_sequence\":null},\"usage\":",
             s->stop ? s->stop : "end_turn");
    if (s->has_usage)
        usage_json(&b, s->in, s->out, s->cached);
    else
        buf_adds(&b, "{\"output_tokens\":0}");
    buf_addc(&b, '}');
    event(s, "message_delta", b.ptr);
    event(s, "message_stop", "{\"type\":\"message_stop\"}");
    buf_release(&b);
}

static struct ant_stream *stream_new(const struct relay *x)
{
    struct ant_stream *s = xcalloc(1, sizeof(*s));

    msg_id(s->id, sizeof(s->id), x->r->request_id);
    snprintf(s->request_id, sizeof(s->request_id), "%s", x->r->request_id);
    snprintf(s->model, sizeof(s->model), "%s", x->p.model);
    buf_init(&s->ev, (size_t)128 << 20);
    return s;
}

static void stream_free(struct relay *x)
{
    struct ant_stream *s = x->fe_state;

    if (s == NULL)
        return;
    buf_release(&s->ev);
    free(s);
    x->fe_state = NULL;
}

/* Writes the pending events; on a write failure (the client is gone, so
 * no stream_end follows) the state is freed. */
static int flush_events(struct relay *x)
{
    struct ant_stream *s = x->fe_state;
    int rc = buf_error(&s->ev) ? -1 : 0;

    if (rc == 0 && s->ev.len > 0 &&
        (req_write(x->r, s->ev.ptr, s->ev.len) < 0 || req_flush(x->r) < 0))
        rc = -1;
    buf_reset(&s->ev);
    if (x->r->client_gone)
        stream_free(x);
    return rc;
}

/* The state lives from the first chunk to stream_end (or a failed write);
 * x->fe_state owns it. */
static int ant_chunk(struct relay *x, const char *json, size_t len,
                     int usage_only)
{
    (void)usage_only;
    if (x->fe_state == NULL)
        x->fe_state = stream_new(x);
    if (ant_stream_chunk(x->fe_state, json, len) < 0) {
        buf_reset(&((struct ant_stream *)x->fe_state)->ev);
        return -1;
    }
    return flush_events(x);
}

static void ant_stream_end_out(struct relay *x, const char *code)
{
    if (x->fe_state == NULL)
        x->fe_state = stream_new(x);
    ant_stream_end(x->fe_state, code);
    flush_events(x);
    stream_free(x);
}

const struct frontend frontend_anthropic = {
    .name = "anthropic",
    .parse = ant_parse_req,
    .chunk = ant_chunk,
    .stream_end = ant_stream_end_out,
    .reply = ant_reply,
    .error = ant_error_out,
};
