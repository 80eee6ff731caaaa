#include "upstream.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "worker.h"

struct cb {
    upstream_data_fn fn;
    void *ctx;
    int aborted;
    char retry_after[32];
};

/* Keeps the one response header the relay passes on: Retry-After. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct cb *cb = ud;
    size_t len = size * n, k = 0;

    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        const char *v = p + 12;
        const char *end = p + len;

        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        /* seconds or an HTTP-date: printable characters only */
        while (v + k < end && k < sizeof(cb->retry_after) - 1 &&
               v[k] >= 0x20 && v[k] < 0x7f)
            k++;
        memcpy(cb->retry_after, v, k);
        cb->retry_after[k] = '\0';
    }
    return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct cb *cb = ud;

    if (cb->fn(cb->ctx, p, size * n) < 0) {
        cb->aborted = 1;
        return 0;
    }
    return size * n;
}

long upstream_status(struct worker *w)
{
    long st = 0;

    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

static enum upstream_fail classify(CURLcode c)
{
    switch (c) {
    case CURLE_OK:
        return UP_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return UP_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return UP_TIMEOUT;
    default:
        return UP_BROKEN;
    }
}

/* What never changes is set once per handle; a call then sets only what
 * may differ between requests, instead of curl_easy_reset() and twenty
 * setopts each time. */
void upstream_setup(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    /* idle: less than 1 byte/s for idle_timeout ends the exchange */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "aigw/0.1");
}

int upstream_call(struct worker *w, const struct backend *be,
                  const char *url, const char *body, size_t len,
                  struct curl_slist *hdrs, const struct upstream_extra *extra,
                  upstream_data_fn fn, void *ctx,
                  struct upstream_result *res)
{
    CURL *c = w->curl;
    struct cb cb = { fn, ctx, 0, "" };
    int sigv4 = extra != NULL && extra->aws_sigv4 != NULL;
    CURLcode rc;

    /* big bodies otherwise wait up to 1 s for "100 Continue" */
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &cb);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4 ? extra->aws_sigv4 : NULL);
    curl_easy_setopt(c, CURLOPT_USERPWD, sigv4 ? extra->userpwd : NULL);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, be->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, be->timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     (be->idle_timeout_ms + 999) / 1000);
    rc = curl_easy_perform(c);
    /* nothing of this call may outlive it in the handle */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    curl_slist_free_all(hdrs);
    memset(res, 0, sizeof(*res));
    res->status = upstream_status(w);
    memcpy(res->retry_after, cb.retry_after, sizeof(res->retry_after));
    res->fail = cb.aborted ? UP_ABORTED : classify(rc);
    if (rc != CURLE_OK)
        snprintf(res->detail, sizeof(res->detail), "%s",
                 curl_easy_strerror(rc));
    return res->fail == UP_OK ? 0 : -1;
}
