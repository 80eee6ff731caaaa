/* Builders for the unified (OpenAI) shapes that translating providers
 * emit, so every provider produces the same ids, fields and usage. */
#ifndef AIGW_OAI_H
#define AIGW_OAI_H

#include <stddef.h>

#include "provider.h"

struct buf;
struct json_object;
struct usage_event;

/* Per-stream identity shared by all its chunks. */
struct oai_stream {
    char id[64];
    long created;
    char model[129];
    int role_sent;
    int finished;
};

void oai_stream_init(struct oai_stream *s, const char *request_id,
                     const char *model);
/* Each emits one chat.completion.chunk (the assistant role chunk first,
 * once). Return the sink's result. */
int oai_emit_text(struct oai_stream *s, struct provider_call *c,
                  struct chunk_sink *sink, const char *text, size_t len);
/* A tool call delta: id and name on the first delta of a call, NULL
 * after; args is a fragment of the JSON arguments string. */
int oai_emit_tool_call(struct oai_stream *s, struct provider_call *c,
                       struct chunk_sink *sink, int index, const char *id,
                       const char *name, const char *args, size_t args_len);
int oai_emit_finish(struct oai_stream *s, struct provider_call *c,
                    struct chunk_sink *sink, const char *finish_reason);
/* The final usage chunk (choices empty) from c->ev's counters. */
int oai_emit_usage(struct oai_stream *s, struct provider_call *c,
                   struct chunk_sink *sink);

/* A whole chat.completion. message is an OpenAI assistant message object
 * (borrowed). */
void oai_completion(struct buf *out, const char *request_id,
                    const char *model, struct json_object *message,
                    const char *finish_reason, const struct usage_event *ev);
/* {"error":{"message","type","param":null,"code"}} */
void oai_error(struct buf *out, const char *message, const char *type,
               const char *code);
/* OpenAI's error type for an HTTP status. */
const char *oai_error_type(long status);
/* The usage object's JSON from the event's counters. */
void oai_usage_json(struct buf *out, const struct usage_event *ev);
/* Sets the event's counters (total = in + out) and marks them provider's. */
void oai_set_usage(struct usage_event *ev, long long in, long long out,
                   long long cached);

/* Helpers to read the unified request. */
/* Concatenated text of a message's content (string or array of text
 * parts) into out; returns 0. */
int oai_content_text(struct json_object *content, struct buf *out);
/* A tool function's JSON-schema parameters (a new reference), or an
 * empty object schema when it has none: providers that require one. */
struct json_object *oai_tool_schema(struct json_object *fn);
/* The request's max tokens (max_completion_tokens, then max_tokens), or
 * dflt. */
long long oai_max_tokens(struct json_object *req, long long dflt);

#endif
