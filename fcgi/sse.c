#include "sse.h"

#include <string.h>

void sse_init(struct sse_parser *p, size_t max_event)
{
    buf_init(&p->line, max_event);
    buf_init(&p->data, max_event);
    p->event[0] = '\0';
    p->has_data = 0;
    p->after_cr = 0;
}

void sse_reset(struct sse_parser *p)
{
    buf_reset(&p->line);
    buf_reset(&p->data);
    p->event[0] = '\0';
    p->has_data = 0;
    p->after_cr = 0;
}

void sse_release(struct sse_parser *p)
{
    buf_release(&p->line);
    buf_release(&p->data);
}

static int dispatch(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
    int rc = 0;

    if (p->has_data)
        rc = fn(ctx, p->event, p->data.ptr ? p->data.ptr : "", p->data.len);
    buf_reset(&p->data);
    p->event[0] = '\0';
    p->has_data = 0;
    return rc;
}

static int process_line(struct sse_parser *p, const char *s, size_t n,
                        sse_event_fn fn, void *ctx)
{
    const char *colon;
    size_t flen;
    const char *v;
    size_t vlen;

    if (n == 0)
        return dispatch(p, fn, ctx);
    if (s[0] == ':')
        return 0;                       /* comment */
    colon = memchr(s, ':', n);
    flen = colon ? (size_t)(colon - s) : n;
    v = colon ? colon + 1 : s + n;
    vlen = colon ? n - flen - 1 : 0;
    if (vlen > 0 && *v == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        if (p->has_data)
            buf_addc(&p->data, '\n');
        buf_add(&p->data, v, vlen);
        p->has_data = 1;
        return buf_error(&p->data);
    }
    if (flen == 5 && memcmp(s, "event", 5) == 0) {
        if (vlen >= sizeof(p->event))
            vlen = sizeof(p->event) - 1;
        memcpy(p->event, v, vlen);
        p->event[vlen] = '\0';
    }
    return 0;                           /* id, retry, unknown: ignored */
}

int sse_feed(struct sse_parser *p, const char *s, size_t n, sse_event_fn fn,
             void *ctx)
{
    const char *end = s + n;

    while (s < end) {
        const char *nl;
        size_t seg;
        int rc;

        if (p->after_cr) {
            p->after_cr = 0;
            if (*s == '\n') {
                s++;
                continue;
            }
        }
        for (nl = s; nl < end && *nl != '\n' && *nl != '\r'; nl++)
            ;
        seg = (size_t)(nl - s);
        if (nl == end) {                /* partial line: keep it */
            buf_add(&p->line, s, seg);
            return buf_error(&p->line);
        }
        if (p->line.len > 0) {
            buf_add(&p->line, s, seg);
            if (buf_error(&p->line))
                return buf_error(&p->line);
            rc = process_line(p, p->line.ptr, p->line.len, fn, ctx);
            buf_reset(&p->line);
        } else {
            rc = process_line(p, s, seg, fn, ctx);
        }
        if (rc != 0)
            return rc;
        p->after_cr = *nl == '\r';
        s = nl + 1;
    }
    return 0;
}
