/* The request path after the entry: route, authenticate, dispatch to the
 * handler, then settle (one usage event to the ledger, one log line). */
#ifndef AIGW_GATEWAY_H
#define AIGW_GATEWAY_H

#include <stddef.h>

struct config;
struct request;
struct route;

/* The route whose prefix is the longest match for the path, or NULL. */
const struct route *router_match(const struct config *cfg, const char *path,
                                 size_t len);
void gateway_handle(const struct config *cfg, struct request *r);

#endif
