/* The "identity" settings section (JWT, RBAC, failed-attempt limits) and
 * routes[].auth, parsed after the rest of the config. */
#ifndef AIGW_AUTHCFG_H
#define AIGW_AUTHCFG_H

#include <stddef.h>

struct config;
struct json_object;
struct route;

struct auth_settings {
    struct jwt_settings *jwt;   /* NULL: JWTs are not accepted */
    struct rbac *rbac;          /* NULL: no rules (key scopes still apply) */
    int *route_auth;            /* enum route_auth per cfg->routes[i] */
    size_t n_routes;
    long fail_max;              /* failed attempts per client ... */
    long fail_window_ms;        /* ... per window, then 429 */
};

/* Fills cfg->authz from root. 0, or -1 with a message in err. */
int authcfg_load(struct config *cfg, struct json_object *root, char *err,
                 size_t errsz);
void authcfg_free(struct auth_settings *a);
/* The route's enum route_auth. */
int authcfg_route_mode(const struct config *cfg, const struct route *rt);

#endif
