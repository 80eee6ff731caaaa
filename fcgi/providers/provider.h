/* The provider interface: turns the unified (OpenAI-shaped) request into a
 * provider's HTTP request, and the provider's response or stream back into
 * the unified shape. Providers know nothing of identity, quotas or the
 * ledger; they only fill the usage counters of a usage_event. */
#ifndef AIGW_PROVIDER_H
#define AIGW_PROVIDER_H

#include <stddef.h>

struct backend;
struct buf;
struct curl_slist;
struct json_object;
struct usage_event;

/* Receives unified chat.completion.chunk JSON objects. usage_only marks
 * the final usage chunk (choices empty). Returns 0 or -1 to stop. */
struct chunk_sink {
    int (*chunk)(void *ctx, const char *json, size_t len, int usage_only);
    void *ctx;
};

struct provider_ops {
    const char *name;
    /* Fills the upstream URL, body and headers for a chat completion.
     * req is the client's parsed request (borrowed; may be modified). */
    int (*chat_build)(const struct backend *be, struct json_object *req,
                      int stream, struct buf *url, struct buf *body,
                      struct curl_slist **hdrs);
    /* A 2xx non-streamed reply: fills usage and served model; writes the
     * unified body into out, or leaves out empty to pass body as is. */
    int (*chat_parse)(const char *body, size_t len, struct buf *out,
                      struct usage_event *ev);
    /* One event of a 2xx stream (the SSE data field). Emits unified chunks
     * to sink; sets *done on the provider's end-of-stream marker. */
    int (*chat_event)(const char *data, size_t len, struct chunk_sink *sink,
                      struct usage_event *ev, int *done);
};

/* Looks a provider up by name ("openai"); NULL when unknown. */
const struct provider_ops *provider_find(const char *name);

#endif
