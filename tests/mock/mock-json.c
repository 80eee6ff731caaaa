/*
 * Minimal JSON support: a validating scanner that walks the top level of a
 * request body to find "model", "stream" and
 * "stream_options":{"include_usage":...} wherever they are, and a string
 * escaper for output.  Nothing is allocated.
 */
#include <string.h>

#include "mock.h"

#define JSON_MAX_DEPTH 200

struct jp {
    const char *p;
    const char *end;
    int depth;
};

typedef int (*member_fn)(struct jp *j, const char *key, size_t klen,
                         void *ctx);

static int scan_value(struct jp *j);

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
                             *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* Checks the escape starting at s (just after the backslash). */
static int escape_len(const char *s, const char *end)
{
    if (s >= end)
        return -1;
    if (*s && strchr("\"\\/bfnrt", *s))
        return 1;
    if (*s != 'u' || end - s < 5)
        return -1;
    if (!is_hex(s[1]) || !is_hex(s[2]) || !is_hex(s[3]) || !is_hex(s[4]))
        return -1;
    return 5;
}

/* j->p is at the opening quote; yields the raw contents. */
static int scan_string(struct jp *j, const char **s, size_t *n)
{
    const char *p = j->p + 1;
    int e;

    while (p < j->end && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return -1;
        if (*p == '\\') {
            e = escape_len(p + 1, j->end);
            if (e < 0)
                return -1;
            p += e;
        }
        p++;
    }
    if (p >= j->end)
        return -1;
    *s = j->p + 1;
    *n = (size_t)(p - *s);
    j->p = p + 1;
    return 0;
}

static int scan_digits(struct jp *j)
{
    const char *start = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start ? 0 : -1;
}

static int scan_number(struct jp *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (scan_digits(j) < 0)
        return -1;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (scan_digits(j) < 0)
            return -1;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (scan_digits(j) < 0)
            return -1;
    }
    return 0;
}

static int scan_lit(struct jp *j, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return -1;
    j->p += n;
    return 0;
}

/* j->p is at '{'; calls fn for each member, which must scan the value. */
static int scan_object(struct jp *j, member_fn fn, void *ctx)
{
    const char *k;
    size_t kn;

    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (j->p >= j->end || *j->p != '"' || scan_string(j, &k, &kn) < 0)
            return -1;
        skip_ws(j);
        if (j->p >= j->end || *j->p++ != ':')
            return -1;
        skip_ws(j);
        if (fn(j, k, kn, ctx) < 0)
            return -1;
        skip_ws(j);
        if (j->p >= j->end)
            return -1;
        if (*j->p == '}') {
            j->p++;
            return 0;
        }
        if (*j->p++ != ',')
            return -1;
        skip_ws(j);
    }
}

static int skip_member(struct jp *j, const char *k, size_t kn, void *ctx)
{
    (void)k;
    (void)kn;
    (void)ctx;
    return scan_value(j);
}

static int scan_array(struct jp *j)
{
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (scan_value(j) < 0)
            return -1;
        skip_ws(j);
        if (j->p >= j->end)
            return -1;
        if (*j->p == ']') {
            j->p++;
            return 0;
        }
        if (*j->p++ != ',')
            return -1;
        skip_ws(j);
    }
}

/* Scans one value at j->p (whitespace already skipped). */
static int scan_value(struct jp *j)
{
    const char *s;
    size_t n;
    int rc;

    if (j->p >= j->end)
        return -1;
    switch (*j->p) {
    case '"':
        return scan_string(j, &s, &n);
    case '{':
    case '[':
        if (++j->depth > JSON_MAX_DEPTH)
            return -1;
        rc = *j->p == '{' ? scan_object(j, skip_member, NULL) : scan_array(j);
        j->depth--;
        return rc;
    case 't':
        return scan_lit(j, "true");
    case 'f':
        return scan_lit(j, "false");
    case 'n':
        return scan_lit(j, "null");
    default:
        return scan_number(j);
    }
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

static char unescape_char(char c)
{
    switch (c) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return c;
    }
}

/* Decodes validated raw string contents; -1 if it does not fit in cap. */
static long json_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    unsigned cp;

    while (i < n) {
        if (cap - o < 4)
            return -1;
        if (s[i] != '\\') {
            out[o++] = s[i++];
        } else if (s[i + 1] != 'u') {
            out[o++] = unescape_char(s[i + 1]);
            i += 2;
        } else {
            cp = (unsigned)(hex_val(s[i + 2]) << 12 | hex_val(s[i + 3]) << 8 |
                            hex_val(s[i + 4]) << 4 | hex_val(s[i + 5]));
            o += put_utf8(out + o, cp);
            i += 6;
        }
    }
    out[o] = '\0';
    return (long)o;
}

static int key_is(const char *k, size_t kn, const char *lit)
{
    char tmp[64];
    long n;

    if (!memchr(k, '\\', kn))
        return kn == strlen(lit) && memcmp(k, lit, kn) == 0;
    n = json_decode(k, kn, tmp, sizeof(tmp));
    return n >= 0 && strcmp(tmp, lit) == 0;
}

/* Sets *flag to whether the value is the literal true, and scans it. */
static int scan_true(struct jp *j, int *flag)
{
    *flag = j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0;
    return scan_value(j);
}

static int scan_model(struct jp *j, struct json_req *out)
{
    out->has_model = 0;
    if (j->p >= j->end || *j->p != '"')
        return scan_value(j);
    if (scan_string(j, &out->model, &out->model_len) < 0)
        return -1;
    out->has_model = 1;
    if (json_decode(out->model, out->model_len, out->model_dec,
                    sizeof(out->model_dec)) < 0)
        out->model_dec[0] = '\0';
    return 0;
}

static int opts_member(struct jp *j, const char *k, size_t kn, void *ctx)
{
    struct json_req *out = ctx;

    if (key_is(k, kn, "include_usage"))
        return scan_true(j, &out->include_usage);
    return scan_value(j);
}

static int scan_stream_opts(struct jp *j, struct json_req *out)
{
    int rc;

    out->include_usage = 0;
    if (j->p >= j->end || *j->p != '{')
        return scan_value(j);
    j->depth++;
    rc = scan_object(j, opts_member, out);
    j->depth--;
    return rc;
}

static int top_member(struct jp *j, const char *k, size_t kn, void *ctx)
{
    struct json_req *out = ctx;

    if (key_is(k, kn, "model"))
        return scan_model(j, out);
    if (key_is(k, kn, "stream"))
        return scan_true(j, &out->stream);
    if (key_is(k, kn, "stream_options"))
        return scan_stream_opts(j, out);
    return scan_value(j);
}

/* Returns 0 if p is one valid JSON object, filling out; -1 otherwise. */
int json_scan_req(const char *p, size_t n, struct json_req *out)
{
    struct jp j = { p, p + n, 1 };

    memset(out, 0, sizeof(*out));
    skip_ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return -1;
    if (scan_object(&j, top_member, out) < 0)
        return -1;
    skip_ws(&j);
    return j.p == j.end ? 0 : -1;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not valid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static void put_escape(struct buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

    switch (c) {
    case '"': buf_put(b, "\\\"", 2); break;
    case '\\': buf_put(b, "\\\\", 2); break;
    case '\n': buf_put(b, "\\n", 2); break;
    case '\r': buf_put(b, "\\r", 2); break;
    case '\t': buf_put(b, "\\t", 2); break;
    case '\b': buf_put(b, "\\b", 2); break;
    case '\f': buf_put(b, "\\f", 2); break;
    default: buf_put(b, u, sizeof(u)); break;
    }
}

/* Appends s as a quoted JSON string; invalid UTF-8 becomes U+FFFD. */
void json_put_str(struct buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run, len;

    buf_putc(b, '"');
    while (i < n) {
        run = i;
        while (run < n && u[run] >= 0x20 && u[run] < 0x80 &&
               u[run] != '"' && u[run] != '\\')
            run++;
        buf_put(b, s + i, run - i);
        i = run;
        if (i >= n)
            break;
        if (u[i] < 0x80) {
            put_escape(b, u[i++]);
        } else if ((len = utf8_len(u + i, n - i)) > 0) {
            buf_put(b, s + i, len);
            i += len;
        } else {
            buf_put(b, "\\ufffd", 6);
            i++;
        }
    }
    buf_putc(b, '"');
}
