/* GET {route}/models: the models the caller may use on this route, then
 * the aliases and groups (routing.aliases) it can serve, each name once. */
#ifndef AIGW_MODELS_H
#define AIGW_MODELS_H

struct config;
struct request;
struct route;

void models_handle(const struct config *cfg, struct request *r,
                   const struct route *rt);

#endif
