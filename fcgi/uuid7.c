#include "uuid7.h"

#include <stdio.h>
#include <sys/random.h>

int uuid7_init(struct uuid7_gen *g)
{
    if (getrandom(g->s, sizeof(g->s), 0) != (ssize_t)sizeof(g->s))
        return -1;
    if ((g->s[0] | g->s[1]) == 0)
        g->s[0] = 1;
    return 0;
}

static uint64_t next(struct uuid7_gen *g)
{
    uint64_t a = g->s[0], b = g->s[1];

    g->s[0] = b;
    a ^= a << 23;
    g->s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return g->s[1] + b;
}

void uuid7_make(struct uuid7_gen *g, int64_t unix_ms, char out[37])
{
    uint64_t hi = ((uint64_t)unix_ms & 0xFFFFFFFFFFFFull) << 16;
    uint64_t lo = next(g);

    hi |= 0x7000 | (next(g) & 0x0FFF);               /* version 7 */
    lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull; /* variant */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx",
             (unsigned)(hi >> 32), (unsigned)((hi >> 16) & 0xFFFF),
             (unsigned)(hi & 0xFFFF), (unsigned)(lo >> 48),
             (unsigned long long)(lo & 0xFFFFFFFFFFFFull));
}
