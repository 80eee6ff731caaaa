/* Optional prompt/response capture in the access log ("observability":
 * {"capture": {...}}, off by default, for every route or the listed
 * ones). The prompt is the request's text as sent to the provider (after
 * guardrails and transforms), the response the reply's text as the
 * provider gave it (streams: the deltas joined). Before a captured text
 * is logged it is masked by every regex rule of the route's guardrail set
 * (request and response rules, in mask mode whatever their action), by
 * the capture's own builtins, and always by the secret rules (API keys,
 * bearer tokens, AWS keys, JWTs, private keys); then cut to max_bytes on
 * a UTF-8 boundary. Masking runs at settle time, after the client has its
 * response; with capture off the request path pays one branch. */
#ifndef AIGW_CAPTURE_H
#define AIGW_CAPTURE_H

#include <stddef.h>

struct buf;
struct config;
struct json_object;
struct request;

struct capture_settings {
    int enabled;
    char **routes;               /* route names; NULL: every route */
    size_t n_routes;
    size_t max_bytes;            /* per captured field, after masking */
    struct guardrails *masks;    /* secret rules + "mask" builtins */
};

/* Parses observability.capture into cfg->capture (NULL when absent).
 * Routes must be loaded. 0, or -1 with a message naming the setting. */
int capture_load(struct json_object *root, struct config *cfg, char *err,
                 size_t errsz);
void capture_free(struct capture_settings *c);

/* The request's text as sent to the provider: req is the unified
 * (OpenAI-shaped) body, or NULL when the client's bytes are relayed as
 * they came (r->body is read then). Starts capture for r when on. */
void capture_request(struct request *r, struct json_object *req);
/* One OpenAI-shaped stream chunk (choices[].delta.content). */
void capture_chunk(struct request *r, const char *json, size_t len);
/* A non-streamed OpenAI-shaped reply (choices[].message.content). */
void capture_reply(struct request *r, const char *json, size_t len);
/* Adds "prompt" and "response" (masked, cut; "*_truncated": true when
 * cut) to the access-log line, one JSON object; ends r's capture. */
void capture_log_fields(struct request *r, struct buf *line);

#endif
