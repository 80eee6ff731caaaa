#include "models.h"

#include <string.h>

#include "authcfg.h"
#include "buf.h"
#include "config.h"
#include "rbac.h"
#include "request.h"
#include "worker.h"

void models_handle(const struct config *cfg, struct request *r,
                   const struct route *rt)
{
    struct buf *b = &r->w->out;
    int first = 1;

    buf_reset(b);
    buf_adds(b, "{\"object\":\"list\",\"data\":[");
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
            buf_adds(b, first ? "{\"id\":" : ",{\"id\":");
            buf_add_json_str(b, m, strlen(m));
            buf_adds(b, ",\"object\":\"model\",\"created\":0,"
                     "\"owned_by\":");
            buf_add_json_str(b, be->name, strlen(be->name));
            buf_addc(b, '}');
            first = 0;
        }
    }
    buf_adds(b, "]}\n");
    r->ev.http_status = 200;
    req_send_json(r, 200, b->ptr, b->len, "");
}
