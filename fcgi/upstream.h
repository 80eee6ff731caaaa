/* One HTTP exchange with a provider over the thread's curl handle
 * (connections are kept alive between requests). */
#ifndef AIGW_UPSTREAM_H
#define AIGW_UPSTREAM_H

#include <stddef.h>

struct backend;
struct curl_slist;
struct worker;

/* Receives response bytes; returns 0 to go on, -1 to abort the transfer. */
typedef int (*upstream_data_fn)(void *ctx, const char *p, size_t n);

enum upstream_fail {
    UP_OK = 0,
    UP_CONNECT,       /* refused, unreachable, DNS, TLS */
    UP_TIMEOUT,
    UP_BROKEN,        /* reset, truncated, protocol error */
    UP_ABORTED,       /* our data callback stopped it */
};

struct upstream_result {
    enum upstream_fail fail;
    long status;          /* HTTP status, 0 when none arrived */
    char detail[128];     /* curl's description, safe to log */
};

int upstream_call(struct worker *w, const struct backend *be,
                  const char *url, const char *body, size_t len,
                  struct curl_slist *hdrs, upstream_data_fn fn, void *ctx,
                  struct upstream_result *res);
/* Status of the response being received (valid inside the callback). */
long upstream_status(struct worker *w);

#endif
