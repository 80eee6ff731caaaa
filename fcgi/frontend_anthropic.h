/* Anthropic's Messages API for clients: POST {prefix}/messages on any
 * route, translated to and from the unified (OpenAI) shape, so Anthropic
 * SDK users can reach every backend. */
#ifndef AIGW_FRONTEND_ANTHROPIC_H
#define AIGW_FRONTEND_ANTHROPIC_H

struct frontend;
struct request;

extern const struct frontend frontend_anthropic;

/* An error in Anthropic's shape ({"type":"error","error":{"type",
 * "message"}}, the type from the status: rate_limit_error for 429, ...)
 * with extra header lines ("" or CRLF-terminated): the gateway's errors
 * on the Messages API path (request.h error_out). */
void frontend_anthropic_error(struct request *r, int status,
                              const char *code, const char *msg,
                              const char *extra);

#endif
