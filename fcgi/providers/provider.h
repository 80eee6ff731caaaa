/* The provider interface. A provider turns the unified request (OpenAI's
 * chat/embeddings shape, parsed) into its own HTTP request, and its reply
 * or stream back into the unified shape: chat.completion JSON, or
 * chat.completion.chunk JSON objects handed to a sink one by one.
 * Providers know nothing of identity, quotas, guards or the ledger; they
 * only fill the usage counters and served model of the call's event.
 * Adding a provider: one file here, one line in registry.c. */
#ifndef AIGW_PROVIDER_H
#define AIGW_PROVIDER_H

#include <stddef.h>

struct backend;
struct buf;
struct curl_slist;
struct json_object;
struct sse_parser;
struct usage_event;

enum provider_op { PROV_CHAT, PROV_EMBED };

/* Receives unified chat.completion.chunk JSON objects. usage_only marks
 * the final usage chunk (choices empty). Returns 0, or -1 to stop (the
 * client is gone). */
struct chunk_sink {
    int (*chunk)(void *ctx, const char *json, size_t len, int usage_only);
    void *ctx;
};

/* One upstream exchange, as the provider sees it. The request path fills
 * the inputs and the per-thread buffers; the provider fills the rest. */
struct provider_call {
    /* inputs (borrowed) */
    const struct backend *be;
    enum provider_op op;
    struct json_object *req;     /* the unified request; may be modified */
    const char *raw_body;        /* the client's body when it IS the
                                    unified request (OpenAI clients), for
                                    pass-through; NULL otherwise */
    size_t raw_body_len;
    const char *model;           /* model name as the client asked */
    int stream;
    const char *request_id;
    struct usage_event *ev;      /* fill usage and served_model */
    struct sse_parser *sse;      /* per-thread, reset, for SSE dialects */
    struct buf *scratch;         /* per-thread, reset */

    /* outputs of build() */
    struct buf *url;             /* reset by the caller */
    struct buf *body;            /* reset by the caller */
    struct curl_slist *hdrs;     /* freed by the caller */
    const char *aws_sigv4;       /* CURLOPT_AWS_SIGV4 provider string */
    int build_status;            /* when build() fails for another reason
                                    than the request (e.g. the provider's
                                    token endpoint is down): 502, 503 */
    char *userpwd;               /* "KEY:SECRET" for SigV4; wiped, freed */
    unsigned long cred_gen;      /* which cached credential build() used,
                                    to drop it if the provider refuses it */

    /* provider's per-request state, freed by finish() */
    void *st;
};

struct provider_ops {
    const char *name;
    /* Reads the provider's own settings from the backend's config object
     * into be->pstate. Returns 0, or -1 with a message in err. */
    int (*init)(struct backend *be, struct json_object *conf, char *err,
                size_t errsz);
    void (*destroy)(struct backend *be);
    /* URL, headers and body for c->op. -1 when the op or request is not
     * supported (400), or with c->build_status set when the provider
     * cannot be reached for credentials (a message for the client goes
     * into c->scratch). */
    int (*build)(struct provider_call *c);
    /* 1: build() reads c->req only for streams or when c->raw_body is
     * NULL, so a passthrough request that is neither needs no tree. */
    int raw_passthrough;
    /* A 2xx reply (not streamed): writes the unified JSON into out, or
     * leaves out empty to pass body through; fills usage. -1: unreadable. */
    int (*parse)(struct provider_call *c, const char *body, size_t len,
                 struct buf *out);
    /* Raw bytes of a 2xx stream, in arrival order. Emits unified chunks
     * to sink; sets *done at the provider's end of stream. -1 stops. */
    int (*stream)(struct provider_call *c, const char *p, size_t n,
                  struct chunk_sink *sink, int *done);
    /* Writes an OpenAI-shaped error body for a non-2xx reply into out. */
    void (*error)(struct provider_call *c, long status, const char *body,
                  size_t len, struct buf *out);
    /* Frees c->st. May be NULL. */
    void (*finish)(struct provider_call *c);
};

/* Looks a provider up by name ("openai"); NULL when unknown. */
const struct provider_ops *provider_find(const char *name);
/* The names, comma-separated, for error messages. */
const char *provider_names(void);

#endif
