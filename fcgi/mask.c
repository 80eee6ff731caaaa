#include "mask.h"

#include <stdio.h>
#include <string.h>

void mask_secret(const char *s, size_t len, char *out, size_t outsz)
{
    const char *dash = s ? memchr(s, '-', len < 8 ? len : 8) : NULL;
    int plen = dash ? (int)(dash - s) + 1 : 0;

    if (s == NULL || len < (size_t)plen + 32)
        snprintf(out, outsz, "%.*s...", plen, s ? s : "");
    else
        snprintf(out, outsz, "%.*s...%.4s", plen, s, s + len - 4);
}
