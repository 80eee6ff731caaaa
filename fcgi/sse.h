/* Incremental Server-Sent Events parser (WHATWG rules): LF, CR or CRLF
 * line ends, comments, multi-line data, fields split across any number of
 * reads. Memory is bounded by max_event. */
#ifndef AIGW_SSE_H
#define AIGW_SSE_H

#include <stddef.h>

#include "buf.h"

/* Called per complete event with its data (lines joined by \n) and event
 * type ("" when none). Returns 0, or -1 to stop parsing. */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data,
                            size_t len);

struct sse_parser {
    struct buf line;
    struct buf data;
    char event[64];
    int has_data;
    int after_cr;
};

void sse_init(struct sse_parser *p, size_t max_event);
void sse_reset(struct sse_parser *p);
void sse_release(struct sse_parser *p);
/* Returns 0, -1 when fn stopped, or GW_ETOOBIG past max_event. */
int sse_feed(struct sse_parser *p, const char *s, size_t n, sse_event_fn fn,
             void *ctx);

#endif
