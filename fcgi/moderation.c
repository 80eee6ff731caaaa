#include "moderation.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "guard_webhook.h"
#include "jsonutil.h"
#include "xalloc.h"

int moderation_load(json_object *o, struct guard_moderation **out, char *err,
                    size_t errsz)
{
    struct guard_moderation *m;
    const char *p;
    long status = 400;
    size_t n;

    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "must be an object");
        return -1;
    }
    m = *out = xcalloc(1, sizeof(*m));
    m->timeout_ms = 3000;
    if (config_opt_str(o, "url", &m->url, err, errsz) < 0 ||
        config_opt_str(o, "api_key", &m->api_key, err, errsz) < 0 ||
        config_opt_str(o, "model", &m->model, err, errsz) < 0 ||
        config_opt_long(o, "timeout_ms", 10, 600000, &m->timeout_ms, err,
                        errsz) < 0 ||
        config_opt_long(o, "status", 400, 599, &status, err, errsz) < 0)
        return -1;
    m->status = (int)status;
    if (m->url == NULL)
        m->url = xstrdup("https://api.openai.com/v1");
    if (m->model == NULL)
        m->model = xstrdup("omni-moderation-latest");
    n = strlen(m->url);
    while (n > 0 && m->url[n - 1] == '/')
        m->url[--n] = '\0';
    p = jget_str(o, "on_error");
    if (p != NULL && strcmp(p, "open") != 0 && strcmp(p, "closed") != 0) {
        snprintf(err, errsz, "on_error must be open or closed");
        return -1;
    }
    m->fail_open = p != NULL && p[0] == 'o';
    return 0;
}

void moderation_free(struct guard_moderation *m)
{
    if (m == NULL)
        return;
    free(m->url);
    if (m->api_key != NULL) {
        memset(m->api_key, 0, strlen(m->api_key));
        free(m->api_key);
    }
    free(m->model);
    free(m);
}

/* The flagged categories of every result, comma-separated. */
static int flagged(json_object *root, char *cats, size_t catsz)
{
    json_object *results, *r, *c;
    int any = 0;
    size_t len = 0;

    cats[0] = '\0';
    if (!json_object_object_get_ex(root, "results", &results) ||
        !json_object_is_type(results, json_type_array))
        return -1;
    for (size_t i = 0; i < json_object_array_length(results); i++) {
        r = json_object_array_get_idx(results, i);
        if (!json_object_object_get_ex(r, "flagged", &c) ||
            !json_object_get_boolean(c))
            continue;
        any = 1;
        if (!json_object_object_get_ex(r, "categories", &c) ||
            !json_object_is_type(c, json_type_object))
            continue;
        json_object_object_foreach(c, k, v) {
            size_t kl = strlen(k);

            if (!json_object_get_boolean(v) || strstr(cats, k) != NULL ||
                len + kl + 2 >= catsz)
                continue;
            if (len > 0)
                cats[len++] = ',';
            memcpy(cats + len, k, kl + 1);
            len += kl;
        }
    }
    return any;
}

int moderation_check(const struct guard_moderation *m, const char *text,
                     size_t n, char *cats, size_t catsz)
{
    struct buf body = BUF_INIT(64 << 20), resp = BUF_INIT(1 << 20);
    char url[1024], auth[1024];
    const char *hdrs[2] = { NULL, NULL };
    json_object *root;
    long st;
    int to, rc = -1;

    snprintf(url, sizeof(url), "%s/moderations", m->url);
    if (m->api_key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", m->api_key);
        hdrs[0] = auth;
    }
    buf_adds(&body, "{\"model\":");
    buf_add_json_str(&body, m->model, strlen(m->model));
    buf_adds(&body, ",\"input\":");
    buf_add_json_str(&body, text, n);
    buf_addc(&body, '}');
    if (buf_error(&body))
        goto out;
    st = guard_http_post(url, hdrs, body.ptr, body.len, m->timeout_ms, &resp,
                         &to);
    if (st >= 200 && st <= 299 && resp.ptr != NULL &&
        (root = jparse(resp.ptr, resp.len, NULL)) != NULL) {
        rc = flagged(root, cats, catsz);
        json_object_put(root);
    }
out:
    memset(auth, 0, sizeof(auth));
    buf_release(&body);
    buf_release(&resp);
    return rc;
}
