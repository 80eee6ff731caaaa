#include "eventstream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* --- CRC-32 (reflected polynomial 0xEDB88320), table built once -------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t es_crc32(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (n-- > 0)
        crc = crc_table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* --- headers ------------------------------------------------------------ */

/* Size of a fixed-size value, or -1 for length-prefixed and unknown. */
static int fixed_size(unsigned type)
{
    switch (type) {
    case ES_BOOL_TRUE: case ES_BOOL_FALSE: return 0;
    case ES_BYTE: return 1;
    case ES_SHORT: return 2;
    case ES_INT: return 4;
    case ES_LONG: case ES_TIMESTAMP: return 8;
    case ES_UUID: return 16;
    default: return -1;
    }
}

/* Parses the header at p[*off..end); 0 and *off advanced, or -1. */
static int parse_header(const unsigned char *p, size_t end, size_t *off,
                        struct es_header *h)
{
    size_t o = *off, nlen, vlen;
    unsigned type;
    int fs;

    if (end - o < 1)
        return -1;
    nlen = p[o++];
    if (nlen == 0 || end - o < nlen + 1)
        return -1;
    h->name = (const char *)p + o;
    h->name_len = nlen;
    o += nlen;
    type = p[o++];
    fs = fixed_size(type);
    if (fs >= 0) {
        vlen = (size_t)fs;
    } else if (type == ES_BYTES || type == ES_STRING) {
        if (end - o < 2)
            return -1;
        vlen = (size_t)p[o] << 8 | p[o + 1];
        o += 2;
    } else {
        return -1;              /* unknown type: its size is unknowable */
    }
    if (end - o < vlen)
        return -1;
    h->type = (enum es_type)type;
    h->value = p + o;
    h->value_len = vlen;
    *off = o + vlen;
    return 0;
}

int es_header_next(const struct es_message *m, size_t *off,
                   struct es_header *h)
{
    if (*off >= m->headers_len)
        return 0;
    return parse_header(m->headers, m->headers_len, off, h) == 0;
}

static int headers_valid(const unsigned char *p, size_t len)
{
    struct es_header h;
    size_t off = 0;

    while (off < len)
        if (parse_header(p, len, &off, &h) < 0)
            return 0;
    return 1;
}

const char *es_header_str(const struct es_message *m, const char *name,
                          size_t *len)
{
    struct es_header h;
    size_t off = 0, n = strlen(name);

    while (es_header_next(m, &off, &h))
        if (h.name_len == n && memcmp(h.name, name, n) == 0) {
            if (h.type != ES_STRING)
                return NULL;
            if (len != NULL)
                *len = h.value_len;
            return (const char *)h.value;
        }
    return NULL;
}

int es_header_is(const struct es_message *m, const char *name,
                 const char *value)
{
    size_t len, n = strlen(value);
    const char *v = es_header_str(m, name, &len);

    return v != NULL && len == n && memcmp(v, value, n) == 0;
}

/* --- decoder ------------------------------------------------------------ */

void es_init(struct es_decoder *d, size_t max_message)
{
    memset(d, 0, sizeof(*d));
    d->max = max_message < ES_MIN_MESSAGE ? ES_MIN_MESSAGE : max_message;
}

void es_reset(struct es_decoder *d)
{
    d->len = 0;
    d->want = 0;
    d->err = 0;
}

void es_release(struct es_decoder *d)
{
    if (d == NULL)
        return;
    free(d->buf);
    d->buf = NULL;
    d->len = d->cap = 0;
    d->want = 0;
    d->err = 0;
}

int es_pending(const struct es_decoder *d)
{
    return d->len > 0;
}

const char *es_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case ES_ESTOP: return "stopped";
    case ES_ETOOBIG: return "event-stream message too large";
    case ES_EPRELUDE: return "event-stream prelude invalid";
    case ES_ECRC: return "event-stream message CRC mismatch";
    case ES_EHEADERS: return "event-stream headers malformed";
    default: return "event-stream error";
    }
}

static void reserve(struct es_decoder *d, size_t n)
{
    size_t cap = d->cap ? d->cap : 256;

    if (n <= d->cap)
        return;
    while (cap < n)
        cap *= 2;
    d->buf = xrealloc(d->buf, cap);
    d->cap = cap;
}

/* The prelude is complete: check it and size the message. */
static int take_prelude(struct es_decoder *d)
{
    uint32_t total = be32(d->buf), hlen = be32(d->buf + 4);

    if (es_crc32(0, d->buf, 8) != be32(d->buf + 8))
        return ES_EPRELUDE;
    if (total > d->max)
        return ES_ETOOBIG;
    if (total < ES_MIN_MESSAGE || hlen > total - ES_MIN_MESSAGE)
        return ES_EPRELUDE;
    d->want = total;
    reserve(d, total);
    return 0;
}

/* The message is complete: check it and hand it over. */
static int take_message(struct es_decoder *d, es_message_fn fn, void *ctx)
{
    struct es_message m;
    size_t total = d->want;
    uint32_t hlen = be32(d->buf + 4);

    if (es_crc32(0, d->buf, total - 4) != be32(d->buf + total - 4))
        return ES_ECRC;
    m.headers = d->buf + ES_PRELUDE_LEN;
    m.headers_len = hlen;
    m.payload = m.headers + hlen;
    m.payload_len = total - ES_MIN_MESSAGE - hlen;
    if (!headers_valid(m.headers, m.headers_len))
        return ES_EHEADERS;
    d->len = 0;
    d->want = 0;
    return fn(ctx, &m) == 0 ? 0 : ES_ESTOP;
}

int es_feed(struct es_decoder *d, const void *p, size_t n, es_message_fn fn,
            void *ctx)
{
    const unsigned char *s = p;

    if (d->err)
        return d->err;
    while (n > 0) {
        size_t need = d->want ? d->want : ES_PRELUDE_LEN;
        size_t take = need - d->len < n ? need - d->len : n;
        int rc = 0;

        reserve(d, need);
        memcpy(d->buf + d->len, s, take);
        d->len += take;
        s += take;
        n -= take;
        if (d->len < need)
            break;
        if (d->want == 0)
            rc = take_prelude(d);
        else
            rc = take_message(d, fn, ctx);
        if (rc != 0) {
            d->err = rc;
            return rc;
        }
    }
    return 0;
}
