/* The Gemini generateContent dialect, shared by the gemini (Google AI
 * Studio) and vertex (Vertex AI) providers: request translation from the
 * unified (OpenAI) shape, reply, stream and error translation back. */
#ifndef AIGW_GEMINI_H
#define AIGW_GEMINI_H

#include <stddef.h>

#include "oai.h"
#include "provider.h"

struct buf;

/* Per-request state (c->st), allocated by gemini_state(), freed by
 * gemini_finish(). */
struct gemini_st {
    struct oai_stream os;
    int started;             /* os initialised */
    int n_tools;             /* tool calls emitted so far */
};

/* c->st, allocated on first use. */
struct gemini_st *gemini_state(struct provider_call *c);

/* Whether a model id is safe in a URL path ([A-Za-z0-9._@-]). */
int gemini_model_ok(const char *model);

/* Writes the generateContent body for the chat request c->req into
 * c->body. -1 with a message for the client in c->scratch when the
 * request cannot be expressed in Gemini's shape. */
int gemini_chat_body(struct provider_call *c);
/* The batchEmbedContents body for the embeddings request c->req. */
int gemini_embed_body(struct provider_call *c);
/* Vertex AI's :predict body for text-embedding models. */
int gemini_vertex_embed_body(struct provider_call *c);

/* Adds the header "<prefix><secret>" without leaving a copy behind. */
void gemini_add_header(struct provider_call *c, const char *prefix,
                       const char *secret);
/* Content-Type and Accept for a JSON request (or an SSE stream). */
void gemini_add_json_headers(struct provider_call *c);

/* provider_ops members for the Gemini dialect. */
int gemini_parse(struct provider_call *c, const char *body, size_t len,
                 struct buf *out);
int gemini_stream(struct provider_call *c, const char *p, size_t n,
                  struct chunk_sink *sink, int *done);
void gemini_error(struct provider_call *c, long status, const char *body,
                  size_t len, struct buf *out);
void gemini_finish(struct provider_call *c);

#endif
