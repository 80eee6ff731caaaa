#include "csv.h"

#include <string.h>

int csv_needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return 1;
    return 0;
}

int csv_field(FILE *fp, const char *s)
{
    size_t n;

    if (s == NULL)
        return 0;
    n = strlen(s);
    if (n > 0 && !csv_needs_quotes(s, n))
        return fwrite(s, 1, n, fp) == n ? 0 : -1;
    if (putc('"', fp) == EOF)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' && putc('"', fp) == EOF)
            return -1;
        if (putc(s[i], fp) == EOF)
            return -1;
    }
    return putc('"', fp) == EOF ? -1 : 0;
}

int csv_row(FILE *fp, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && putc(',', fp) == EOF)
            return -1;
        if (csv_field(fp, fields[i]) < 0)
            return -1;
    }
    return putc('\n', fp) == EOF ? -1 : 0;
}
