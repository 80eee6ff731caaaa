#include "plan.h"

#include <ctype.h>
#include <fnmatch.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "quotacfg.h"
#include "request.h"
#include "worker.h"
#include "xalloc.h"

const struct plan *plan_find(const struct plan_settings *ps,
                             const char *name)
{
    for (size_t i = 0; name != NULL && i < ps->n; i++)
        if (strcmp(ps->v[i].name, name) == 0)
            return &ps->v[i];
    return NULL;
}

char *plan_header_param(const char *header)
{
    size_t n = strlen(header);
    char *s = xmalloc(n + 6);

    memcpy(s, "HTTP_", 5);
    for (size_t i = 0; i <= n; i++)
        s[5 + i] = header[i] == '-' ? '_'
                 : (char)toupper((unsigned char)header[i]);
    return s;
}

void plan_settings_release(struct plan_settings *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        for (size_t k = 0; k < ps->v[i].n_models; k++)
            free(ps->v[i].models[k]);
        free(ps->v[i].models);
        free(ps->v[i].name);
    }
    free(ps->v);
    free(ps->default_plan);
    free(ps->claim);
    free(ps->header);
    memset(ps, 0, sizeof(*ps));
}

const struct plan *plan_of(const struct request *r)
{
    const struct plan_settings *ps = &r->w->cfg->quotas->plans;
    const struct identity *id = r->ident;
    const struct plan *p = NULL;
    const char *v;
    json_object *c;

    if (ps->n == 0)
        return NULL;
    if (ps->header != NULL && (v = req_param(r, ps->header)) != NULL)
        p = plan_find(ps, v);
    if (p == NULL && id != NULL && id->plan[0] != '\0')
        p = plan_find(ps, id->plan);
    if (p == NULL && id != NULL && id->claims != NULL && ps->claim != NULL &&
        json_object_object_get_ex(id->claims, ps->claim, &c) &&
        json_object_is_type(c, json_type_string))
        p = plan_find(ps, json_object_get_string(c));
    return p != NULL ? p : plan_find(ps, ps->default_plan);
}

int plan_allows_model(const struct request *r, const char *model)
{
    const struct plan *p = plan_of(r);

    if (p == NULL || !p->has_models)
        return 1;
    for (size_t i = 0; model != NULL && i < p->n_models; i++)
        if (strcmp(p->models[i], model) == 0 ||
            fnmatch(p->models[i], model, 0) == 0)
            return 1;
    return 0;
}
