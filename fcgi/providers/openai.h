/* OpenAI's dialect, shared with the providers that speak it behind other
 * URLs and credentials (Azure OpenAI). */
#ifndef AIGW_OPENAI_H
#define AIGW_OPENAI_H

#include <stddef.h>

#include "provider.h"

struct buf;

/* Appends the header "<prefix><key>" to c->hdrs without leaving a copy of
 * the key behind. */
void openai_add_auth(struct provider_call *c, const char *prefix,
                     const char *key);
/* Writes c->req as c->body, asking streams for their usage chunk. */
void openai_write_body(struct provider_call *c);
/* The provider_ops of OpenAI's dialect: replies and chunks pass through
 * untouched, usage and served model are read from them. */
int openai_parse(struct provider_call *c, const char *body, size_t len,
                 struct buf *out);
int openai_stream(struct provider_call *c, const char *p, size_t n,
                  struct chunk_sink *sink, int *done);
void openai_error(struct provider_call *c, long status, const char *body,
                  size_t len, struct buf *out);

#endif
