/* The upstream relay: picks the route's backend for the model, lets its
 * provider build the request, calls it, and hands the reply or stream back
 * to the client through a frontend (the client's API dialect: OpenAI's,
 * or Anthropic's Messages API translated to and from the unified shape). */
#ifndef AIGW_RELAY_H
#define AIGW_RELAY_H

#include <stddef.h>

#include "guard_relay.h"
#include "providers/provider.h"
#include "validate.h"

struct buf;
struct json_object;
struct request;
struct route;
struct relay;

struct frontend {
    const char *name;
    /* Parses the client's body into the unified request (*out, caller
     * puts) and its parameters. On error answers the client, returns -1.
     * passthrough: the client's body is the unified request itself; such
     * a frontend may only validate it and leave *out NULL, and the relay
     * then parses the body when a guard or the provider needs the tree. */
    int passthrough;
    int (*parse)(struct request *r, enum provider_op op,
                 struct json_object **out, struct chat_params *p);
    /* A unified chunk of a stream: write it in the client's dialect. */
    int (*chunk)(struct relay *x, const char *json, size_t len,
                 int usage_only);
    /* The stream ended: ok, or with the error code given. */
    void (*stream_end)(struct relay *x, const char *error_code);
    /* A complete unified reply (chat.completion or embeddings list). */
    void (*reply)(struct relay *x, const char *json, size_t len);
    /* An OpenAI-shaped error JSON with its status and extra headers. */
    void (*error)(struct relay *x, int status, const char *json, size_t len,
                  const char *extra);
};

struct relay {
    struct request *r;
    const struct frontend *fe;
    struct chat_params p;
    struct provider_call call;
    void *fe_state;          /* the frontend's per-request state */
    struct guard_ctx guard;  /* guardrails (guard_relay.c) */
    const char *report_model;  /* the response names this model instead
                                  of the served one; NULL: as served */
};

extern const struct frontend frontend_openai;

/* Replaces the first "model" value of json with name into out; 1 when
 * done (relay.c, for virtualized model names). */
int relay_rewrite_model(const char *json, size_t len, const char *name,
                        struct buf *out);

void relay_handle(struct request *r, const struct route *rt,
                  enum provider_op op, const struct frontend *fe);

#endif
