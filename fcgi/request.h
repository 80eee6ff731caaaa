/* One client request as the pipeline sees it, independent of FastCGI:
 * the entry (fcgx_entry.c) fills it and supplies the output functions. */
#ifndef AIGW_REQUEST_H
#define AIGW_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "usage.h"

struct identity;
struct worker;

struct req_io {
    /* Both return 0, or -1 once the client is gone. */
    int (*write)(void *ctx, const char *p, size_t n);
    int (*flush)(void *ctx);
    void *ctx;
};

enum body_state { BODY_OK, BODY_TOO_LARGE, BODY_SHORT, BODY_BAD_LENGTH };

struct request {
    /* from the web server; borrowed, valid for the request */
    const char *method;
    const char *path;        /* without the query string */
    size_t path_len;
    const char *content_type;
    const char *authorization;
    const char *x_api_key;
    const char *remote_addr;     /* REMOTE_ADDR; may be NULL */
    const char *traceparent;  /* W3C trace context (HTTP_TRACEPARENT) */
    /* routing (router.c): Host without port, the query string, and every
     * CGI param as "NAME=value" (headers are HTTP_*); all may be NULL */
    const char *host;
    const char *query;
    char **env;
    const char *body;
    size_t body_len;
    enum body_state body_state;

    char request_id[37];     /* UUIDv7, also the ledger key */
    struct timespec t_start; /* CLOCK_MONOTONIC */
    int64_t start_unix_us;   /* wall clock, for the ledger */

    struct req_io io;
    /* The response is complete: the entry delivers it now, with io.ctx
     * (the request's strings stay valid until the entry ends the request).
     * NULL: nothing to do. */
    void (*io_finish)(void *ctx);
    int headers_sent;
    const char *route_headers;   /* "Name: v\r\n" lines added to the
                                    response (transform.c); borrowed */
    const char *const *route_drop;  /* header names not sent (NULL-ended;
                                       transform.c); borrowed; NULL */
    int client_gone;
    int status;              /* sent to the client */
    const char *extra_headers;  /* CRLF-terminated lines added to the
                                   response (rate-limit headers); NULL */
    /* Answers errors in another API's shape (the Anthropic Messages path:
     * gateway.c); NULL: OpenAI's. extra: "" or CRLF-terminated lines. */
    void (*error_out)(struct request *r, int status, const char *code,
                      const char *msg, const char *extra);

    struct worker *w;        /* the serving thread's handles; borrowed */
    const struct identity *ident;  /* the caller, once authenticated */
    struct usage_event ev;   /* settled once at the end */
};

/* Sends the status line and headers; extra is "" or CRLF-terminated
 * header lines. */
int req_start(struct request *r, int status, const char *content_type,
              const char *extra);
int req_write(struct request *r, const char *p, size_t n);
int req_flush(struct request *r);
/* A complete JSON response. */
int req_send_json(struct request *r, int status, const char *json,
                  size_t len, const char *extra);
/* An error in OpenAI's shape: {"error":{"message","type","param","code"}}.
 * Also records the status and error type for the ledger. */
void req_error(struct request *r, int status, const char *type,
               const char *code, const char *msg);
/* Ends the response: the client has it all before the usage is settled
 * (the ledger and access-log lines are written after it). */
void req_finish(struct request *r);
/* The CGI param name (e.g. "HTTP_X_MODEL"), or NULL. */
const char *req_param(const struct request *r, const char *name);
/* Milliseconds since the request started. */
long req_elapsed_ms(const struct request *r);

#endif
