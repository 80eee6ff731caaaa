#include "quota_headers.h"

#include <inttypes.h>
#include <stdio.h>

void qh_note(struct qh_state *s, int requests, int64_t limit,
             int64_t remaining, int64_t reset_s, int64_t window_s)
{
    struct qh_entry *e = requests ? &s->req : &s->tok;

    if (remaining < 0)
        remaining = 0;
    if (reset_s < 0)
        reset_s = 0;
    if (e->set && (remaining > e->remaining ||
                   (remaining == e->remaining && reset_s <= e->reset_s)))
        return;
    *e = (struct qh_entry){ 1, limit, remaining, reset_s, window_s };
}

static size_t add(char *out, size_t outsz, size_t n, const char *kind,
                  const struct qh_entry *e)
{
    int k;

    if (!e->set || n >= outsz)
        return n;
    k = snprintf(out + n, outsz - n,
                 "x-ratelimit-limit-%s: %" PRId64 "\r\n"
                 "x-ratelimit-remaining-%s: %" PRId64 "\r\n"
                 "x-ratelimit-reset-%s: %" PRId64 "s\r\n",
                 kind, e->limit, kind, e->remaining, kind, e->reset_s);
    return k < 0 ? n : n + (size_t)k;
}

static size_t ietf(char *out, size_t outsz, size_t n, const char *field,
                   const struct qh_state *s, int policy)
{
    const struct qh_entry *es[2] = { &s->req, &s->tok };
    const char *names[2] = { "requests", "tokens" };
    const char *sep = "";
    int k;

    if (n >= outsz || (!s->req.set && !s->tok.set))
        return n;
    k = snprintf(out + n, outsz - n, "%s: ", field);
    n = k < 0 ? n : n + (size_t)k;
    for (int i = 0; i < 2 && n < outsz; i++) {
        if (!es[i]->set)
            continue;
        k = policy
            ? snprintf(out + n, outsz - n, "%s\"%s\";q=%" PRId64 ";w=%" PRId64,
                       sep, names[i], es[i]->limit, es[i]->window_s)
            : snprintf(out + n, outsz - n, "%s\"%s\";r=%" PRId64 ";t=%" PRId64,
                       sep, names[i], es[i]->remaining, es[i]->reset_s);
        n = k < 0 ? n : n + (size_t)k;
        sep = ", ";
    }
    if (n < outsz) {
        k = snprintf(out + n, outsz - n, "\r\n");
        n = k < 0 ? n : n + (size_t)k;
    }
    return n;
}

void qh_format(const struct qh_state *s, int64_t retry_after_s, char *out,
               size_t outsz)
{
    size_t n = 0;
    int k;

    if (outsz == 0)
        return;
    out[0] = '\0';
    if (retry_after_s >= 0) {
        k = snprintf(out, outsz, "Retry-After: %" PRId64 "\r\n",
                     retry_after_s < 1 ? 1 : retry_after_s);
        n = k < 0 ? 0 : (size_t)k;
    }
    n = add(out, outsz, n, "requests", &s->req);
    n = add(out, outsz, n, "tokens", &s->tok);
    n = ietf(out, outsz, n, "RateLimit-Policy", s, 1);
    n = ietf(out, outsz, n, "RateLimit", s, 0);
    if (n >= outsz) {                 /* truncated: drop the partial line */
        out[0] = '\0';
    }
}
