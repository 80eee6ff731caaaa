/* Bounded growable byte buffer with a sticky error (curl dynbuf's cap,
 * sqlite3_str's error). Free of FastCGI; shared with report/. */
#ifndef AIGW_BUF_H
#define AIGW_BUF_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define GW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GW_PRINTF(a, b)
#endif

struct buf {
    char *ptr;   /* always NUL-terminated once anything was added */
    size_t len, cap, max;
    int err;     /* 0, or the first error (GW_ETOOBIG) */
};

#define BUF_INIT(max) { NULL, 0, 0, (max), 0 }
#define GW_ETOOBIG (-2)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);               /* NULL-safe */
void buf_reset(struct buf *b);                 /* keeps the memory */
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) GW_PRINTF(2, 3);
/* Appends v in decimal (no printf on the hot path). */
void buf_add_int(struct buf *b, long long v);
/* Appends s as a JSON string literal, quotes included. */
void buf_add_json_str(struct buf *b, const char *s, size_t n);
int buf_error(const struct buf *b);
char *buf_detach(struct buf *b, size_t *len);  /* caller frees */

#endif
