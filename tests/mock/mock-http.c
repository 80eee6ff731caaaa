/*
 * HTTP/1.1 server side: request head parsing, bodies by Content-Length or
 * chunked coding, keep-alive, and response writing (plain or streamed).
 * A connection's requests are read into one buffer, c->in, which always
 * starts with the current request; chunked bodies are decoded in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mock.h"

#define IN_MIN ((size_t)16 << 10)
#define IN_MAX (MOCK_MAX_HEAD + MOCK_MAX_BODY + 8192)
#define LINE_MAX_LEN 4096

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive comparison of s[0..n) with a lower-case literal. */
static int ieq(const char *s, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!lit[i] || lower((unsigned char)s[i]) != lit[i])
            return 0;
    return lit[n] == '\0';
}

int span_is(const struct req *r, struct span s, const char *lit)
{
    return strlen(lit) == s.len && memcmp(r->base + s.off, lit, s.len) == 0;
}

const char *req_header(const struct req *r, const char *lname, size_t *len)
{
    int i;

    for (i = 0; i < r->nhdr; i++) {
        if (ieq(r->base + r->hdrs[i].name.off, r->hdrs[i].name.len, lname)) {
            *len = r->hdrs[i].val.len;
            return r->base + r->hdrs[i].val.off;
        }
    }
    return NULL;
}

static int is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

/* Returns the end of the line at s (before CR LF); *next is past the LF. */
static const char *line_end(const char *s, const char *end, const char **next)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));

    if (!nl)
        nl = end - 1;
    *next = nl + 1;
    return nl > s && nl[-1] == '\r' ? nl - 1 : nl;
}

static struct span mkspan(const struct req *r, const char *s, const char *e)
{
    struct span sp = { (uint32_t)(s - r->base), (uint32_t)(e - s) };

    return sp;
}

static int parse_request_line(struct req *r, const char *s, const char *e)
{
    const char *t = s;

    while (t < e && is_tchar((unsigned char)*t))
        t++;
    if (t == s || t >= e || *t != ' ')
        return 400;
    r->method = mkspan(r, s, t);
    s = ++t;
    while (t < e && (unsigned char)*t > 0x20 && *t != 0x7f)
        t++;
    if (t == s || t >= e || *t != ' ')
        return 400;
    r->target = mkspan(r, s, t);
    r->path = r->target;
    while (s < t && *s != '?' && *s != '#')
        s++;
    r->path.len = (uint32_t)(s - (r->base + r->path.off));
    t++;
    if (e - t != 8 || memcmp(t, "HTTP/1.", 7) != 0 || t[7] < '0' ||
        t[7] > '9')
        return 400;
    r->minor = t[7] - '0';
    return 0;
}

static int parse_clen(struct req *r, const char *v, size_t n)
{
    long long x = 0;
    size_t i;

    if (n == 0 || n > 18)
        return 400;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 400;
        x = x * 10 + (v[i] - '0');
    }
    if (r->clen >= 0 && r->clen != x)
        return 400;
    r->clen = x;
    return 0;
}

/* Sets *close / *ka from a Connection header's comma-separated tokens. */
static void parse_connection(const char *v, size_t n, int *close, int *ka)
{
    size_t i = 0, s, e;

    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (ieq(v + s, e - s, "close"))
            *close = 1;
        else if (ieq(v + s, e - s, "keep-alive"))
            *ka = 1;
    }
}

static int known_header(struct req *r, const struct hdr *h, int *close,
                        int *ka)
{
    const char *n = r->base + h->name.off, *v = r->base + h->val.off;

    if (ieq(n, h->name.len, "content-length"))
        return parse_clen(r, v, h->val.len);
    if (ieq(n, h->name.len, "transfer-encoding")) {
        if (!ieq(v, h->val.len, "chunked"))
            return 501;
        r->chunked = 1;
    } else if (ieq(n, h->name.len, "connection")) {
        parse_connection(v, h->val.len, close, ka);
    } else if (ieq(n, h->name.len, "expect")) {
        r->expect = ieq(v, h->val.len, "100-continue");
    }
    return 0;
}

static int parse_header_line(struct req *r, const char *s, const char *e,
                             int *close, int *ka)
{
    const char *t = s;
    struct hdr *h;

    while (t < e && is_tchar((unsigned char)*t))
        t++;
    if (t == s || t >= e || *t != ':')
        return 400;
    if (r->nhdr >= MOCK_MAX_HDRS)
        return 431;
    h = &r->hdrs[r->nhdr++];
    h->name = mkspan(r, s, t);
    for (t++; t < e && (*t == ' ' || *t == '\t'); t++)
        ;
    while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    h->val = mkspan(r, t, e);
    for (; t < e; t++)
        if (((unsigned char)*t < 0x20 && *t != '\t') || *t == 0x7f)
            return 400;
    return known_header(r, h, close, ka);
}

/* Parses the head p[0..n), which ends with an empty line; 0 or a status. */
int http_parse_head(const char *p, size_t n, struct req *r)
{
    const char *end = p + n, *line = p, *next, *eol;
    int close = 0, ka = 0, st;

    memset(r, 0, offsetof(struct req, hdrs));
    r->nhdr = 0;
    r->base = p;
    r->head_len = n;
    r->clen = -1;
    r->chunked = r->expect = 0;
    r->body = NULL;
    r->body_len = 0;
    eol = line_end(line, end, &next);
    if ((st = parse_request_line(r, line, eol)) != 0)
        return st;
    for (line = next; (eol = line_end(line, end, &next)) != line;
         line = next)
        if ((st = parse_header_line(r, line, eol, &close, &ka)) != 0)
            return st;
    if (r->chunked && r->clen >= 0)
        return 400;
    r->keep_alive = r->minor >= 1 ? !close : ka && !close;
    r->is_head = span_is(r, r->method, "HEAD");
    return 0;
}

/* Reads into the free space of c->in; returns bytes read, 0 at EOF. */
static long conn_read(struct conn *c)
{
    ssize_t n;

    if (c->len >= c->cap)
        return -1;
    do
        n = read(c->fd, c->in + c->len, c->cap - c->len);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        c->len += (size_t)n;
    return (long)n;
}

static int conn_grow(struct conn *c, size_t cap)
{
    char *p;

    if (cap <= c->cap)
        return 0;
    if (cap > IN_MAX)
        return -1;
    p = realloc(c->in, cap);
    if (!p)
        return -1;
    c->in = p;
    c->cap = cap;
    return 0;
}

/* Grows c->in to hold need bytes, with some room to spare if allowed. */
static int grow_for(struct conn *c, size_t need)
{
    size_t cap = need + IN_MIN;

    return conn_grow(c, cap <= IN_MAX ? cap : need);
}

/* Offset just past the empty line ending the head, or 0 if not there. */
static size_t find_head_end(const char *p, size_t n, size_t from)
{
    size_t i = from > 2 ? from - 2 : 0;
    const char *nl;

    while (i < n && (nl = memchr(p + i, '\n', n - i)) != NULL) {
        i = (size_t)(nl - p);
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
        i++;
    }
    return 0;
}

static void skip_leading_crlf(struct conn *c)
{
    size_t i = 0;

    while (i < c->len && (c->in[i] == '\r' || c->in[i] == '\n'))
        i++;
    if (i) {
        memmove(c->in, c->in + i, c->len - i);
        c->len -= i;
    }
}

/* Head length; 0 on EOF between requests, -1 on error, -431 if too big. */
static long read_head(struct conn *c)
{
    size_t scanned = 0, h;
    long n;

    for (;;) {
        if (c->len && (c->in[0] == '\r' || c->in[0] == '\n'))
            skip_leading_crlf(c);
        h = find_head_end(c->in, c->len, scanned);
        if (h)
            return (long)h;
        scanned = c->len;
        if (c->len >= MOCK_MAX_HEAD)
            return -431;
        if (c->len == c->cap && conn_grow(c, c->cap * 2) < 0)
            return -1;
        n = conn_read(c);
        if (n <= 0)
            return c->len == 0 && n == 0 ? 0 : -1;
    }
}

/* Makes want bytes available at offset *r, reclaiming decoded-away space
 * between *w and *r first; 0, -1 on EOF or error, or 413. */
static int need_bytes(struct conn *c, size_t *r, size_t w, size_t want)
{
    while (c->len - *r < want) {
        if (c->cap - *r < want && w < *r) {
            memmove(c->in + w, c->in + *r, c->len - *r);
            c->len -= *r - w;
            *r = w;
        }
        if (c->cap - *r < want && grow_for(c, *r + want) < 0)
            return 413;
        if (conn_read(c) <= 0)
            return -1;
    }
    return 0;
}

/* Reads one line at *r: its start and length without CR LF. */
static int get_line(struct conn *c, size_t *r, size_t w, size_t *ls,
                    size_t *ll)
{
    const char *nl;
    size_t have;
    int rc;

    for (;;) {
        have = c->len - *r;
        nl = memchr(c->in + *r, '\n', have);
        if (nl)
            break;
        if (have > LINE_MAX_LEN)
            return 400;
        if ((rc = need_bytes(c, r, w, have + 1)) != 0)
            return rc;
    }
    *ls = *r;
    *ll = (size_t)(nl - (c->in + *r));
    *r += *ll + 1;
    if (*ll && c->in[*ls + *ll - 1] == '\r')
        (*ll)--;
    return 0;
}

static int parse_chunk_size(const char *s, size_t n, size_t *size)
{
    size_t i = 0, v = 0;
    int d;

    for (; i < n && i < 9; i++) {
        d = s[i];
        if (d >= '0' && d <= '9')
            d -= '0';
        else if ((d | 0x20) >= 'a' && (d | 0x20) <= 'f')
            d = (d | 0x20) - 'a' + 10;
        else
            break;
        v = v * 16 + (size_t)d;
    }
    if (i == 0 || i == 9)
        return i == 9 ? 413 : 400;
    if (i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t')
        return 400;
    *size = v;
    return 0;
}

/* Decodes a chunked body in place after the head; sets body and *used. */
static int read_chunked(struct conn *c, struct req *r, size_t *used)
{
    size_t rd = r->head_len, w = r->head_len, ls, ll, size;
    int rc;

    for (;;) {
        if ((rc = get_line(c, &rd, w, &ls, &ll)) != 0 ||
            (rc = parse_chunk_size(c->in + ls, ll, &size)) != 0)
            return rc;
        if (size == 0)
            break;
        if (size > MOCK_MAX_BODY - (w - r->head_len))
            return 413;
        if ((rc = need_bytes(c, &rd, w, size + 2)) != 0)
            return rc;
        if (c->in[rd + size] != '\r' || c->in[rd + size + 1] != '\n')
            return 400;
        memmove(c->in + w, c->in + rd, size);
        w += size;
        rd += size + 2;
    }
    do
        if ((rc = get_line(c, &rd, w, &ls, &ll)) != 0)
            return rc;
    while (ll);
    r->body_len = w - r->head_len;
    *used = rd;
    return 0;
}

static int read_body(struct conn *c, struct req *r, size_t *used)
{
    size_t need;

    if (r->clen > (long long)MOCK_MAX_BODY)
        return 413;
    if (r->expect && r->minor >= 1 && (r->chunked || r->clen > 0) &&
        conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
        return -1;
    if (r->chunked)
        return read_chunked(c, r, used);
    r->body_len = r->clen > 0 ? (size_t)r->clen : 0;
    need = r->head_len + r->body_len;
    if (need > c->cap && conn_grow(c, need) < 0)
        return 413;
    while (c->len < need)
        if (conn_read(c) <= 0)
            return -1;
    *used = need;
    return 0;
}

/* Drops the served request from c->in, keeping pipelined bytes. */
static void consume(struct conn *c, size_t used)
{
    char *p;

    memmove(c->in, c->in + used, c->len - used);
    c->len -= used;
    if (c->cap > ((size_t)1 << 20) && c->len <= IN_MIN) {
        p = realloc(c->in, IN_MIN);
        if (p) {
            c->in = p;
            c->cap = IN_MIN;
        }
    }
}

static int serve_one(struct conn *c, struct req *r)
{
    long h = read_head(c);
    size_t used = 0;
    int st;

    if (h == 0 || h == -1)
        return -1;
    st = h < 0 ? 431 : http_parse_head(c->in, (size_t)h, r);
    if (st == 0)
        st = read_body(c, r, &used);
    if (st != 0) {
        c->close = 1;
        c->linger = st > 0;
        if (st > 0)
            http_error(c, NULL, st, "invalid_request_error", NULL,
                       "Malformed HTTP request.");
        return -1;
    }
    r->base = c->in;
    r->body = c->in + r->head_len;
    c->close = !r->keep_alive;
    api_handle(c, r);
    consume(c, used);
    return 0;
}

void conn_serve(struct conn *c)
{
    struct req r;

    c->cap = IN_MIN;
    c->in = malloc(c->cap);
    if (!c->in)
        return;
    while (!c->dead && !c->close)
        if (serve_one(c, &r) < 0)
            break;
    if (c->linger && !c->dead) {
        /* Let the client read the error before its unread input would
         * make our close send a reset. */
        shutdown(c->fd, SHUT_WR);
        mock_nap_conn(c->fd, 2000);
    }
    free(c->in);
    buf_free(&c->out);
    buf_free(&c->body);
    buf_free(&c->aux);
}

static int conn_writev(struct conn *c, struct iovec *iov, int n)
{
    ssize_t w;

    while (n > 0 && !c->dead) {
        w = writev(c->fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->dead = 1;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return c->dead ? -1 : 0;
}

int conn_write(struct conn *c, const void *p, size_t n)
{
    struct iovec iov = { (void *)(uintptr_t)p, n };

    return conn_writev(c, &iov, 1);
}

static const char *reason(int st)
{
    switch (st) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* Starts a response head in c->out, up to the Connection header. */
static void head_begin(struct conn *c, const struct req *r, int status,
                       const char *ctype)
{
    struct buf *h = &c->out;

    h->len = 0;
    buf_puts(h, "HTTP/1.1 ");
    buf_put_u64(h, (unsigned)status);
    buf_putc(h, ' ');
    buf_puts(h, reason(status));
    buf_puts(h, "\r\nContent-Type: ");
    buf_puts(h, ctype);
    buf_puts(h, "\r\n");
    if (c->close)
        buf_puts(h, "Connection: close\r\n");
    else if (r && r->minor == 0)
        buf_puts(h, "Connection: keep-alive\r\n");
}

void http_reply(struct conn *c, const struct req *r, int status,
                const char *ctype, const char *extra, const struct buf *body)
{
    struct iovec iov[2];

    head_begin(c, r, status, ctype);
    buf_puts(&c->out, "Content-Length: ");
    buf_put_u64(&c->out, body->len);
    buf_puts(&c->out, "\r\n");
    if (extra)
        buf_puts(&c->out, extra);
    buf_puts(&c->out, "\r\n");
    if (c->out.oom || body->oom) {
        c->dead = 1;
        return;
    }
    iov[0].iov_base = c->out.p;
    iov[0].iov_len = c->out.len;
    iov[1].iov_base = body->p;
    iov[1].iov_len = body->len;
    conn_writev(c, iov, r && r->is_head ? 1 : 2);
    c->out.len = 0;
}

/* Replies with an OpenAI-shaped error; code NULL means null. */
void http_error(struct conn *c, const struct req *r, int status,
                const char *type, const char *code, const char *msg)
{
    struct buf *b = &c->aux;

    b->len = 0;
    buf_puts(b, "{\"error\":{\"message\":");
    json_put_str(b, msg, strlen(msg));
    buf_puts(b, ",\"type\":\"");
    buf_puts(b, type);
    buf_puts(b, "\",\"param\":null,\"code\":");
    if (code)
        json_put_str(b, code, strlen(code));
    else
        buf_puts(b, "null");
    buf_puts(b, "}}");
    http_reply(c, r, status, "application/json",
               status == 429 ? "Retry-After: 1\r\n" : NULL, b);
}

/* Queues the head of an event stream; it goes out with the first event. */
void http_stream_begin(struct conn *c, const struct req *r)
{
    c->chunked_out = r->minor >= 1;
    if (!c->chunked_out)
        c->close = 1;
    head_begin(c, r, 200, "text/event-stream");
    buf_puts(&c->out, "Cache-Control: no-cache\r\n");
    if (c->chunked_out)
        buf_puts(&c->out, "Transfer-Encoding: chunked\r\n");
    buf_puts(&c->out, "\r\n");
    if (c->out.oom)
        c->dead = 1;
}

/* Writes p[0..n) as one chunk (plus any pending head) in one syscall. */
void http_stream_send(struct conn *c, const char *p, size_t n)
{
    struct iovec iov[4];
    char size[24];
    int k = 0;

    if (c->out.len) {
        iov[k].iov_base = c->out.p;
        iov[k++].iov_len = c->out.len;
        c->out.len = 0;
    }
    if (c->chunked_out) {
        iov[k].iov_base = size;
        iov[k++].iov_len = (size_t)snprintf(size, sizeof(size), "%zx\r\n", n);
    }
    iov[k].iov_base = (void *)(uintptr_t)p;
    iov[k++].iov_len = n;
    if (c->chunked_out) {
        iov[k].iov_base = (void *)(uintptr_t)"\r\n";
        iov[k++].iov_len = 2;
    }
    if (n)
        conn_writev(c, iov, k);
}

void http_stream_end(struct conn *c)
{
    if (c->chunked_out)
        conn_write(c, "0\r\n\r\n", 5);
}
