#include "transform.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "auth_jwt.h"
#include "buf.h"
#include "jsonutil.h"
#include "request.h"
#include "xalloc.h"

struct kv {
    char *name;
    char *value;      /* template */
};

struct transform {
    struct kv *hset;
    size_t n_hset;
    char **hdel;
    size_t n_hdel;
    json_object *set;       /* held: fields to override */
    json_object *dflt;      /* held: fields to add when absent */
    char **del;
    size_t n_del;
    char *resp_headers;     /* "Name: v\r\n" lines, or NULL */
    char **resp_del;        /* names not sent to the client; NULL-ended */
    size_t n_resp_del;
    long max_tokens_cap;    /* 0: none */
    int force_user;
    json_object *prepend;   /* held: messages */
    json_object *append;
};

static int bad(char *err, size_t errsz, const char *where, const char *what)
{
    snprintf(err, errsz, "%stransform: %s", where, what);
    return -1;
}

static int names(json_object *o, const char *key, char ***out, size_t *n)
{
    json_object *a;

    if (!json_object_object_get_ex(o, key, &a))
        return 0;
    if (!json_object_is_type(a, json_type_array))
        return -1;
    *n = json_object_array_length(a);
    *out = xcalloc(*n ? *n : 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        const char *s = json_object_get_string(
            json_object_array_get_idx(a, i));

        if (s == NULL || *s == '\0' || strpbrk(s, "\r\n: ") != NULL)
            return -1;
        (*out)[i] = xstrdup(s);
    }
    return 0;
}

static int load_headers(struct transform *x, json_object *h)
{
    json_object *set;

    if (json_object_object_get_ex(h, "set", &set)) {
        if (!json_object_is_type(set, json_type_object))
            return -1;
        x->hset = xcalloc((size_t)json_object_object_length(set) + 1,
                          sizeof(*x->hset));
        json_object_object_foreach(set, k, v) {
            const char *vs = json_object_get_string(v);

            if (strpbrk(k, "\r\n: ") != NULL || *k == '\0' ||
                vs == NULL || strpbrk(vs, "\r\n") != NULL)
                return -1;
            x->hset[x->n_hset].name = xstrdup(k);
            x->hset[x->n_hset++].value = xstrdup(vs);
        }
    }
    return names(h, "remove", &x->hdel, &x->n_hdel);
}

static json_object *held(json_object *o, const char *key, json_type t)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
        return NULL;
    return json_object_get(v);
}

/* The headers a route may not drop: the response would break. */
static int essential(const char *name)
{
    return strcasecmp(name, "status") == 0 ||
           strcasecmp(name, "content-type") == 0 ||
           strcasecmp(name, "content-length") == 0 ||
           strcasecmp(name, "transfer-encoding") == 0;
}

/* response_headers: set (fixed lines added to every response) and remove
 * (names the gateway would send that the client must not see). */
static int load_resp_headers(struct transform *x, json_object *h)
{
    json_object *set;
    struct buf b = BUF_INIT(16384);

    if (names(h, "remove", &x->resp_del, &x->n_resp_del) < 0)
        return -1;
    if (x->resp_del != NULL) {      /* NULL-terminated for request.c */
        x->resp_del = xrealloc(x->resp_del,
                               (x->n_resp_del + 1) * sizeof(char *));
        x->resp_del[x->n_resp_del] = NULL;
        for (size_t i = 0; i < x->n_resp_del; i++)
            if (essential(x->resp_del[i]))
                return -1;
    }
    if (!json_object_object_get_ex(h, "set", &set))
        return x->resp_del != NULL ? 0 : -1;
    if (!json_object_is_type(set, json_type_object))
        return -1;
    json_object_object_foreach(set, k, v) {
        const char *vs = json_object_get_string(v);

        if (strpbrk(k, "\r\n: ") != NULL || *k == '\0' || vs == NULL ||
            strpbrk(vs, "\r\n") != NULL) {
            buf_release(&b);
            return -1;
        }
        buf_addf(&b, "%s: %s\r\n", k, vs);
    }
    if (buf_error(&b) != 0) {
        buf_release(&b);
        return -1;
    }
    x->resp_headers = buf_detach(&b, NULL);
    return 0;
}

const char *const *transform_response_drop(const struct transform *x)
{
    return x != NULL ? (const char *const *)x->resp_del : NULL;
}

const char *transform_response_headers(const struct transform *x)
{
    return x != NULL ? x->resp_headers : NULL;
}

int transform_load(struct transform **out, json_object *o, const char *where,
                   char *err, size_t errsz)
{
    json_object *t, *h, *b, *p;
    struct transform *x;

    *out = NULL;
    if (!json_object_object_get_ex(o, "transform", &t))
        return 0;
    if (!json_object_is_type(t, json_type_object))
        return bad(err, errsz, where, "must be an object");
    x = *out = xcalloc(1, sizeof(*x));
    if (json_object_object_get_ex(t, "request_headers", &h) &&
        load_headers(x, h) < 0)
        return bad(err, errsz, where, "request_headers: set is an object "
                   "of header values without line breaks, remove a list "
                   "of names");
    if (json_object_object_get_ex(t, "response_headers", &h) &&
        load_resp_headers(x, h) < 0)
        return bad(err, errsz, where, "response_headers: set is an object "
                   "of fixed header values without line breaks, remove a "
                   "list of names (not Content-Type or Content-Length)");
    if (json_object_object_get_ex(t, "body", &b)) {
        x->set = held(b, "set", json_type_object);
        x->dflt = held(b, "default", json_type_object);
        x->max_tokens_cap = (long)jget_int(b, "max_tokens_cap", 0);
        x->force_user = json_object_get_boolean(
            json_object_object_get(b, "force_user"));
        if (names(b, "remove", &x->del, &x->n_del) < 0 ||
            x->max_tokens_cap < 0)
            return bad(err, errsz, where, "body: remove is a list of field "
                       "names, max_tokens_cap a positive integer");
    }
    if (json_object_object_get_ex(t, "prompt", &p)) {
        x->prepend = held(p, "prepend", json_type_array);
        x->append = held(p, "append", json_type_array);
    }
    return 0;
}

void transform_free(struct transform *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->n_hset; i++) {
        free(x->hset[i].name);
        free(x->hset[i].value);
    }
    for (size_t i = 0; i < x->n_hdel; i++)
        free(x->hdel[i]);
    for (size_t i = 0; i < x->n_del; i++)
        free(x->del[i]);
    for (size_t i = 0; i < x->n_resp_del; i++)
        free(x->resp_del[i]);
    free(x->resp_del);
    free(x->hset);
    free(x->hdel);
    free(x->resp_headers);
    free(x->del);
    json_object_put(x->set);
    json_object_put(x->dflt);
    json_object_put(x->prepend);
    json_object_put(x->append);
    free(x);
}

/* The caller's JWT claim at path (dots descend, as in rbac rules) as
 * text: strings as they are, numbers and booleans in JSON, an array's
 * scalars joined by commas; nothing for objects or API-key callers. */
static void add_claim(struct buf *b, const struct request *r,
                      const char *path, size_t n)
{
    char p[256];
    json_object *v;

    if (r->ident == NULL || r->ident->claims == NULL || n == 0 ||
        n >= sizeof(p))
        return;
    memcpy(p, path, n);
    p[n] = '\0';
    if ((v = jwt_claim(r->ident->claims, p)) == NULL ||
        json_object_is_type(v, json_type_object))
        return;
    if (!json_object_is_type(v, json_type_array)) {
        buf_adds(b, json_object_get_string(v));
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *e = json_object_array_get_idx(v, i);

        if (e == NULL || json_object_is_type(e, json_type_object) ||
            json_object_is_type(e, json_type_array))
            continue;
        if (i > 0)
            buf_addc(b, ',');
        buf_adds(b, json_object_get_string(e));
    }
}

/* Expands {{field}} from the request's identity and ids, and
 * {{claim.PATH}} from the caller's JWT claims. */
static void expand(struct buf *b, const char *t, const struct request *r)
{
    while (*t) {
        const char *s = strstr(t, "{{"), *e;
        const char *v = NULL;
        size_t n;

        if (s == NULL || (e = strstr(s, "}}")) == NULL) {
            buf_adds(b, t);
            return;
        }
        buf_add(b, t, (size_t)(s - t));
        n = (size_t)(e - s - 2);
        t = e + 2;
        if (n > 6 && memcmp(s + 2, "claim.", 6) == 0) {
            add_claim(b, r, s + 8, n - 6);
            continue;
        }
#define IS(k) (n == sizeof(k) - 1 && memcmp(s + 2, k, n) == 0)
        if (IS("user_id"))
            v = r->ev.user_id;
        else if (IS("group_id"))
            v = r->ev.group_id;
        else if (IS("api_key_id"))
            v = r->ev.api_key_id;
        else if (IS("route"))
            v = r->ev.route;
        else if (IS("request_id"))
            v = r->request_id;
#undef IS
        buf_adds(b, v ? v : "");
    }
}

static json_object *messages_from(json_object *tmpl, const struct request *r)
{
    json_object *out = json_object_new_array();

    for (size_t i = 0; i < json_object_array_length(tmpl); i++) {
        json_object *m = json_object_array_get_idx(tmpl, i), *c = NULL;
        json_object *nm = json_object_new_object();
        const char *role = jget_str(m, "role");
        const char *content = jget_str(m, "content");
        struct buf b = BUF_INIT(1 << 20);

        expand(&b, content ? content : "", r);
        if (buf_error(&b) == 0)
            c = json_object_new_string_len(b.ptr ? b.ptr : "", (int)b.len);
        buf_release(&b);
        jadd(nm, "role", json_object_new_string(role ? role : "system"));
        jadd(nm, "content", c ? c : json_object_new_string(""));
        json_object_array_add(out, nm);
    }
    return out;
}

static int enrich(const struct transform *x, json_object *req,
                  const struct request *r)
{
    json_object *msgs, *nm;

    if ((x->prepend == NULL && x->append == NULL) ||
        !json_object_object_get_ex(req, "messages", &msgs) ||
        !json_object_is_type(msgs, json_type_array))
        return 0;
    nm = x->prepend ? messages_from(x->prepend, r) : json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(msgs); i++)
        json_object_array_add(nm, json_object_get(
            json_object_array_get_idx(msgs, i)));
    if (x->append != NULL) {
        json_object *tail = messages_from(x->append, r);

        for (size_t i = 0; i < json_object_array_length(tail); i++)
            json_object_array_add(nm, json_object_get(
                json_object_array_get_idx(tail, i)));
        json_object_put(tail);
    }
    jadd(req, "messages", nm);
    return 1;
}

int transform_body(const struct transform *x, json_object *req,
                   const struct request *r)
{
    int changed = 0;

    if (x == NULL || !json_object_is_type(req, json_type_object))
        return 0;
    for (size_t i = 0; i < x->n_del; i++)
        if (json_object_object_get_ex(req, x->del[i], NULL)) {
            json_object_object_del(req, x->del[i]);
            changed = 1;
        }
    if (x->dflt != NULL) {
        json_object_object_foreach(x->dflt, k, v) {
            if (!json_object_object_get_ex(req, k, NULL)) {
                json_object *c = NULL;

                json_object_deep_copy(v, &c, NULL);
                jadd(req, k, c);
                changed = 1;
            }
        }
    }
    if (x->set != NULL) {
        json_object_object_foreach(x->set, k, v) {
            json_object *c = NULL;

            json_object_deep_copy(v, &c, NULL);
            jadd(req, k, c);
            changed = 1;
        }
    }
    if (x->max_tokens_cap > 0) {
        static const char *const keys[] = { "max_tokens",
                                            "max_completion_tokens" };

        for (size_t i = 0; i < 2; i++) {
            json_object *v;

            if (json_object_object_get_ex(req, keys[i], &v) &&
                json_object_get_int64(v) > x->max_tokens_cap) {
                jadd(req, keys[i], json_object_new_int64(x->max_tokens_cap));
                changed = 1;
            }
        }
    }
    if (x->force_user && r->ev.user_id[0] != '\0') {
        jadd(req, "user", json_object_new_string(r->ev.user_id));
        changed = 1;
    }
    return enrich(x, req, r) || changed;
}

static int hdr_is(const char *line, const char *name)
{
    size_t n = strlen(name);

    return strncasecmp(line, name, n) == 0 &&
           (line[n] == ':' || line[n] == ';');
}

static struct curl_slist *drop(struct curl_slist *h, const char *name)
{
    struct curl_slist *out = NULL;

    for (struct curl_slist *p = h; p != NULL; p = p->next)
        if (!hdr_is(p->data, name))
            out = curl_slist_append(out, p->data);
    curl_slist_free_all(h);
    return out;
}

struct curl_slist *transform_headers(const struct transform *x,
                                     struct curl_slist *hdrs,
                                     const struct request *r)
{
    if (x == NULL)
        return hdrs;
    for (size_t i = 0; i < x->n_hdel; i++) {
        char line[160];

        hdrs = drop(hdrs, x->hdel[i]);
        snprintf(line, sizeof(line), "%s:", x->hdel[i]);
        hdrs = curl_slist_append(hdrs, line);    /* curl's own, too */
    }
    for (size_t i = 0; i < x->n_hset; i++) {
        struct buf b = BUF_INIT(8192);

        buf_adds(&b, x->hset[i].name);
        buf_adds(&b, ": ");
        expand(&b, x->hset[i].value, r);
        hdrs = drop(hdrs, x->hset[i].name);
        /* identity values never inject headers */
        if (buf_error(&b) == 0 && b.ptr != NULL &&
            strpbrk(b.ptr, "\r\n") == NULL)
            hdrs = curl_slist_append(hdrs, b.ptr);
        buf_release(&b);
    }
    return hdrs;
}
