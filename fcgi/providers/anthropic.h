/* Anthropic's Messages API dialect, exported so that other providers
 * serving Claude (Vertex AI's rawPredict/streamRawPredict) reuse the
 * translation: the unified request to a Messages body, and replies,
 * streams and errors back to the unified shapes. */
#ifndef AIGW_ANTHROPIC_H
#define AIGW_ANTHROPIC_H

#include <stddef.h>

struct buf;
struct chunk_sink;
struct provider_call;

/* Builds the Messages API JSON body for c (c->req, c->model, c->stream)
 * into body. When version_in_body is not NULL it is put in the body as
 * "anthropic_version" and "model" is omitted (Vertex AI). Returns 0, or -1
 * when the request cannot be expressed (a message for the client is then
 * in c->scratch). */
int anthropic_messages_body(struct provider_call *c,
                            const char *version_in_body,
                            long default_max_tokens, struct buf *body);
/* A Messages reply into a chat.completion in out; fills c->ev's usage and
 * served model. Returns 0, or -1 when the body is not a Messages reply. */
int anthropic_parse(struct provider_call *c, const char *body, size_t len,
                    struct buf *out);
/* Raw bytes of a Messages SSE stream into chat.completion.chunk objects.
 * Keeps its state in c->st (allocated on first use, freed by
 * anthropic_finish). Sets *done at message_stop; -1 on an error event or
 * unreadable data (usage known so far is recorded). */
int anthropic_stream(struct provider_call *c, const char *p, size_t n,
                     struct chunk_sink *sink, int *done);
/* Anthropic's error body (or anything else) into OpenAI's error shape. */
void anthropic_error(struct provider_call *c, long status, const char *body,
                     size_t len, struct buf *out);
/* Frees c->st; safe to call more than once. */
void anthropic_finish(struct provider_call *c);

#endif
