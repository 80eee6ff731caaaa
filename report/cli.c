#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_opt(int argc, char **argv, int *i, const char *name,
            const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

int cli_is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

int cli_is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return 0;           /* also stops at a short string's NUL */
    }
    return s[36] == '\0';
}

int cli_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* n decimal digits at *p into *v; advances *p. Returns 0 or -1. */
static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (Howard Hinnant). */
static long long days_from_civil(int y, int m, int d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_date(const char **p, long long *days)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (digits(p, 4, &y) < 0 || *(*p)++ != '-' || digits(p, 2, &m) < 0 ||
        *(*p)++ != '-' || digits(p, 2, &d) < 0)
        return -1;
    if (y < 1 || m < 1 || m > 12 || d < 1 ||
        d > mdays[m - 1] + (m == 2 && leap(y)))
        return -1;
    *days = days_from_civil(y, m, d);
    return 0;
}

/* HH:MM:SS[.frac] into seconds of the day and nanoseconds. */
static int parse_clock(const char **p, long long *sec, long *nsec)
{
    int h, mi, s, nd = 0;

    if (digits(p, 2, &h) < 0 || *(*p)++ != ':' || digits(p, 2, &mi) < 0 ||
        *(*p)++ != ':' || digits(p, 2, &s) < 0)
        return -1;
    if (h > 23 || mi > 59 || s > 60)     /* 60: leap second */
        return -1;
    *sec = h * 3600LL + mi * 60 + s;
    *nsec = 0;
    if (**p == '.') {
        for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, nd++)
            if (nd < 9)
                *nsec = *nsec * 10 + (**p - '0');
        if (nd == 0 || nd > 9)
            return -1;
        for (; nd < 9; nd++)
            *nsec *= 10;
    }
    return 0;
}

/* Z, z or (+|-)HH:MM into the seconds east of UTC; must end the string. */
static int parse_offset(const char *p, long long *off)
{
    int sign, h, m;

    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *off = 0;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    sign = *p++ == '-' ? -1 : 1;
    if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &m) < 0 ||
        *p != '\0' || h > 23 || m > 59)
        return -1;
    *off = sign * (h * 3600LL + m * 60);
    return 0;
}

int cli_parse_time(const char *s, struct cli_time *t, char *out)
{
    const char *p = s;
    long long days, sec = 0, off = 0;
    long nsec = 0;
    size_t n;

    if (parse_date(&p, &days) < 0)
        return -1;
    if (*p != '\0') {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        p++;
        if (parse_clock(&p, &sec, &nsec) < 0 || parse_offset(p, &off) < 0)
            return -1;
    }
    t->sec = days * 86400 + sec - off;
    t->nsec = nsec;
    /* The literal carries its own zone, so the session's does not matter. */
    n = strlen(s);
    if (n == 10)
        snprintf(out, CLI_TIME_MAX, "%sT00:00:00Z", s);
    else if (n < CLI_TIME_MAX)
        memcpy(out, s, n + 1);
    else
        return -1;
    if (n > 10) {
        out[10] = 'T';
        if (out[n - 1] == 'z')
            out[n - 1] = 'Z';
    }
    return 0;
}

int cli_time_cmp(const struct cli_time *a, const struct cli_time *b)
{
    if (a->sec != b->sec)
        return a->sec < b->sec ? -1 : 1;
    if (a->nsec != b->nsec)
        return a->nsec < b->nsec ? -1 : 1;
    return 0;
}

const char *cli_prog = "aigw";

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s%s%s --help'.\n", cli_prog, cmd ? " " : "",
            cmd ? cmd : "");
    return CLI_USAGE;
}

int cli_help(const char *text)
{
    fputs(text, stdout);
    return fflush(stdout) == EOF ? CLI_FAIL : CLI_OK;
}
