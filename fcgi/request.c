#include "request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
    }
}

int req_write(struct request *r, const char *p, size_t n)
{
    if (r->client_gone)
        return -1;
    if (n > 0 && r->io.write(r->io.ctx, p, n) < 0) {
        r->client_gone = 1;
        return -1;
    }
    return 0;
}

int req_flush(struct request *r)
{
    if (r->client_gone)
        return -1;
    if (r->io.flush(r->io.ctx) < 0) {
        r->client_gone = 1;
        return -1;
    }
    return 0;
}

/* Writes CRLF-terminated header lines, leaving out those the route
 * drops (response_headers.remove). */
static int write_lines(struct request *r, const char *p)
{
    if (r->route_drop == NULL)
        return req_write(r, p, strlen(p));
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) + 2 : strlen(p);
        int keep = 1;

        for (const char *const *d = r->route_drop; *d && keep; d++) {
            size_t n = strlen(*d);

            keep = !(strncasecmp(p, *d, n) == 0 && p[n] == ':');
        }
        if (keep && req_write(r, p, len) < 0)
            return -1;
        p += len;
    }
    return 0;
}

int req_start(struct request *r, int status, const char *content_type,
              const char *extra)
{
    char head[512];
    int n;

    if (r->headers_sent)
        return 0;
    r->headers_sent = 1;
    r->status = status;
    n = snprintf(head, sizeof(head), "Status: %d %s\r\nContent-Type: %s\r\n",
                 status, reason(status), content_type);
    if (req_write(r, head, (size_t)n) < 0)
        return -1;
    snprintf(head, sizeof(head), "X-Request-Id: %s\r\n", r->request_id);
    if (write_lines(r, head) < 0 || write_lines(r, extra) < 0 ||
        (r->extra_headers != NULL && write_lines(r, r->extra_headers) < 0) ||
        (r->route_headers != NULL && write_lines(r, r->route_headers) < 0))
        return -1;
    return req_write(r, "\r\n", 2);
}

int req_send_json(struct request *r, int status, const char *json,
                  size_t len, const char *extra)
{
    char cl[64];
    struct buf h = BUF_INIT(4096);
    int rc;

    snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", len);
    buf_adds(&h, cl);
    buf_adds(&h, extra);
    rc = req_start(r, status, "application/json", h.ptr);
    buf_release(&h);
    if (rc == 0)
        rc = req_write(r, json, len);
    return rc;
}

void req_error(struct request *r, int status, const char *type,
               const char *code, const char *msg)
{
    struct buf b = BUF_INIT(8192);

    if (r->error_out != NULL) {      /* e.g. Anthropic's shape */
        r->error_out(r, status, code ? code : type, msg, "");
        return;
    }
    buf_adds(&b, "{\"error\":{\"message\":");
    buf_add_json_str(&b, msg, strlen(msg));
    buf_adds(&b, ",\"type\":");
    buf_add_json_str(&b, type, strlen(type));
    buf_adds(&b, ",\"param\":null,\"code\":");
    if (code != NULL)
        buf_add_json_str(&b, code, strlen(code));
    else
        buf_adds(&b, "null");
    buf_adds(&b, "}}\n");
    r->ev.http_status = status;
    if (r->ev.error_type == NULL)
        r->ev.error_type = code ? code : type;
    if (!r->headers_sent && buf_error(&b) == 0)
        req_send_json(r, status, b.ptr, b.len, "");
    buf_release(&b);
}

void req_finish(struct request *r)
{
    if (r->io_finish != NULL)
        r->io_finish(r->io.ctx);
}

long req_elapsed_ms(const struct request *r)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)((now.tv_sec - r->t_start.tv_sec) * 1000 +
                  (now.tv_nsec - r->t_start.tv_nsec) / 1000000);
}

const char *req_param(const struct request *r, const char *name)
{
    size_t n = strlen(name);

    if (r->env == NULL)
        return NULL;
    for (char **e = r->env; *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}
