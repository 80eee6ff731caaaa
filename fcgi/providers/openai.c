/* OpenAI and OpenAI-compatible servers: the reference dialect, so requests
 * pass through with the model set and usage requested for streams. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <string.h>

#include "../buf.h"
#include "../config.h"
#include "../jsonutil.h"
#include "../usage.h"
#include "provider.h"

static int openai_chat_build(const struct backend *be, json_object *req,
                             int stream, struct buf *url, struct buf *body,
                             struct curl_slist **hdrs)
{
    buf_adds(url, be->base_url);
    buf_adds(url, "/chat/completions");
    if (stream) {
        /* Ask for the final usage chunk so streamed tokens are counted. */
        json_object *so = json_object_new_object();

        jadd(so, "include_usage", json_object_new_boolean(1));
        jadd(req, "stream_options", so);
    }
    buf_adds(body, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    if (be->api_key != NULL) {
        struct buf h = BUF_INIT(8192);

        buf_adds(&h, "Authorization: Bearer ");
        buf_adds(&h, be->api_key);
        if (buf_error(&h) == 0)
            *hdrs = curl_slist_append(*hdrs, h.ptr);
        /* the header holds the secret: wipe our copy */
        if (h.ptr != NULL)
            memset(h.ptr, 0, h.len);
        buf_release(&h);
    }
    *hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
    *hdrs = curl_slist_append(*hdrs, stream ? "Accept: text/event-stream"
                                            : "Accept: application/json");
    return buf_error(url) || buf_error(body) ? -1 : 0;
}

/* Reads OpenAI's usage object (absent or null: leaves ev untouched). */
static void read_usage(json_object *root, struct usage_event *ev)
{
    json_object *u, *v, *d;

    if (!json_object_object_get_ex(root, "usage", &u) ||
        !json_object_is_type(u, json_type_object))
        return;
    ev->prompt_tokens = jget_int(u, "prompt_tokens", 0);
    ev->completion_tokens = jget_int(u, "completion_tokens", 0);
    ev->total_tokens = jget_int(u, "total_tokens",
                                ev->prompt_tokens + ev->completion_tokens);
    if (json_object_object_get_ex(u, "prompt_tokens_details", &d) &&
        json_object_object_get_ex(d, "cached_tokens", &v))
        ev->cached_tokens = json_object_get_int64(v);
    if (ev->prompt_tokens < 0 || ev->completion_tokens < 0 ||
        ev->cached_tokens < 0 || ev->cached_tokens > ev->prompt_tokens) {
        ev->prompt_tokens = ev->completion_tokens = ev->cached_tokens = 0;
        ev->total_tokens = 0;
        return;
    }
    ev->has_usage = 1;
}

static void read_model(json_object *root, struct usage_event *ev)
{
    const char *m = jget_str(root, "model");

    if (m != NULL && ev->served_model[0] == '\0')
        usage_set(ev->served_model, sizeof(ev->served_model), m);
}

static int openai_chat_parse(const char *body, size_t len, struct buf *out,
                             struct usage_event *ev)
{
    json_object *root = jparse(body, len, NULL);

    (void)out; /* already the unified shape */
    if (root == NULL)
        return -1;
    read_usage(root, ev);
    read_model(root, ev);
    json_object_put(root);
    return 0;
}

static int openai_chat_event(const char *data, size_t len,
                             struct chunk_sink *sink, struct usage_event *ev,
                             int *done)
{
    int usage_only = 0;

    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        *done = 1;
        return 0;
    }
    /* Parse only the chunks that matter: the first (model) and the one
     * carrying a usage object; the rest pass through untouched. */
    if (ev->served_model[0] == '\0' || json_has_object_member(data, len,
                                                              "usage")) {
        json_object *root = jparse(data, len, NULL), *ch;

        if (root == NULL)
            return -1;
        read_model(root, ev);
        read_usage(root, ev);
        usage_only = json_object_object_get_ex(root, "choices", &ch) &&
                     json_object_is_type(ch, json_type_array) &&
                     json_object_array_length(ch) == 0;
        json_object_put(root);
    }
    return sink->chunk(sink->ctx, data, len, usage_only);
}

const struct provider_ops provider_openai = {
    .name = "openai",
    .chat_build = openai_chat_build,
    .chat_parse = openai_chat_parse,
    .chat_event = openai_chat_event,
};
