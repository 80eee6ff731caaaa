/* Anthropic's Messages API for clients: POST {prefix}/messages on any
 * route, translated to and from the unified (OpenAI) shape, so Anthropic
 * SDK users can reach every backend. */
#ifndef AIGW_FRONTEND_ANTHROPIC_H
#define AIGW_FRONTEND_ANTHROPIC_H

struct frontend;

extern const struct frontend frontend_anthropic;

#endif
