#include "models.h"

#include <string.h>

#include "authcfg.h"
#include "buf.h"
#include "config.h"
#include "failover.h"
#include "rbac.h"
#include "request.h"
#include "worker.h"

#define MODELS_MAX 1024   /* names listed per route */

struct listing {
    struct buf *b;
    const char *seen[MODELS_MAX];
    size_t n;
};

/* Adds {"id": name, ...} once; 0 when it was listed already. */
static int list_add(struct listing *l, const char *name, const char *owner)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->seen[i], name) == 0)
            return 0;
    if (l->n == MODELS_MAX)
        return 0;
    buf_adds(l->b, l->n == 0 ? "{\"id\":" : ",{\"id\":");
    buf_add_json_str(l->b, name, strlen(name));
    buf_adds(l->b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
    buf_add_json_str(l->b, owner, strlen(owner));
    buf_addc(l->b, '}');
    l->seen[l->n++] = name;
    return 1;
}

/* Aliases and groups whose candidates this route has and the caller may
 * use (as relay.c decides: RBAC on each candidate backend and model). */
static void list_aliases(const struct config *cfg, struct request *r,
                         const struct route *rt, struct listing *l)
{
    struct fo_cand c[FO_MAX_CANDS];
    const char *name;
    unsigned seed = 1;
    int aliased;

    for (size_t a = 0; (name = failover_alias_name(cfg, a)) != NULL; a++) {
        size_t n = failover_candidates(cfg, rt, name, c, FO_MAX_CANDS,
                                       &seed, &aliased);
        int ok = r->ident == NULL && n > 0;

        for (size_t i = 0; i < n && !ok; i++)
            ok = rbac_allow_model(cfg->authz->rbac, r->ident, rt->name,
                                  c[i].be->name, c[i].model);
        if (ok)
            list_add(l, name, "aigw");
    }
}

void models_handle(const struct config *cfg, struct request *r,
                   const struct route *rt)
{
    struct listing l = { .b = &r->w->out };

    buf_reset(l.b);
    buf_adds(l.b, "{\"object\":\"list\",\"data\":[");
    for (size_t k = 0; k < rt->n_backends; k++) {
        const struct backend *be = rt->backends[k];

        for (size_t i = 0; i < be->n_models; i++) {
            const char *m = be->models[i];

            /* patterns are not model names; the first backend wins */
            if (strpbrk(m, "*?[") != NULL || route_backend(rt, m) != be)
                continue;
            if (r->ident != NULL &&     /* only what the caller may use */
                !rbac_allow_model(cfg->authz->rbac, r->ident, rt->name,
                                  be->name, m))
                continue;
            list_add(&l, m, be->name);
        }
    }
    list_aliases(cfg, r, rt, &l);
    buf_adds(l.b, "]}\n");
    r->ev.http_status = 200;
    req_send_json(r, 200, l.b->ptr, l.b->len, "");
}
