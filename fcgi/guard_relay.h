/* The guards in the request path: the relay calls these at its hook
 * points (request parsed, reply complete, each stream chunk). */
#ifndef AIGW_GUARD_RELAY_H
#define AIGW_GUARD_RELAY_H

#include <stddef.h>

#include "guardrails.h"

struct json_object;
struct relay;

#define GUARD_MAX_CHOICES 8

/* Per request; zeroed by the relay. */
struct guard_ctx {
    const struct guard_set *set;     /* NULL: the route is not guarded */
    int modified;                    /* the request was masked */
    int blocked;                     /* a guard stopped the stream */
    int logged;
    struct guard_hits hits;          /* rule names only, never the text */
    struct guard_pending pend[GUARD_MAX_CHOICES];
};

/* The request guards (regex, webhook, moderation) on the unified request,
 * which masking rewrites in place (then c->modified is set). Returns 0 to
 * go on, -1 when the request was blocked and answered. */
int guard_relay_request(struct relay *x, struct json_object *req);
/* 1 when guard_relay_request() would look at the request (the route has
 * guards for chat): the relay then needs the json-c tree. */
int guard_relay_wants_request(const struct relay *x);
/* A complete unified reply. Returns 0 when the caller should send it as
 * is, 1 when the guards sent it (masked) or blocked it. */
int guard_relay_reply(struct relay *x, const char *json, size_t len);
/* A unified stream chunk: checks, masks and passes it to the frontend.
 * Returns the frontend's result, or -1 when a guard blocked the stream
 * (x->guard.blocked set; the relay ends the stream with an error). */
int guard_relay_chunk(struct relay *x, const char *json, size_t len,
                      int usage_only);
/* Logs the outcome (once) and frees the per-request state. */
void guard_relay_finish(struct relay *x);

#endif
