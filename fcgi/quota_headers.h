/* Rate-limit response headers: OpenAI's x-ratelimit-{limit,remaining,
 * reset}-{requests,tokens} and the IETF RateLimit-Policy / RateLimit
 * fields, from the tightest request limit and token limit that applied. */
#ifndef AIGW_QUOTA_HEADERS_H
#define AIGW_QUOTA_HEADERS_H

#include <stddef.h>
#include <stdint.h>

struct qh_entry {
    int set;
    int64_t limit, remaining, reset_s, window_s;
};

struct qh_state {
    struct qh_entry req, tok;
};

/* Keeps the entry with the least remaining (ties: the later reset). */
void qh_note(struct qh_state *s, int requests, int64_t limit,
             int64_t remaining, int64_t reset_s, int64_t window_s);
/* Writes CRLF-terminated header lines into out (always terminated; ""
 * when nothing was noted). retry_after_s >= 0 adds Retry-After. */
void qh_format(const struct qh_state *s, int64_t retry_after_s, char *out,
               size_t outsz);

#endif
