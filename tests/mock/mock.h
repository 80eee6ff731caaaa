/*
 * mock-provider: a mock OpenAI-compatible LLM provider for aigw's
 * integration tests and benchmarks.  Shared declarations of its modules:
 *   mock-provider.c  options, listener, one thread per connection, signals
 *   mock-http.c      HTTP/1.1 request reading, response writing
 *   mock-json.c      minimal JSON scanner and string escaping
 *   mock-buf.c       growable byte buffer
 *   mock-api.c       routing, control endpoints, statistics
 *   mock-chat.c      chat completions, embeddings, fault injection
 */
#ifndef MOCK_H
#define MOCK_H

#include <stddef.h>
#include <stdint.h>

#define MOCK_MAX_BODY ((size_t)32 << 20)
#define MOCK_MAX_HEAD ((size_t)64 << 10)
#define MOCK_MAX_HDRS 100

#define MOCK_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Command line settings, read-only once the listener runs. */
struct mock_opts {
    int port;
    int latency_ms;
    int chunk_delay_ms;
    int chunks;
    const char *require_key;
};

extern struct mock_opts mock_opts;

/* Sleeps ms milliseconds; returns -1 early when the server shuts down. */
int mock_nap(int ms);
/* Like mock_nap but also returns 1 as soon as the peer on fd hangs up. */
int mock_nap_conn(int fd, int ms);

/* Growable buffer; on allocation failure sets oom and drops data. */
struct buf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
};

void buf_put(struct buf *b, const void *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char ch);
void buf_fill(struct buf *b, char ch, size_t n);
void buf_put_u64(struct buf *b, unsigned long long v);
void buf_printf(struct buf *b, const char *fmt, ...) MOCK_PRINTF(2, 3);
void buf_free(struct buf *b);

/* JSON: escaped string output, and the few request fields the mock uses. */
void json_put_str(struct buf *b, const char *s, size_t n);

struct json_req {
    const char *model;      /* raw (still escaped) string contents */
    size_t model_len;
    char model_dec[128];    /* decoded model name, "" if too long */
    int has_model;
    int stream;
    int include_usage;
};

int json_scan_req(const char *p, size_t n, struct json_req *out);

/* A span of the request head: offset and length from its first byte. */
struct span {
    uint32_t off;
    uint32_t len;
};

struct hdr {
    struct span name;
    struct span val;
};

struct req {
    const char *base;       /* first byte of the request head */
    struct span method;
    struct span target;
    struct span path;       /* target without the query string */
    int minor;              /* HTTP/1.<minor> */
    struct hdr hdrs[MOCK_MAX_HDRS];
    int nhdr;
    size_t head_len;
    long long clen;         /* -1 when absent */
    int chunked;
    int expect;
    int keep_alive;
    int is_head;
    const char *body;
    size_t body_len;
};

int http_parse_head(const char *p, size_t n, struct req *r);
const char *req_header(const struct req *r, const char *lname, size_t *len);
int span_is(const struct req *r, struct span s, const char *lit);

/* One client connection, owned by its thread. */
struct conn {
    int fd;
    int close;              /* close after the current response */
    int dead;               /* write failed: stop talking */
    int chunked_out;        /* the streamed response uses chunked coding */
    int linger;             /* drain input before closing (after errors) */
    char *in;
    size_t len;
    size_t cap;
    struct buf out;
    struct buf body;
    struct buf aux;
    struct conn *prev;
    struct conn *next;
};

void conn_serve(struct conn *c);
int conn_write(struct conn *c, const void *p, size_t n);
void http_reply(struct conn *c, const struct req *r, int status,
                const char *ctype, const char *extra, const struct buf *body);
void http_error(struct conn *c, const struct req *r, int status,
                const char *type, const char *code, const char *msg);
void http_stream_begin(struct conn *c, const struct req *r);
void http_stream_send(struct conn *c, const char *p, size_t n);
void http_stream_end(struct conn *c);

/* API layer. */
void api_handle(struct conn *c, struct req *r);
void api_cleanup(void);
void stats_add(int chat, unsigned long long prompt,
               unsigned long long completion);
void chat_handle(struct conn *c, struct req *r);
void embed_handle(struct conn *c, struct req *r);

#endif
