/* Incremental decoder for AWS's binary event-stream framing
 * (application/vnd.amazon.eventstream), as Bedrock's ConverseStream and
 * InvokeModelWithResponseStream send it:
 *
 *   total length u32 BE | headers length u32 BE | prelude CRC32 u32 BE
 *   headers | payload | message CRC32 u32 BE
 *
 * The prelude CRC covers the first 8 bytes, the message CRC everything
 * before it. Messages may be split across reads at any byte; memory is
 * bounded by the decoder's max message size. */
#ifndef AIGW_EVENTSTREAM_H
#define AIGW_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* Header value types on the wire. */
enum es_type {
    ES_BOOL_TRUE = 0,
    ES_BOOL_FALSE = 1,
    ES_BYTE = 2,
    ES_SHORT = 3,
    ES_INT = 4,
    ES_LONG = 5,
    ES_BYTES = 6,
    ES_STRING = 7,
    ES_TIMESTAMP = 8,
    ES_UUID = 9,
};

/* Errors (sticky: once failed, a decoder keeps failing until reset). */
#define ES_ESTOP (-1)      /* the callback stopped */
#define ES_ETOOBIG (-2)    /* total length past the decoder's maximum */
#define ES_EPRELUDE (-3)   /* prelude CRC mismatch or impossible lengths */
#define ES_ECRC (-4)       /* message CRC mismatch */
#define ES_EHEADERS (-5)   /* malformed or unknown-typed headers */

#define ES_PRELUDE_LEN 12
#define ES_MIN_MESSAGE 16
#define ES_DEFAULT_MAX ((size_t)16 << 20)

/* One header, pointing into the message (borrowed). */
struct es_header {
    const char *name;
    size_t name_len;
    enum es_type type;
    const unsigned char *value;   /* raw value bytes (big-endian ints) */
    size_t value_len;             /* 0 for booleans */
};

/* One complete, verified message; valid during the callback only. */
struct es_message {
    const unsigned char *headers;
    size_t headers_len;
    const unsigned char *payload;
    size_t payload_len;
};

/* Called per message. Returns 0, or nonzero to stop decoding. */
typedef int (*es_message_fn)(void *ctx, const struct es_message *m);

struct es_decoder {
    unsigned char *buf;     /* bytes of the message being assembled */
    size_t len, cap;
    size_t max;             /* largest accepted message */
    uint32_t want;          /* total length once the prelude is in */
    int err;
};

void es_init(struct es_decoder *d, size_t max_message);
void es_reset(struct es_decoder *d);         /* keeps the memory */
void es_release(struct es_decoder *d);       /* NULL-safe */
/* Feeds n bytes; calls fn for each complete message. Returns 0 or an
 * ES_E* code. */
int es_feed(struct es_decoder *d, const void *p, size_t n, es_message_fn fn,
            void *ctx);
/* Whether bytes of an unfinished message are buffered. */
int es_pending(const struct es_decoder *d);
const char *es_strerror(int err);

/* Walks m's headers: start with *off = 0; returns 1 with h filled, 0 at
 * the end. Headers were validated before the callback. */
int es_header_next(const struct es_message *m, size_t *off,
                   struct es_header *h);
/* The value of string header name (":event-type"), or NULL when absent
 * or not a string. *len gets its length. */
const char *es_header_str(const struct es_message *m, const char *name,
                          size_t *len);
/* Whether string header name equals value. */
int es_header_is(const struct es_message *m, const char *name,
                 const char *value);

/* CRC-32 (IEEE 802.3, zlib's crc32()): pass 0 to start. */
uint32_t es_crc32(uint32_t crc, const void *p, size_t n);

#endif
