#include "rbac.h"

#include <fnmatch.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_jwt.h"
#include "xalloc.h"

enum op { OP_EQUALS, OP_IN, OP_CONTAINS, OP_REGEX, OP_EXISTS };

struct cond {
    char *field;            /* identity field, or NULL for a claim */
    char *claim;            /* claim path */
    enum op op;
    char **vals;
    size_t n_vals;
    regex_t re;
    int exists;             /* OP_EXISTS: wanted presence */
};

struct list {
    char **v;
    size_t n;               /* 0: any */
};

struct rule {
    int deny;
    int all;                /* "all" (1) or "any" (0) */
    int model_level;        /* names backends or models */
    struct list routes, backends, models;
    struct cond *conds;
    size_t n_conds;
};

struct rbac {
    int default_deny;
    struct rule *rules;
    size_t n_rules;
};

#define MAX_VALUES 64       /* values looked at per claim */

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* A string or a list of strings into l. 0, or -1 when malformed. */
static int list_load(json_object *v, struct list *l)
{
    size_t n;

    if (json_object_is_type(v, json_type_string)) {
        l->v = xcalloc(1, sizeof(char *));
        l->v[0] = xstrdup(json_object_get_string(v));
        l->n = 1;
        return 0;
    }
    if (!json_object_is_type(v, json_type_array) ||
        (n = json_object_array_length(v)) == 0)
        return -1;
    l->v = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);

        if (!json_object_is_type(s, json_type_string))
            return -1;
        l->v[i] = xstrdup(json_object_get_string(s));
        l->n = i + 1;
    }
    return 0;
}

static int list_match(const struct list *l, const char *s)
{
    if (l->n == 0)
        return 1;
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0 || fnmatch(l->v[i], s, 0) == 0)
            return 1;
    return 0;
}

static const char *const fields[] = {
    "user_id", "group_id", "groups", "api_key_id", "auth", NULL
};

static int cond_load(json_object *o, struct cond *c, char *err, size_t errsz)
{
    static const char *const ops[] = {
        "equals", "in", "contains", "regex", "exists"
    };
    const char *f, *cl;
    json_object *v = NULL;
    struct list l = { 0 };
    int found = 0;

    if (!json_object_is_type(o, json_type_object))
        goto bad;
    f = json_object_is_type(json_object_object_get(o, "field"),
                            json_type_string)
        ? json_object_get_string(json_object_object_get(o, "field")) : NULL;
    cl = json_object_is_type(json_object_object_get(o, "claim"),
                             json_type_string)
        ? json_object_get_string(json_object_object_get(o, "claim")) : NULL;
    if ((f == NULL) == (cl == NULL))
        goto bad;
    if (f != NULL) {
        for (size_t i = 0; fields[i] != NULL; i++)
            found |= strcmp(fields[i], f) == 0;
        if (!found) {
            snprintf(err, errsz, "unknown field \"%s\" (user_id, group_id, "
                     "groups, api_key_id, auth)", f);
            return -1;
        }
        c->field = xstrdup(f);
    } else {
        c->claim = xstrdup(cl);
    }
    for (size_t i = 0; i < 5; i++)
        if (json_object_object_get_ex(o, ops[i], &v)) {
            c->op = (enum op)i;
            break;
        }
    if (v == NULL)
        goto bad;
    if (c->op == OP_EXISTS) {
        c->exists = json_object_get_boolean(v);
        return 0;
    }
    if (list_load(v, &l) < 0 || (c->op != OP_IN && l.n != 1)) {
        list_free(&l);
        goto bad;
    }
    c->vals = l.v;
    c->n_vals = l.n;
    if (c->op == OP_REGEX &&
        regcomp(&c->re, c->vals[0], REG_EXTENDED | REG_NOSUB) != 0) {
        snprintf(err, errsz, "bad regex \"%s\"", c->vals[0]);
        free(c->vals[0]);
        free(c->vals);
        c->vals = NULL;
        c->n_vals = 0;
        return -1;
    }
    return 0;
bad:
    snprintf(err, errsz, "a condition is {\"field\"|\"claim\": NAME, "
             "\"equals\"|\"in\"|\"contains\"|\"regex\"|\"exists\": VALUE}");
    return -1;
}

static void cond_release(struct cond *c)
{
    free(c->field);
    free(c->claim);
    for (size_t i = 0; i < c->n_vals; i++)
        free(c->vals[i]);
    free(c->vals);
    if (c->op == OP_REGEX && c->n_vals > 0)
        regfree(&c->re);
}

static int rule_load(json_object *o, struct rule *r, char *err, size_t errsz)
{
    json_object *v, *conds = NULL;
    const char *eff;

    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "must be an object");
        return -1;
    }
    eff = json_object_is_type(json_object_object_get(o, "effect"),
                              json_type_string)
          ? json_object_get_string(json_object_object_get(o, "effect"))
          : "allow";
    if (strcmp(eff, "allow") != 0 && strcmp(eff, "deny") != 0) {
        snprintf(err, errsz, "effect must be allow or deny");
        return -1;
    }
    r->deny = eff[0] == 'd';
    if ((json_object_object_get_ex(o, "routes", &v) &&
         list_load(v, &r->routes) < 0) ||
        (json_object_object_get_ex(o, "backends", &v) &&
         list_load(v, &r->backends) < 0) ||
        (json_object_object_get_ex(o, "models", &v) &&
         list_load(v, &r->models) < 0)) {
        snprintf(err, errsz, "routes, backends and models are names or "
                 "lists of names");
        return -1;
    }
    r->model_level = r->backends.n > 0 || r->models.n > 0;
    if (json_object_object_get_ex(o, "all", &conds))
        r->all = 1;
    else if (!json_object_object_get_ex(o, "any", &conds))
        return 0;
    if (!json_object_is_type(conds, json_type_array)) {
        snprintf(err, errsz, "any/all must be a list of conditions");
        return -1;
    }
    r->n_conds = json_object_array_length(conds);
    r->conds = xcalloc(r->n_conds ? r->n_conds : 1, sizeof(*r->conds));
    for (size_t i = 0; i < r->n_conds; i++)
        if (cond_load(json_object_array_get_idx(conds, i), &r->conds[i],
                      err, errsz) < 0) {
            r->n_conds = i + 1;
            return -1;
        }
    return 0;
}

struct rbac *rbac_load(json_object *o, char *err, size_t errsz)
{
    struct rbac *rb = xcalloc(1, sizeof(*rb));
    json_object *v, *rules;
    char e[200];

    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "identity.rbac: must be an object");
        goto fail;
    }
    if (json_object_object_get_ex(o, "default", &v)) {
        const char *d = json_object_get_string(v);

        if (!json_object_is_type(v, json_type_string) ||
            (strcmp(d, "allow") != 0 && strcmp(d, "deny") != 0)) {
            snprintf(err, errsz, "identity.rbac.default: allow or deny");
            goto fail;
        }
        rb->default_deny = d[0] == 'd';
    }
    if (!json_object_object_get_ex(o, "rules", &rules))
        return rb;
    if (!json_object_is_type(rules, json_type_array)) {
        snprintf(err, errsz, "identity.rbac.rules: must be a list");
        goto fail;
    }
    rb->n_rules = json_object_array_length(rules);
    rb->rules = xcalloc(rb->n_rules ? rb->n_rules : 1, sizeof(*rb->rules));
    for (size_t i = 0; i < rb->n_rules; i++)
        if (rule_load(json_object_array_get_idx(rules, i), &rb->rules[i], e,
                      sizeof(e)) < 0) {
            snprintf(err, errsz, "identity.rbac.rules[%zu]: %s", i, e);
            goto fail;
        }
    return rb;
fail:
    rbac_free(rb);
    return NULL;
}

void rbac_free(struct rbac *rb)
{
    if (rb == NULL)
        return;
    for (size_t i = 0; i < rb->n_rules; i++) {
        struct rule *r = &rb->rules[i];

        list_free(&r->routes);
        list_free(&r->backends);
        list_free(&r->models);
        for (size_t k = 0; k < r->n_conds; k++)
            cond_release(&r->conds[k]);
        free(r->conds);
    }
    free(rb->rules);
    free(rb);
}

/* --- evaluation -------------------------------------------------------- */

/* The values a condition looks at: strings (numbers printed) into vals,
 * pointing into id, its claims or buf. Returns how many. */
static size_t values_of(const struct cond *c, const struct identity *id,
                        const char **vals, char (*buf)[32])
{
    json_object *v;
    size_t n = 0, len;

    if (c->field != NULL && strcmp(c->field, "groups") != 0) {
        const char *s = strcmp(c->field, "user_id") == 0 ? id->user_id
                      : strcmp(c->field, "group_id") == 0 ? id->group_id
                      : strcmp(c->field, "api_key_id") == 0 ? id->api_key_id
                      : id->kind == ID_JWT ? "jwt"
                      : id->kind == ID_API_KEY ? "api_key" : "none";

        vals[0] = s;
        return *s != '\0';
    }
    if (c->field != NULL) {          /* groups */
        if (id->kind != ID_JWT || id->group_claim == NULL) {
            vals[0] = id->group_id;
            return id->group_id[0] != '\0';
        }
        v = jwt_claim(id->claims, id->group_claim);
    } else {
        v = id->claims ? jwt_claim(id->claims, c->claim) : NULL;
    }
    if (v == NULL)
        return 0;
    len = json_object_is_type(v, json_type_array)
          ? json_object_array_length(v) : 1;
    for (size_t i = 0; i < len && n < MAX_VALUES; i++) {
        json_object *e = json_object_is_type(v, json_type_array)
                         ? json_object_array_get_idx(v, i) : v;

        if (json_object_is_type(e, json_type_string)) {
            vals[n++] = json_object_get_string(e);
        } else if (json_object_is_type(e, json_type_int) ||
                   json_object_is_type(e, json_type_boolean)) {
            snprintf(buf[n], sizeof(buf[n]), "%s",
                     json_object_get_string(e));
            vals[n] = buf[n];
            n++;
        }
    }
    return n;
}

static int cond_holds(const struct cond *c, const struct identity *id)
{
    const char *vals[MAX_VALUES];
    char buf[MAX_VALUES][32];
    size_t n = values_of(c, id, vals, buf);

    if (c->op == OP_EXISTS)
        return (n > 0) == c->exists;
    for (size_t i = 0; i < n; i++) {
        if (c->op == OP_REGEX) {
            if (regexec(&c->re, vals[i], 0, NULL, 0) == 0)
                return 1;
            continue;
        }
        for (size_t k = 0; k < c->n_vals; k++)
            if (strcmp(vals[i], c->vals[k]) == 0)
                return 1;        /* equals, in, contains alike */
    }
    return 0;
}

static int rule_holds(const struct rule *r, const struct identity *id)
{
    for (size_t i = 0; i < r->n_conds; i++) {
        int h = cond_holds(&r->conds[i], id);

        if (r->all && !h)
            return 0;
        if (!r->all && h)
            return 1;
    }
    return r->all || r->n_conds == 0;
}

/* model NULL: the route stage (route-level rules only). */
static int decide(const struct rbac *rb, const struct identity *id,
                  const char *route, const char *backend, const char *model)
{
    int allow_rules = 0, allowed = 0;

    for (size_t i = 0; rb != NULL && i < rb->n_rules; i++) {
        const struct rule *r = &rb->rules[i];

        if ((model == NULL && r->model_level) ||
            !list_match(&r->routes, route) ||
            (model != NULL && (!list_match(&r->backends, backend) ||
                               !list_match(&r->models, model))))
            continue;
        if (r->deny) {
            if (rule_holds(r, id))
                return 0;
            continue;
        }
        allow_rules = 1;
        if (!allowed && rule_holds(r, id))
            allowed = 1;
    }
    if (allow_rules)
        return allowed;
    return model == NULL || rb == NULL || !rb->default_deny;
}

/* Is s in the '\n'-separated list of names or globs? */
static int scope_has(const char *list, const char *s)
{
    char one[256];

    while (*list) {
        size_t n = strcspn(list, "\n");

        if (n < sizeof(one)) {
            memcpy(one, list, n);
            one[n] = '\0';
            if (strcmp(one, s) == 0 || fnmatch(one, s, 0) == 0)
                return 1;
        }
        list += n + (list[n] == '\n');
    }
    return 0;
}

int rbac_allow_route(const struct rbac *rb, const struct identity *id,
                     const char *route)
{
    if (id->route_scoped && !scope_has(id->scope_routes, route))
        return 0;
    return decide(rb, id, route, NULL, NULL);
}

int rbac_allow_model(const struct rbac *rb, const struct identity *id,
                     const char *route, const char *backend,
                     const char *model)
{
    if (id->model_scoped && !scope_has(id->scope_models, model))
        return 0;
    return decide(rb, id, route, backend ? backend : "", model);
}
