/* Growable byte buffer used to build responses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

static int buf_reserve(struct buf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->oom)
        return -1;
    if (n <= b->cap - b->len)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void buf_put(struct buf *b, const void *s, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_putc(struct buf *b, char ch)
{
    if (buf_reserve(b, 1) < 0)
        return;
    b->p[b->len++] = ch;
}

void buf_fill(struct buf *b, char ch, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return;
    memset(b->p + b->len, ch, n);
    b->len += n;
}

void buf_put_u64(struct buf *b, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_put(b, tmp + i, sizeof(tmp) - i);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
