/* Builds event-stream messages for the unit tests (the encoder side of
 * fcgi/eventstream.c). */
#ifndef AIGW_TEST_ES_FRAME_H
#define AIGW_TEST_ES_FRAME_H

#include <stdint.h>
#include <string.h>

#include "../../fcgi/buf.h"
#include "../../fcgi/eventstream.h"

static inline void es_put32(struct buf *b, uint32_t v)
{
    unsigned char p[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };

    buf_add(b, p, 4);
}

/* A string (type 7) header. */
static inline void es_hdr_str(struct buf *h, const char *name,
                              const char *value)
{
    size_t n = strlen(name), v = strlen(value);

    buf_addc(h, (char)n);
    buf_add(h, name, n);
    buf_addc(h, 7);
    buf_addc(h, (char)(v >> 8));
    buf_addc(h, (char)(v & 0xff));
    buf_add(h, value, v);
}

/* One message from encoded headers and a payload, CRCs computed. */
static inline void es_frame(struct buf *out, const void *hdrs, size_t hlen,
                            const void *payload, size_t plen)
{
    size_t start = out->len;
    uint32_t total = (uint32_t)(16 + hlen + plen);

    es_put32(out, total);
    es_put32(out, (uint32_t)hlen);
    es_put32(out, es_crc32(0, out->ptr + start, 8));
    buf_add(out, hdrs, hlen);
    buf_add(out, payload, plen);
    es_put32(out, es_crc32(0, out->ptr + start, total - 4));
}

/* A Bedrock event: :event-type, :content-type, :message-type headers. */
static inline void es_event(struct buf *out, const char *type,
                            const char *json)
{
    struct buf h = BUF_INIT(1 << 16);

    es_hdr_str(&h, ":event-type", type);
    es_hdr_str(&h, ":content-type", "application/json");
    es_hdr_str(&h, ":message-type", "event");
    es_frame(out, h.ptr, h.len, json, strlen(json));
    buf_release(&h);
}

static inline void es_exception(struct buf *out, const char *type,
                                const char *json)
{
    struct buf h = BUF_INIT(1 << 16);

    es_hdr_str(&h, ":exception-type", type);
    es_hdr_str(&h, ":content-type", "application/json");
    es_hdr_str(&h, ":message-type", "exception");
    es_frame(out, h.ptr, h.len, json, strlen(json));
    buf_release(&h);
}

#endif
