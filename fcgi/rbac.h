/* Role-based access control: rules on routes, backends and models that
 * match the caller's identity and JWT claims, plus API keys' own scopes.
 *
 * A rule selects targets (routes, backends, models: lists of names or
 * globs; absent = any) and holds conditions combined with "any" or "all"
 * (none = always true). For a target: a selecting "deny" rule whose
 * conditions hold denies; otherwise, if some "allow" rules select it, one
 * of them must hold; otherwise rbac.default decides ("allow" unless set).
 * Rules naming backends or models are decided once the model is known;
 * the others at the route, before the body is read further. */
#ifndef AIGW_RBAC_H
#define AIGW_RBAC_H

#include <stddef.h>

struct identity;
struct json_object;
struct rbac;

/* o: {"default":"allow"|"deny","rules":[...]}. NULL with err. */
struct rbac *rbac_load(struct json_object *o, char *err, size_t errsz);
void rbac_free(struct rbac *rb);

/* 1 allowed, 0 denied. rb may be NULL (no rules: scopes only). */
int rbac_allow_route(const struct rbac *rb, const struct identity *id,
                     const char *route);
int rbac_allow_model(const struct rbac *rb, const struct identity *id,
                     const char *route, const char *backend,
                     const char *model);

#endif
