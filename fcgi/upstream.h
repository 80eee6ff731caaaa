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
    char retry_after[32]; /* the reply's Retry-After, "" when none */
    char detail[128];     /* curl's description, safe to log */
};

/* Per-call transport settings a provider may ask for. */
struct upstream_extra {
    const char *aws_sigv4;   /* CURLOPT_AWS_SIGV4, e.g. "aws:amz:us-east-1:bedrock" */
    const char *userpwd;     /* the SigV4 key pair "AKID:SECRET" */
};

/* Sets a new handle's constant options (once, before upstream_call). */
void upstream_setup(void *curl);
/* POSTs body to url. hdrs is consumed (freed). */
int upstream_call(struct worker *w, const struct backend *be,
                  const char *url, const char *body, size_t len,
                  struct curl_slist *hdrs, const struct upstream_extra *extra,
                  upstream_data_fn fn, void *ctx,
                  struct upstream_result *res);
/* Status of the response being received (valid inside the callback). */
long upstream_status(struct worker *w);

#endif
