/* Anthropic's Messages API ({base_url}/v1/messages). System messages are
 * lifted to "system", content parts become content blocks, tool calls
 * and results become tool_use and tool_result blocks, and same-role turns
 * are merged so user and assistant alternate. Replies, SSE streams and
 * errors come back in the unified (OpenAI) shapes. */
#include "anthropic.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../buf.h"
#include "../config.h"
#include "../jsonutil.h"
#include "../log.h"
#include "../sse.h"
#include "../usage.h"
#include "../xalloc.h"
#include "oai.h"
#include "provider.h"

#define ANTHROPIC_URL "https://api.anthropic.com"
#define ANTHROPIC_VERSION "2023-06-01"
#define ANTHROPIC_MAX_TOKENS 4096
#define ANTHROPIC_TEXT_MAX ((size_t)64 << 20)

/* The backend's settings (be->pstate). */
struct anthropic_conf {
    char *version;            /* the anthropic-version header */
    long default_max_tokens;  /* when the request names none */
};

/* Token counts as Anthropic reports them; a stream's come in parts. */
struct anthropic_usage {
    long long input, output, cache_read, cache_write;
    int seen;
};

/* Per-stream state (c->st). */
struct anthropic_st {
    struct oai_stream os;
    struct anthropic_usage u;
    int n_tools;    /* tool_use blocks so far */
    int cur_tool;   /* the open block's tool index, or -1 */
};

/* --- the request ------------------------------------------------------- */

/* A message for the client (400); returns -1. */
static int bad(struct provider_call *c, const char *msg)
{
    buf_reset(c->scratch);
    buf_adds(c->scratch, msg);
    return -1;
}

/* Appends v to array a, consuming v even on failure. */
static int jpush(json_object *a, json_object *v)
{
    if (v == NULL || json_object_array_add(a, v) < 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static int add_text(json_object *blocks, const char *s, size_t n)
{
    json_object *b;

    if (n == 0)
        return 0;           /* Anthropic refuses empty text blocks */
    b = json_object_new_object();
    if (jadd(b, "type", json_object_new_string("text")) < 0 ||
        jadd(b, "text", json_object_new_string_len(s, (int)n)) < 0) {
        json_object_put(b);
        return -1;
    }
    return jpush(blocks, b);
}

/* data:<media type>[;params];base64,<data> into a base64 source. */
static int data_url_source(struct provider_call *c, const char *url,
                           json_object *src)
{
    const char *comma = strchr(url, ','), *mt = url + 5;
    size_t mlen = strcspn(mt, ";,");

    if (comma == NULL || comma - url < 12 ||
        memcmp(comma - 7, ";base64", 7) != 0 || mlen == 0 ||
        comma[1] == '\0')
        return bad(c, "image data URLs must be base64-encoded");
    if (jadd(src, "type", json_object_new_string("base64")) < 0 ||
        jadd(src, "media_type",
             json_object_new_string_len(mt, (int)mlen)) < 0 ||
        jadd(src, "data", json_object_new_string(comma + 1)) < 0)
        return -1;
    return 0;
}

static int add_image(struct provider_call *c, json_object *blocks,
                     json_object *part)
{
    json_object *iu = NULL, *src, *b;
    const char *url = NULL;
    int rc;

    if (json_object_object_get_ex(part, "image_url", &iu))
        url = json_object_is_type(iu, json_type_string)
                  ? json_object_get_string(iu) : jget_str(iu, "url");
    if (url == NULL)
        return bad(c, "image_url parts need an image_url.url");
    src = json_object_new_object();
    if (strncmp(url, "data:", 5) == 0) {
        rc = data_url_source(c, url, src);
    } else if (strncmp(url, "https://", 8) == 0) {
        rc = jadd(src, "type", json_object_new_string("url")) < 0 ||
             jadd(src, "url", json_object_new_string(url)) < 0 ? -1 : 0;
    } else {
        rc = bad(c, "image URLs must be https:// or data: URLs");
    }
    if (rc < 0) {
        json_object_put(src);
        return -1;
    }
    b = json_object_new_object();
    if (jadd(b, "type", json_object_new_string("image")) < 0 ||
        jadd(b, "source", src) < 0) {
        json_object_put(b);
        return -1;
    }
    return jpush(blocks, b);
}

/* A message's content (string or parts) into blocks. */
static int add_content(struct provider_call *c, json_object *blocks,
                       json_object *content, int images)
{
    size_t n;

    if (content == NULL || json_object_is_type(content, json_type_null))
        return 0;
    if (json_object_is_type(content, json_type_string))
        return add_text(blocks, json_object_get_string(content),
                        (size_t)json_object_get_string_len(content));
    if (!json_object_is_type(content, json_type_array))
        return bad(c, "message content must be a string or an array");
    n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i), *t;
        const char *type = jget_str(part, "type");
        int rc;

        if (type != NULL && strcmp(type, "text") == 0 &&
            json_object_object_get_ex(part, "text", &t) &&
            json_object_is_type(t, json_type_string))
            rc = add_text(blocks, json_object_get_string(t),
                          (size_t)json_object_get_string_len(t));
        else if (images && type != NULL && strcmp(type, "image_url") == 0)
            rc = add_image(c, blocks, part);
        else
            rc = bad(c, images ? "content parts must be text or image_url"
                               : "this message's content must be text");
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* {id, function: {name, arguments}} into a tool_use block. */
static int add_tool_use(struct provider_call *c, json_object *blocks,
                        json_object *tc)
{
    json_object *fn = NULL, *input, *b;
    const char *id = jget_str(tc, "id"), *name = NULL, *args;

    if (json_object_object_get_ex(tc, "function", &fn))
        name = jget_str(fn, "name");
    if (id == NULL || name == NULL)
        return bad(c, "each tool call needs an id and a function name");
    args = jget_str(fn, "arguments");
    if (args == NULL || args[strspn(args, " \t\r\n")] == '\0')
        input = json_object_new_object();
    else
        input = jparse(args, strlen(args), NULL);
    if (input == NULL || !json_object_is_type(input, json_type_object)) {
        json_object_put(input);
        return bad(c, "tool call arguments must be a JSON object");
    }
    b = json_object_new_object();
    if (jadd(b, "type", json_object_new_string("tool_use")) < 0 ||
        jadd(b, "id", json_object_new_string(id)) < 0 ||
        jadd(b, "name", json_object_new_string(name)) < 0 ||
        jadd(b, "input", input) < 0) {
        json_object_put(b);
        return -1;
    }
    return jpush(blocks, b);
}

static int add_tool_calls(struct provider_call *c, json_object *blocks,
                          json_object *m)
{
    json_object *tcs;
    size_t n;

    if (!json_object_object_get_ex(m, "tool_calls", &tcs) ||
        json_object_is_type(tcs, json_type_null))
        return 0;
    if (!json_object_is_type(tcs, json_type_array))
        return bad(c, "tool_calls must be an array");
    n = json_object_array_length(tcs);
    for (size_t i = 0; i < n; i++)
        if (add_tool_use(c, blocks, json_object_array_get_idx(tcs, i)) < 0)
            return -1;
    return 0;
}

/* {role: "tool", tool_call_id, content} into a tool_result block. */
static int add_tool_result(struct provider_call *c, json_object *blocks,
                           json_object *m)
{
    const char *id = jget_str(m, "tool_call_id");
    json_object *content = NULL, *b;
    struct buf t = BUF_INIT(ANTHROPIC_TEXT_MAX);
    int rc = -1;

    if (id == NULL)
        return bad(c, "tool messages need a tool_call_id");
    json_object_object_get_ex(m, "content", &content);
    if (oai_content_text(content, &t) < 0 || buf_error(&t)) {
        buf_release(&t);
        return bad(c, "tool message content must be text");
    }
    b = json_object_new_object();
    if (jadd(b, "type", json_object_new_string("tool_result")) == 0 &&
        jadd(b, "tool_use_id", json_object_new_string(id)) == 0 &&
        (t.len == 0 || jadd(b, "content", json_object_new_string_len(
                                t.ptr, (int)t.len)) == 0))
        rc = jpush(blocks, json_object_get(b));
    json_object_put(b);
    buf_release(&t);
    return rc;
}

/* Appends blocks as a turn of role, merged into the previous turn when
 * it has the same role (Anthropic wants user and assistant to alternate).
 * Consumes blocks; an empty turn is dropped. */
static int push_turn(json_object *msgs, const char *role, json_object *blocks)
{
    size_t n = json_object_array_length(msgs);
    size_t nb = json_object_array_length(blocks);
    json_object *last = n ? json_object_array_get_idx(msgs, n - 1) : NULL;
    json_object *lc, *m;
    const char *lr = last ? jget_str(last, "role") : NULL;
    int rc = 0;

    if (nb > 0 && lr != NULL && strcmp(lr, role) == 0 &&
        json_object_object_get_ex(last, "content", &lc)) {
        for (size_t i = 0; i < nb && rc == 0; i++)
            rc = jpush(lc, json_object_get(
                               json_object_array_get_idx(blocks, i)));
        json_object_put(blocks);
        return rc;
    }
    if (nb == 0) {
        json_object_put(blocks);
        return 0;
    }
    m = json_object_new_object();
    if (jadd(m, "role", json_object_new_string(role)) < 0 ||
        jadd(m, "content", blocks) < 0) {
        json_object_put(m);
        return -1;
    }
    return jpush(msgs, m);
}

/* One unified message: system text into sys, the rest into msgs. */
static int add_message(struct provider_call *c, json_object *msgs,
                       json_object *sys, json_object *m)
{
    const char *role = jget_str(m, "role");
    json_object *content = NULL, *blocks;
    struct buf t = BUF_INIT(ANTHROPIC_TEXT_MAX);
    int rc;

    if (role == NULL)
        return bad(c, "each message needs a role");
    json_object_object_get_ex(m, "content", &content);
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
        rc = oai_content_text(content, &t) < 0 || buf_error(&t)
                 ? bad(c, "system message content must be text")
                 : add_text(sys, t.ptr, t.len);
        buf_release(&t);
        return rc;
    }
    blocks = json_object_new_array();
    if (strcmp(role, "user") == 0) {
        rc = add_content(c, blocks, content, 1);
    } else if (strcmp(role, "assistant") == 0) {
        rc = add_content(c, blocks, content, 0);
        if (rc == 0)
            rc = add_tool_calls(c, blocks, m);
    } else if (strcmp(role, "tool") == 0) {
        rc = add_tool_result(c, blocks, m);
        role = "user";
    } else {
        rc = bad(c, "message roles must be system, developer, user, "
                    "assistant or tool");
    }
    if (rc < 0) {
        json_object_put(blocks);
        return -1;
    }
    return push_turn(msgs, role, blocks);
}

/* "system": a string, or text blocks when there were several. Consumes
 * sys. */
static int put_system(json_object *root, json_object *sys)
{
    json_object *t;

    if (json_object_array_length(sys) == 0) {
        json_object_put(sys);
        return 0;
    }
    if (json_object_array_length(sys) == 1 &&
        json_object_object_get_ex(json_object_array_get_idx(sys, 0),
                                  "text", &t)) {
        json_object_get(t);
        json_object_put(sys);
        return jadd(root, "system", t);
    }
    return jadd(root, "system", sys);
}

static int add_messages(struct provider_call *c, json_object *root)
{
    json_object *in, *msgs = json_object_new_array();
    json_object *sys = json_object_new_array();
    size_t n = 0;

    if (json_object_object_get_ex(c->req, "messages", &in) &&
        json_object_is_type(in, json_type_array))
        n = json_object_array_length(in);
    for (size_t i = 0; i < n; i++)
        if (add_message(c, msgs, sys, json_object_array_get_idx(in, i)) < 0) {
            json_object_put(msgs);
            json_object_put(sys);
            return -1;
        }
    if (put_system(root, sys) < 0) {
        json_object_put(msgs);
        return -1;
    }
    return jadd(root, "messages", msgs);
}

/* tools[].function into {name, description, input_schema}. */
static json_object *tool_def(json_object *t)
{
    json_object *fn, *o;
    const char *name = NULL, *desc;

    if (json_object_object_get_ex(t, "function", &fn))
        name = jget_str(fn, "name");
    if (name == NULL)
        return NULL;
    o = json_object_new_object();
    jadd(o, "name", json_object_new_string(name));
    if ((desc = jget_str(fn, "description")) != NULL)
        jadd(o, "description", json_object_new_string(desc));
    /* Anthropic requires a schema; OpenAI allows none */
    jadd(o, "input_schema", oai_tool_schema(fn));
    return o;
}

/* tool_choice and parallel_tool_calls into Anthropic's tool_choice. */
static int add_tool_choice(struct provider_call *c, json_object *root)
{
    json_object *tc, *fn, *v, *o;
    const char *type = NULL, *name = NULL, *s;
    int parallel = 1;

    if (json_object_object_get_ex(c->req, "parallel_tool_calls", &v) &&
        json_object_is_type(v, json_type_boolean))
        parallel = json_object_get_boolean(v);
    if (json_object_object_get_ex(c->req, "tool_choice", &tc) &&
        !json_object_is_type(tc, json_type_null)) {
        s = json_object_get_string(tc);
        if (json_object_is_type(tc, json_type_string))
            type = strcmp(s, "auto") == 0 ? "auto"
                 : strcmp(s, "none") == 0 ? "none"
                 : strcmp(s, "required") == 0 ? "any" : NULL;
        else if (json_object_object_get_ex(tc, "function", &fn) &&
                 (name = jget_str(fn, "name")) != NULL)
            type = "tool";
        if (type == NULL)
            return bad(c, "tool_choice must be auto, none, required or "
                          "{\"type\":\"function\",\"function\":{\"name\"}}");
    }
    if (type == NULL && parallel)
        return 0;
    o = json_object_new_object();
    jadd(o, "type", json_object_new_string(type ? type : "auto"));
    if (name != NULL)
        jadd(o, "name", json_object_new_string(name));
    if (!parallel && (type == NULL || strcmp(type, "none") != 0))
        jadd(o, "disable_parallel_tool_use", json_object_new_boolean(1));
    return jadd(root, "tool_choice", o);
}

static int add_tools(struct provider_call *c, json_object *root)
{
    json_object *tools, *out;
    size_t n;

    if (!json_object_object_get_ex(c->req, "tools", &tools) ||
        !json_object_is_type(tools, json_type_array) ||
        (n = json_object_array_length(tools)) == 0)
        return 0;
    out = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *t = tool_def(json_object_array_get_idx(tools, i));

        if (t == NULL) {
            json_object_put(out);
            return bad(c, "each tool needs a function with a name");
        }
        if (jpush(out, t) < 0) {
            json_object_put(out);
            return -1;
        }
    }
    if (jadd(root, "tools", out) < 0)
        return -1;
    return add_tool_choice(c, root);
}

/* stop (string or array) into stop_sequences. */
static int add_stop(struct provider_call *c, json_object *root)
{
    json_object *stop, *seqs;
    size_t n;

    if (!json_object_object_get_ex(c->req, "stop", &stop))
        return 0;
    seqs = json_object_new_array();
    if (json_object_is_type(stop, json_type_string)) {
        jpush(seqs, json_object_get(stop));
    } else if (json_object_is_type(stop, json_type_array)) {
        n = json_object_array_length(stop);
        for (size_t i = 0; i < n; i++) {
            json_object *s = json_object_array_get_idx(stop, i);

            if (json_object_is_type(s, json_type_string))
                jpush(seqs, json_object_get(s));
        }
    }
    if (json_object_array_length(seqs) == 0) {
        json_object_put(seqs);
        return 0;
    }
    return jadd(root, "stop_sequences", seqs);
}

/* max_tokens, temperature, top_p, stop, user, stream. */
static int add_params(struct provider_call *c, json_object *root,
                      long default_max_tokens)
{
    static const char *const nums[] = { "temperature", "top_p" };
    json_object *v, *md;
    const char *user = jget_str(c->req, "user");

    if (jadd(root, "max_tokens", json_object_new_int64(
                 oai_max_tokens(c->req, default_max_tokens))) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (json_object_object_get_ex(c->req, nums[i], &v) &&
            (json_object_is_type(v, json_type_double) ||
             json_object_is_type(v, json_type_int)) &&
            jadd(root, nums[i], json_object_get(v)) < 0)
            return -1;
    if (add_stop(c, root) < 0)
        return -1;
    if (user != NULL && *user != '\0') {
        md = json_object_new_object();
        jadd(md, "user_id", json_object_new_string(user));
        if (jadd(root, "metadata", md) < 0)
            return -1;
    }
    if (c->stream && jadd(root, "stream", json_object_new_boolean(1)) < 0)
        return -1;
    return 0;
}

int anthropic_messages_body(struct provider_call *c,
                            const char *version_in_body,
                            long default_max_tokens, struct buf *body)
{
    json_object *root = json_object_new_object();
    int rc = -1;

    if (version_in_body != NULL) {
        if (jadd(root, "anthropic_version",
                 json_object_new_string(version_in_body)) < 0)
            goto out;
    } else if (jadd(root, "model", json_object_new_string(c->model)) < 0) {
        goto out;
    }
    if (add_messages(c, root) < 0 || add_tools(c, root) < 0 ||
        add_params(c, root, default_max_tokens) < 0)
        goto out;
    buf_adds(body, json_object_to_json_string_ext(root,
             JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    rc = buf_error(body) ? -1 : 0;
out:
    json_object_put(root);
    return rc;
}

/* A header "prefix value" without leaving a copy of the value behind. */
static void add_header(struct provider_call *c, const char *prefix,
                       const char *value)
{
    struct buf h = BUF_INIT(8192);

    buf_adds(&h, prefix);
    buf_adds(&h, value);
    if (buf_error(&h) == 0)
        c->hdrs = curl_slist_append(c->hdrs, h.ptr);
    if (h.ptr != NULL)
        memset(h.ptr, 0, h.len);
    buf_release(&h);
}

static int anthropic_build(struct provider_call *c)
{
    const struct backend *be = c->be;
    const struct anthropic_conf *cf = be->pstate;

    if (c->op != PROV_CHAT)
        return bad(c, "the anthropic provider serves chat completions only");
    buf_adds(c->url, be->base_url);
    buf_adds(c->url, "/v1/messages");
    if (anthropic_messages_body(c, NULL, cf->default_max_tokens,
                                c->body) < 0)
        return -1;
    if (be->api_key != NULL)
        add_header(c, "x-api-key: ", be->api_key);
    add_header(c, "anthropic-version: ", cf->version);
    c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, c->stream
                                ? "Accept: text/event-stream"
                                : "Accept: application/json");
    return buf_error(c->url) || buf_error(c->body) ? -1 : 0;
}

/* --- replies ----------------------------------------------------------- */

static const char *finish_reason(const char *stop)
{
    if (stop == NULL)
        return "stop";
    if (strcmp(stop, "max_tokens") == 0 ||
        strcmp(stop, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(stop, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(stop, "refusal") == 0)
        return "content_filter";
    return "stop";      /* end_turn, stop_sequence, pause_turn */
}

static void usage_take(json_object *u, const char *k, long long *dst,
                       int *seen)
{
    json_object *v;

    if (json_object_object_get_ex(u, k, &v) &&
        json_object_is_type(v, json_type_int)) {
        *dst = json_object_get_int64(v);
        *seen = 1;
    }
}

/* Merges the counts present in u (a stream's are cumulative). */
static void usage_read(json_object *u, struct anthropic_usage *a)
{
    if (u == NULL || !json_object_is_type(u, json_type_object))
        return;
    usage_take(u, "input_tokens", &a->input, &a->seen);
    usage_take(u, "output_tokens", &a->output, &a->seen);
    usage_take(u, "cache_read_input_tokens", &a->cache_read, &a->seen);
    usage_take(u, "cache_creation_input_tokens", &a->cache_write,
               &a->seen);
}

/* Cache reads and writes are prompt tokens too; reads are the cached. */
static void usage_apply(const struct anthropic_usage *a,
                        struct usage_event *ev)
{
    if (a->seen)
        oai_set_usage(ev, a->input + a->cache_read + a->cache_write,
                      a->output, a->cache_read);
}

static void read_model(json_object *msg, struct usage_event *ev)
{
    const char *m = jget_str(msg, "model");

    if (m != NULL && ev->served_model[0] == '\0')
        usage_set(ev->served_model, sizeof(ev->served_model), m);
}

/* A tool_use block into an OpenAI tool call. */
static json_object *tool_call(json_object *b)
{
    json_object *input = NULL, *call, *fn;
    const char *id = jget_str(b, "id"), *name = jget_str(b, "name");

    json_object_object_get_ex(b, "input", &input);
    call = json_object_new_object();
    fn = json_object_new_object();
    jadd(fn, "name", json_object_new_string(name ? name : ""));
    jadd(fn, "arguments", json_object_new_string(
             input ? json_object_to_json_string_ext(input,
                         JSON_C_TO_STRING_PLAIN |
                         JSON_C_TO_STRING_NOSLASHESCAPE)
                   : "{}"));
    jadd(call, "id", json_object_new_string(id ? id : ""));
    jadd(call, "type", json_object_new_string("function"));
    jadd(call, "function", fn);
    return call;
}

/* The content blocks into an assistant message (caller puts). */
static json_object *reply_message(json_object *content)
{
    struct buf text = BUF_INIT(ANTHROPIC_TEXT_MAX);
    json_object *msg = json_object_new_object();
    json_object *calls = json_object_new_array(), *t;
    size_t n = json_object_array_length(content);

    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(content, i);
        const char *type = jget_str(b, "type");

        if (type == NULL)
            continue;
        if (strcmp(type, "text") == 0 &&
            json_object_object_get_ex(b, "text", &t))
            buf_add(&text, json_object_get_string(t),
                    (size_t)json_object_get_string_len(t));
        else if (strcmp(type, "tool_use") == 0)
            jpush(calls, tool_call(b));
    }
    jadd(msg, "role", json_object_new_string("assistant"));
    if (text.len == 0 && json_object_array_length(calls) > 0)
        json_object_object_add(msg, "content", NULL);   /* null */
    else
        jadd(msg, "content", json_object_new_string_len(
                 text.ptr ? text.ptr : "", (int)text.len));
    json_object_object_add(msg, "refusal", NULL);
    if (json_object_array_length(calls) > 0)
        jadd(msg, "tool_calls", calls);
    else
        json_object_put(calls);
    buf_release(&text);
    return msg;
}

int anthropic_parse(struct provider_call *c, const char *body, size_t len,
                    struct buf *out)
{
    json_object *root = jparse(body, len, NULL), *content, *u, *msg;
    struct anthropic_usage au = { 0 };
    const char *model;
    int rc = -1;

    if (root == NULL || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "content", &content) ||
        !json_object_is_type(content, json_type_array))
        goto out;
    if (json_object_object_get_ex(root, "usage", &u))
        usage_read(u, &au);
    usage_apply(&au, c->ev);
    read_model(root, c->ev);
    model = jget_str(root, "model");
    msg = reply_message(content);
    oai_completion(out, c->request_id, model ? model : c->model, msg,
                   finish_reason(jget_str(root, "stop_reason")), c->ev);
    json_object_put(msg);
    rc = buf_error(out) ? -1 : 0;
out:
    json_object_put(root);
    return rc;
}

/* --- streams ----------------------------------------------------------- */

struct stream_ctx {
    struct provider_call *c;
    struct anthropic_st *st;
    struct chunk_sink *sink;
    int *done;
};

static int on_message_start(struct stream_ctx *x, json_object *ev)
{
    json_object *msg, *u;
    const char *model;

    if (!json_object_object_get_ex(ev, "message", &msg))
        return 0;
    read_model(msg, x->c->ev);
    if ((model = jget_str(msg, "model")) != NULL)
        usage_set(x->st->os.model, sizeof(x->st->os.model), model);
    if (json_object_object_get_ex(msg, "usage", &u))
        usage_read(u, &x->st->u);
    usage_apply(&x->st->u, x->c->ev);
    return oai_emit_text(&x->st->os, x->c, x->sink, "", 0);  /* role */
}

static int on_block_start(struct stream_ctx *x, json_object *ev)
{
    struct anthropic_st *st = x->st;
    json_object *b, *t;
    const char *type;

    st->cur_tool = -1;
    if (!json_object_object_get_ex(ev, "content_block", &b) ||
        (type = jget_str(b, "type")) == NULL)
        return 0;
    if (strcmp(type, "tool_use") == 0) {
        const char *id = jget_str(b, "id"), *name = jget_str(b, "name");

        st->cur_tool = st->n_tools++;
        return oai_emit_tool_call(&st->os, x->c, x->sink, st->cur_tool,
                                  id ? id : "", name ? name : "", "", 0);
    }
    if (strcmp(type, "text") == 0 && json_object_object_get_ex(b, "text", &t)
        && json_object_get_string_len(t) > 0)
        return oai_emit_text(&st->os, x->c, x->sink,
                             json_object_get_string(t),
                             (size_t)json_object_get_string_len(t));
    return 0;
}

static int on_block_delta(struct stream_ctx *x, json_object *ev)
{
    struct anthropic_st *st = x->st;
    json_object *d, *v;
    const char *type;

    if (!json_object_object_get_ex(ev, "delta", &d) ||
        (type = jget_str(d, "type")) == NULL)
        return 0;
    if (strcmp(type, "text_delta") == 0 &&
        json_object_object_get_ex(d, "text", &v) &&
        json_object_get_string_len(v) > 0)
        return oai_emit_text(&st->os, x->c, x->sink,
                             json_object_get_string(v),
                             (size_t)json_object_get_string_len(v));
    if (strcmp(type, "input_json_delta") == 0 && st->cur_tool >= 0 &&
        json_object_object_get_ex(d, "partial_json", &v) &&
        json_object_get_string_len(v) > 0)
        return oai_emit_tool_call(&st->os, x->c, x->sink, st->cur_tool,
                                  NULL, NULL, json_object_get_string(v),
                                  (size_t)json_object_get_string_len(v));
    return 0;       /* thinking and signature deltas are not relayed */
}

static int on_message_delta(struct stream_ctx *x, json_object *ev)
{
    json_object *d, *u;
    const char *stop = NULL;

    if (json_object_object_get_ex(ev, "usage", &u))
        usage_read(u, &x->st->u);
    usage_apply(&x->st->u, x->c->ev);
    if (json_object_object_get_ex(ev, "delta", &d))
        stop = jget_str(d, "stop_reason");
    if (stop == NULL)
        return 0;
    return oai_emit_finish(&x->st->os, x->c, x->sink, finish_reason(stop));
}

static int on_message_stop(struct stream_ctx *x)
{
    *x->done = 1;
    usage_apply(&x->st->u, x->c->ev);
    if (oai_emit_finish(&x->st->os, x->c, x->sink, "stop") < 0)
        return -1;
    /* no usage reported: no usage chunk rather than zeros */
    return x->c->ev->has_usage ? oai_emit_usage(&x->st->os, x->c, x->sink)
                               : 0;
}

static int on_error(struct stream_ctx *x, json_object *ev)
{
    json_object *e = NULL;
    const char *type = NULL;

    usage_apply(&x->st->u, x->c->ev);
    if (json_object_object_get_ex(ev, "error", &e))
        type = jget_str(e, "type");
    log_warn(x->c->request_id, "anthropic stream error event: %s",
             type ? type : "unknown");
    return -1;
}

static int on_event(void *ud, const char *event, const char *data,
                    size_t len)
{
    struct stream_ctx *x = ud;
    json_object *ev;
    const char *type;
    int rc = 0;

    if (*x->done)
        return 0;
    if ((ev = jparse(data, len, NULL)) == NULL)
        return -1;
    if ((type = jget_str(ev, "type")) == NULL)
        type = event;
    if (strcmp(type, "message_start") == 0)
        rc = on_message_start(x, ev);
    else if (strcmp(type, "content_block_start") == 0)
        rc = on_block_start(x, ev);
    else if (strcmp(type, "content_block_delta") == 0)
        rc = on_block_delta(x, ev);
    else if (strcmp(type, "content_block_stop") == 0)
        x->st->cur_tool = -1;
    else if (strcmp(type, "message_delta") == 0)
        rc = on_message_delta(x, ev);
    else if (strcmp(type, "message_stop") == 0)
        rc = on_message_stop(x);
    else if (strcmp(type, "error") == 0)
        rc = on_error(x, ev);
    json_object_put(ev);    /* ping and unknown events: ignored */
    return rc;
}

int anthropic_stream(struct provider_call *c, const char *p, size_t n,
                     struct chunk_sink *sink, int *done)
{
    struct stream_ctx x = { c, c->st, sink, done };

    if (x.st == NULL) {
        x.st = xcalloc(1, sizeof(*x.st));
        oai_stream_init(&x.st->os, c->request_id, c->model);
        x.st->cur_tool = -1;
        c->st = x.st;
    }
    return sse_feed(c->sse, p, n, on_event, &x) == 0 ? 0 : -1;
}

void anthropic_finish(struct provider_call *c)
{
    free(c->st);
    c->st = NULL;
}

/* {"type":"error","error":{"type","message"}} keeps its message, with
 * Anthropic's error type as the code; anything else is wrapped. */
void anthropic_error(struct provider_call *c, long status, const char *body,
                     size_t len, struct buf *out)
{
    json_object *o = jparse(body, len, NULL), *e;
    const char *msg = NULL, *type = NULL;
    char m[128];

    (void)c;
    if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
        json_object_is_type(e, json_type_object)) {
        msg = jget_str(e, "message");
        type = jget_str(e, "type");
    }
    if (msg == NULL) {
        snprintf(m, sizeof(m), "the upstream provider answered HTTP %ld",
                 status);
        msg = m;
    }
    oai_error(out, msg, oai_error_type(status),
              type ? type : "upstream_error");
    json_object_put(o);
}

/* --- settings ---------------------------------------------------------- */

static int anthropic_init(struct backend *be, json_object *conf, char *err,
                          size_t errsz)
{
    struct anthropic_conf *cf = xcalloc(1, sizeof(*cf));

    be->pstate = cf;        /* freed by destroy, even on failure */
    cf->default_max_tokens = ANTHROPIC_MAX_TOKENS;
    if (config_opt_str(conf, "anthropic_version", &cf->version, err,
                       errsz) < 0 ||
        config_opt_long(conf, "default_max_tokens", 1, 100000000,
                        &cf->default_max_tokens, err, errsz) < 0)
        return -1;
    if (cf->version == NULL)
        cf->version = xstrdup(ANTHROPIC_VERSION);
    if (*cf->version == '\0' || strlen(cf->version) > 64 ||
        strpbrk(cf->version, "\r\n") != NULL) {
        snprintf(err, errsz, "anthropic_version must be a short "
                 "single-line string such as " ANTHROPIC_VERSION);
        return -1;
    }
    if (be->base_url == NULL || *be->base_url == '\0') {
        free(be->base_url);
        be->base_url = xstrdup(ANTHROPIC_URL);
    }
    return 0;
}

static void anthropic_destroy(struct backend *be)
{
    struct anthropic_conf *cf = be->pstate;

    if (cf != NULL)
        free(cf->version);
    free(cf);
    be->pstate = NULL;
}

const struct provider_ops provider_anthropic = {
    .name = "anthropic",
    .init = anthropic_init,
    .destroy = anthropic_destroy,
    .build = anthropic_build,
    .parse = anthropic_parse,
    .stream = anthropic_stream,
    .error = anthropic_error,
    .finish = anthropic_finish,
};
