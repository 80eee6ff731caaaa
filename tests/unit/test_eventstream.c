#include "../../fcgi/eventstream.c"
#include "es_frame.h"
#include "t.h"

#include <stdlib.h>

struct got {
    int n;
    char type[8][64];
    char payload[8][256];
    int stop_at;          /* return nonzero at this message (1-based) */
};

static int collect(void *ctx, const struct es_message *m)
{
    struct got *g = ctx;
    size_t len = 0;
    const char *t = es_header_str(m, ":event-type", &len);

    if (g->n < 8) {
        snprintf(g->type[g->n], sizeof(g->type[0]), "%.*s", (int)len,
                 t ? t : "");
        snprintf(g->payload[g->n], sizeof(g->payload[0]), "%.*s",
                 (int)m->payload_len, (const char *)m->payload);
    }
    g->n++;
    return g->stop_at == g->n ? 1 : 0;
}

static int exc_check(void *ctx, const struct es_message *m)
{
    (void)ctx;
    T_OK(es_header_is(m, ":message-type", "exception") &&
         es_header_is(m, ":exception-type", "throttlingException") &&
         !es_header_is(m, ":exception-type", "throttling"),
         "exception headers: exact string match");
    return 0;
}

/* Two events, the second with an empty payload. */
static void two_events(struct buf *s)
{
    es_event(s, "contentBlockDelta",
             "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
    es_event(s, "contentBlockStop", "");
}

static void test_crc(void)
{
    static const unsigned char empty[] = {
        0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
        0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff,
    };
    struct es_decoder d;
    struct got g = { 0 };

    T_EQ_INT(es_crc32(0, "123456789", 9), 0xCBF43926u,
             "crc32 check value (zlib's)");
    T_EQ_INT(es_crc32(es_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u,
             "crc32 continues across calls");
    es_init(&d, ES_DEFAULT_MAX);
    T_EQ_INT(es_feed(&d, empty, sizeof(empty), collect, &g), 0,
             "AWS's empty-message test vector decodes");
    T_EQ_INT(g.n, 1, "one empty message");
    T_EQ_STR(g.payload[0], "", "no payload");
    es_release(&d);
}

static void test_whole_and_split(void)
{
    struct buf s = BUF_INIT(1 << 20);
    struct es_decoder d;
    struct got g;
    int bad = 0;

    two_events(&s);
    es_init(&d, ES_DEFAULT_MAX);
    memset(&g, 0, sizeof(g));
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), 0, "two messages");
    T_EQ_INT(g.n, 2, "both delivered");
    T_EQ_STR(g.type[0], "contentBlockDelta", ":event-type read");
    T_EQ_STR(g.payload[0],
             "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}",
             "payload intact");
    T_EQ_STR(g.type[1], "contentBlockStop", "second event");
    T_OK(!es_pending(&d), "nothing pending after whole messages");
    buf_reset(&s);
    es_exception(&s, "throttlingException", "{\"message\":\"slow\"}");
    T_EQ_INT(es_feed(&d, s.ptr, s.len, exc_check, &g), 0,
             "exception message decoded");
    buf_reset(&s);
    two_events(&s);

    /* every split point, in two feeds */
    for (size_t cut = 0; cut <= s.len; cut++) {
        es_reset(&d);
        memset(&g, 0, sizeof(g));
        if (es_feed(&d, s.ptr, cut, collect, &g) != 0 ||
            es_feed(&d, s.ptr + cut, s.len - cut, collect, &g) != 0 ||
            g.n != 2 || strcmp(g.type[1], "contentBlockStop") != 0 ||
            strcmp(g.payload[0], "{\"contentBlockIndex\":0,\"delta\":"
                   "{\"text\":\"Hi\"}}") != 0)
            bad++;
    }
    T_EQ_INT(bad, 0, "split at every byte: same two messages");

    /* one byte at a time */
    es_reset(&d);
    memset(&g, 0, sizeof(g));
    for (size_t i = 0; i < s.len; i++) {
        if (es_feed(&d, s.ptr + i, 1, collect, &g) != 0)
            bad++;
        if (i + 1 < s.len && g.n == 2)   /* not before the last byte */
            bad++;
    }
    T_EQ_INT(bad, 0, "byte by byte: no error");
    T_EQ_INT(g.n, 2, "byte by byte: both messages");
    T_EQ_INT(es_feed(&d, "", 0, collect, &g), 0, "empty feed is a no-op");
    es_release(&d);
    buf_release(&s);
}

static void test_corruption(void)
{
    struct buf s = BUF_INIT(1 << 20);
    struct es_decoder d;
    struct got g = { 0 };

    two_events(&s);
    es_init(&d, ES_DEFAULT_MAX);

    s.ptr[9] ^= 0x01;                         /* prelude CRC */
    T_EQ_INT(es_feed(&d, s.ptr, 12, collect, &g), ES_EPRELUDE,
             "bad prelude CRC caught after 12 bytes");
    T_EQ_INT(es_feed(&d, s.ptr + 12, 4, collect, &g), ES_EPRELUDE,
             "errors are sticky");
    T_EQ_INT(g.n, 0, "nothing delivered");
    s.ptr[9] ^= 0x01;

    es_reset(&d);
    s.ptr[20] ^= 0x40;                        /* a header byte */
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_ECRC,
             "bad message CRC");
    T_EQ_INT(g.n, 0, "corrupt message not delivered");
    s.ptr[20] ^= 0x40;

    es_reset(&d);
    s.ptr[s.len - 1] ^= 0xff;                 /* last message's CRC */
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_ECRC,
             "bad CRC on the second message");
    T_EQ_INT(g.n, 1, "the first was delivered");
    s.ptr[s.len - 1] ^= 0xff;

    es_reset(&d);
    memset(&g, 0, sizeof(g));
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), 0,
             "reset clears the error");
    es_release(&d);
    buf_release(&s);
}

/* A prelude with chosen lengths and a valid CRC. */
static void prelude(struct buf *b, uint32_t total, uint32_t hlen)
{
    size_t start = b->len;

    es_put32(b, total);
    es_put32(b, hlen);
    es_put32(b, es_crc32(0, b->ptr + start, 8));
}

static void test_lengths(void)
{
    struct buf s = BUF_INIT(1 << 20);
    struct es_decoder d;
    struct got g = { 0 };

    es_init(&d, 1024);
    prelude(&s, 1025, 0);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_ETOOBIG,
             "oversize refused from the prelude alone");
    T_OK(d.cap < 1025, "no buffer grown for it");

    es_release(&d);
    es_init(&d, ES_DEFAULT_MAX);
    buf_reset(&s);
    prelude(&s, (uint32_t)ES_DEFAULT_MAX + 1, 0);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_ETOOBIG,
             "16 MiB + 1 refused by default");

    es_reset(&d);
    buf_reset(&s);
    prelude(&s, 15, 0);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_EPRELUDE,
             "total length below 16 refused");

    es_reset(&d);
    buf_reset(&s);
    prelude(&s, 32, 17);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_EPRELUDE,
             "headers longer than the message refused");

    es_reset(&d);
    buf_reset(&s);
    prelude(&s, 100, 0);
    T_EQ_INT(es_feed(&d, s.ptr, s.len + 0, collect, &g), 0,
             "a valid prelude waits for the rest");
    T_OK(es_pending(&d), "pending while incomplete");
    es_release(&d);
    buf_release(&s);
}

/* Headers of every type, then a string header after them. */
static void all_types(struct buf *h)
{
    static const unsigned char fixed[] = {
        1, 'a', 0,                           /* bool true */
        1, 'b', 1,                           /* bool false */
        1, 'c', 2, 0x7f,                     /* byte */
        1, 'd', 3, 0x01, 0x02,               /* short */
        1, 'e', 4, 0, 0, 0, 42,              /* int */
        1, 'f', 5, 0, 0, 0, 0, 0, 0, 0, 7,   /* long */
        1, 'g', 6, 0, 3, 0xff, 0x00, 0x07,   /* bytes */
        1, 'h', 8, 0, 0, 1, 0x8b, 0, 0, 0, 0, /* timestamp */
        1, 'i', 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    };

    buf_add(h, fixed, sizeof(fixed));
    es_hdr_str(h, ":event-type", "messageStop");
}

static int check_types(void *ctx, const struct es_message *m)
{
    int *ok = ctx;
    struct es_header h;
    size_t off = 0, n = 0;
    const unsigned char want[] = { 0, 1, 2, 3, 4, 5, 6, 8, 9, 7 };

    while (es_header_next(m, &off, &h)) {
        if (n >= sizeof(want) || h.type != want[n])
            return 1;
        if (h.type == ES_INT && h.value[3] != 42)
            return 1;
        if (h.type == ES_BYTES && h.value_len != 3)
            return 1;
        n++;
    }
    *ok = n == sizeof(want) && es_header_is(m, ":event-type", "messageStop")
          && es_header_str(m, "e", NULL) == NULL;
    return 0;
}

static void test_header_types(void)
{
    struct buf h = BUF_INIT(1 << 16), s = BUF_INIT(1 << 16);
    struct es_decoder d;
    struct got g = { 0 };
    int ok = 0;
    unsigned char bad[] = { 1, 'x', 10, 0, 0 };       /* type 10 */
    unsigned char shortstr[] = { 1, 'x', 7, 0, 9, 'a' };
    unsigned char noname[] = { 0, 7, 0, 0 };

    all_types(&h);
    es_frame(&s, h.ptr, h.len, "{}", 2);
    es_init(&d, ES_DEFAULT_MAX);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, check_types, &ok), 0,
             "every header type accepted");
    T_OK(ok, "each type's value skipped by its size; string found after");

    buf_reset(&s);
    es_reset(&d);
    es_frame(&s, bad, sizeof(bad), "{}", 2);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_EHEADERS,
             "unknown header type refused");
    buf_reset(&s);
    es_reset(&d);
    es_frame(&s, shortstr, sizeof(shortstr), "{}", 2);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_EHEADERS,
             "string longer than the headers refused");
    buf_reset(&s);
    es_reset(&d);
    es_frame(&s, noname, sizeof(noname), "", 0);
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_EHEADERS,
             "empty header name refused");
    T_EQ_INT(g.n, 0, "malformed messages not delivered");
    es_release(&d);
    buf_release(&h);
    buf_release(&s);
}

static void test_stop_and_big(void)
{
    struct buf s = BUF_INIT((size_t)32 << 20), h = BUF_INIT(1024);
    struct es_decoder d;
    struct got g = { 0 };
    char *big = malloc(5u << 20);

    two_events(&s);
    es_init(&d, ES_DEFAULT_MAX);
    g.stop_at = 1;
    T_EQ_INT(es_feed(&d, s.ptr, s.len, collect, &g), ES_ESTOP,
             "callback stops decoding");
    T_EQ_INT(g.n, 1, "nothing after the stop");

    memset(big, 'x', 5u << 20);
    buf_reset(&s);
    es_hdr_str(&h, ":event-type", "chunk");
    es_frame(&s, h.ptr, h.len, big, 5u << 20);
    es_reset(&d);
    memset(&g, 0, sizeof(g));
    for (size_t off = 0; off < s.len; off += 4093)
        es_feed(&d, s.ptr + off, s.len - off < 4093 ? s.len - off : 4093,
                collect, &g);
    T_EQ_INT(g.n, 1, "a 5 MiB message in 4 KiB reads");
    T_EQ_STR(g.type[0], "chunk", "its header");
    es_release(&d);
    es_release(NULL);
    buf_release(&s);
    buf_release(&h);
    free(big);
}

int main(void)
{
    test_crc();
    test_whole_and_split();
    test_corruption();
    test_lengths();
    test_header_types();
    test_stop_and_big();
    return t_done();
}
