#include "authcfg.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_jwt.h"
#include "config.h"
#include "rbac.h"
#include "xalloc.h"

static const char *const modes[] = {
    "api_key", "jwt", "either", "optional", "off", NULL
};

static int route_modes(struct config *cfg, struct auth_settings *a,
                       json_object *root, char *err, size_t errsz)
{
    json_object *rts = json_object_object_get(root, "routes");

    a->n_routes = cfg->n_routes;
    a->route_auth = xcalloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(int));
    for (size_t i = 0; i < cfg->n_routes; i++) {
        json_object *v;
        const char *m;
        int found = -1;

        if (!json_object_object_get_ex(json_object_array_get_idx(rts, i),
                                       "auth", &v))
            continue;
        m = json_object_get_string(v);
        for (int k = 0; json_object_is_type(v, json_type_string) &&
                        modes[k] != NULL; k++)
            if (strcmp(modes[k], m) == 0)
                found = k;
        if (found < 0) {
            snprintf(err, errsz, "%s: routes[%zu].auth: one of api_key, "
                     "jwt, either, optional, off", cfg->path, i);
            return -1;
        }
        if (found != RA_API_KEY && found != RA_OFF && a->jwt == NULL) {
            snprintf(err, errsz, "%s: routes[%zu].auth: JWTs need "
                     "identity.jwt", cfg->path, i);
            return -1;
        }
        a->route_auth[i] = found;
    }
    return 0;
}

int authcfg_load(struct config *cfg, json_object *root, char *err,
                 size_t errsz)
{
    struct auth_settings *a = xcalloc(1, sizeof(*a));
    json_object *id = NULL, *v, *fa;
    char e[256];

    cfg->authz = a;
    a->fail_max = 30;
    a->fail_window_ms = 60000;
    if (json_object_object_get_ex(root, "identity", &id) &&
        !json_object_is_type(id, json_type_object)) {
        snprintf(err, errsz, "%s: identity: must be an object", cfg->path);
        return -1;
    }
    if (id != NULL && json_object_object_get_ex(id, "jwt", &v) &&
        (a->jwt = jwt_settings_load(v, e, sizeof(e))) == NULL)
        goto fail;
    if (id != NULL && json_object_object_get_ex(id, "rbac", &v) &&
        (a->rbac = rbac_load(v, e, sizeof(e))) == NULL)
        goto fail;
    if (id != NULL && json_object_object_get_ex(id, "failed_auth", &fa)) {
        long win = a->fail_window_ms / 1000;

        if (config_opt_long(fa, "max", 0, 1000000, &a->fail_max, e,
                            sizeof(e)) < 0 ||
            config_opt_long(fa, "window_s", 1, 86400, &win, e,
                            sizeof(e)) < 0) {
            snprintf(err, errsz, "%s: identity.failed_auth.%s", cfg->path, e);
            return -1;
        }
        a->fail_window_ms = win * 1000;
    }
    return route_modes(cfg, a, root, err, errsz);
fail:
    snprintf(err, errsz, "%s: %s", cfg->path, e);
    return -1;
}

void authcfg_free(struct auth_settings *a)
{
    if (a == NULL)
        return;
    jwt_settings_free(a->jwt);
    rbac_free(a->rbac);
    free(a->route_auth);
    free(a);
}

int authcfg_route_mode(const struct config *cfg, const struct route *rt)
{
    size_t i = (size_t)(rt - cfg->routes);

    if (cfg->authz == NULL || i >= cfg->authz->n_routes)
        return RA_API_KEY;
    return cfg->authz->route_auth[i];
}
