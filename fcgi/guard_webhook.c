#include "guard_webhook.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "jsonutil.h"
#include "usage.h"
#include "xalloc.h"

#define GUARD_RESP_MAX (4 << 20)

/* --- the thread's handle ---------------------------------------------- */

static pthread_key_t curl_key;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_free_tls(void *p)
{
    curl_easy_cleanup(p);
}

static void curl_key_init(void)
{
    if (pthread_key_create(&curl_key, curl_free_tls) != 0)
        abort();
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    struct buf *b = ud;

    buf_add(b, p, sz * n);
    return buf_error(b) ? 0 : sz * n;
}

long guard_http_post(const char *url, const char *const *hdrs,
                     const char *body, size_t len, long timeout_ms,
                     struct buf *resp, int *timed_out)
{
    CURL *c;
    struct curl_slist *h = NULL;
    CURLcode rc;
    long st = -1;

    pthread_once(&curl_once, curl_key_init);
    if ((c = pthread_getspecific(curl_key)) == NULL) {
        if ((c = curl_easy_init()) == NULL)
            return -1;
        pthread_setspecific(curl_key, c);
    }
    curl_easy_reset(c);
    *timed_out = 0;
    h = curl_slist_append(h, "Content-Type: application/json");
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++)
        h = curl_slist_append(h, hdrs[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "aigw/0.1");
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    else
        *timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return st;
}

/* --- configuration ---------------------------------------------------- */

static int fail_policy(json_object *o, int dflt_open, int *out, char *err,
                       size_t errsz)
{
    const char *p = jget_str(o, "on_error");

    *out = dflt_open;
    if (p == NULL)
        return 0;
    if (strcmp(p, "open") == 0 || strcmp(p, "closed") == 0) {
        *out = p[0] == 'o';
        return 0;
    }
    snprintf(err, errsz, "on_error must be open or closed");
    return -1;
}

static int flag(json_object *o, const char *k, int dflt)
{
    json_object *v;

    if (!json_object_object_get_ex(o, k, &v))
        return dflt;
    return json_object_get_boolean(v);
}

static int load_headers(json_object *o, struct guard_webhook *wh, char *err,
                        size_t errsz)
{
    json_object *hs;
    size_t i = 0;

    if (!json_object_object_get_ex(o, "headers", &hs))
        return 0;
    if (!json_object_is_type(hs, json_type_object)) {
        snprintf(err, errsz, "headers must be an object");
        return -1;
    }
    wh->headers = xcalloc(json_object_object_length(hs) + 1, sizeof(char *));
    json_object_object_foreach(hs, k, v) {
        char *val = NULL, line[1024];

        (void)v;
        if (config_opt_str(hs, k, &val, err, errsz) < 0)
            return -1;
        if (val == NULL || strpbrk(k, ": \r\n") != NULL ||
            strpbrk(val, "\r\n") != NULL) {
            free(val);
            snprintf(err, errsz, "headers: bad header %s", k);
            return -1;
        }
        snprintf(line, sizeof(line), "%s: %s", k, val);
        free(val);
        wh->headers[i++] = xstrdup(line);
        wh->n_headers = i;
    }
    return 0;
}

int guard_webhook_load(json_object *o, struct guard_webhook **out, char *err,
                       size_t errsz)
{
    struct guard_webhook *wh;
    size_t n;

    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "must be an object");
        return -1;
    }
    wh = *out = xcalloc(1, sizeof(*wh));
    wh->timeout_ms = 2000;
    if (config_opt_str(o, "url", &wh->url, err, errsz) < 0 ||
        config_opt_long(o, "timeout_ms", 10, 600000, &wh->timeout_ms, err,
                        errsz) < 0 ||
        fail_policy(o, 0, &wh->fail_open, err, errsz) < 0 ||
        load_headers(o, wh, err, errsz) < 0)
        return -1;
    if (wh->url == NULL || strncmp(wh->url, "http", 4) != 0) {
        snprintf(err, errsz, "url (http or https) is required");
        return -1;
    }
    n = strlen(wh->url);
    while (n > 0 && wh->url[n - 1] == '/')
        wh->url[--n] = '\0';
    wh->on_request = flag(o, "request", 1);
    wh->on_response = flag(o, "response", 1);
    wh->identity = flag(o, "identity_headers", 1);
    return 0;
}

void guard_webhook_free(struct guard_webhook *wh)
{
    if (wh == NULL)
        return;
    for (size_t i = 0; i < wh->n_headers; i++)
        free(wh->headers[i]);
    free(wh->headers);
    free(wh->url);
    free(wh);
}

/* --- the call --------------------------------------------------------- */

static void parse_verdict(json_object *root, struct wh_result *res)
{
    json_object *a, *inner, *body, *sc;
    const char *kind = NULL;

    res->verdict = WH_ERROR;
    if (!json_object_object_get_ex(root, "action", &a) ||
        !json_object_is_type(a, json_type_object))
        return;
    if (json_object_object_get_ex(a, "reject", &inner))
        kind = "reject";
    else if (json_object_object_get_ex(a, "mask", &inner))
        kind = "mask";
    else if (json_object_object_get_ex(a, "pass", &inner))
        kind = "pass";
    if (kind != NULL && json_object_is_type(inner, json_type_object))
        a = inner;
    else
        kind = NULL;
    if (!json_object_object_get_ex(a, "body", &body))
        body = NULL;
    if ((kind == NULL || kind[0] == 'r') &&
        json_object_object_get_ex(a, "status_code", &sc)) {
        int st = json_object_get_int(sc);

        res->verdict = WH_REJECT;
        res->status = st >= 400 && st <= 599 ? st : 403;
        snprintf(res->message, sizeof(res->message), "%s",
                 body && json_object_is_type(body, json_type_string)
                     ? json_object_get_string(body)
                     : "rejected by the guardrail webhook");
    } else if ((kind == NULL || kind[0] == 'm') && body != NULL &&
               json_object_is_type(body, json_type_object)) {
        res->verdict = WH_MASK;
        res->body = json_object_get(body);
    } else if (kind == NULL || kind[0] == 'p') {
        res->verdict = WH_PASS;
    }
}

void guard_webhook_call(const struct guard_webhook *wh, const char *phase,
                        const char *body, size_t len,
                        const struct usage_event *ev, const char *request_id,
                        struct wh_result *res)
{
    const char *hdrs[24];
    char url[1024], uid[160], gid[160], rid[80];
    struct buf resp = BUF_INIT(GUARD_RESP_MAX);
    json_object *root;
    size_t k = 0;
    long st;
    int to;

    memset(res, 0, sizeof(*res));
    res->verdict = WH_ERROR;
    snprintf(url, sizeof(url), "%s/%s", wh->url, phase);
    for (size_t i = 0; i < wh->n_headers && k < 16; i++)
        hdrs[k++] = wh->headers[i];
    if (wh->identity && ev != NULL) {
        snprintf(uid, sizeof(uid), "X-AIGW-User-Id: %s", ev->user_id);
        snprintf(gid, sizeof(gid), "X-AIGW-Group-Id: %s", ev->group_id);
        snprintf(rid, sizeof(rid), "X-AIGW-Request-Id: %s",
                 request_id ? request_id : "");
        hdrs[k++] = uid;
        hdrs[k++] = gid;
        hdrs[k++] = rid;
    }
    hdrs[k] = NULL;
    st = guard_http_post(url, hdrs, body, len, wh->timeout_ms, &resp, &to);
    if (st >= 200 && st <= 299 && resp.ptr != NULL &&
        (root = jparse(resp.ptr, resp.len, NULL)) != NULL) {
        parse_verdict(root, res);
        json_object_put(root);
    }
    if (res->verdict == WH_ERROR)
        snprintf(res->message, sizeof(res->message), "%s",
                 to ? "timeout" : st < 0 ? "unreachable" : "bad reply");
    buf_release(&resp);
}
