#include "jscan.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "xalloc.h"

typedef const unsigned char *ptr;

static ptr skip_ws(ptr p, ptr end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int hexval(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    return -1;
}

/* Length of the UTF-8 sequence at p (p[0] >= 0x80), or 0. As json-c's
 * check: a lead byte and its continuation bytes; overlong forms,
 * surrogates and code points past U+10FFFF pass. */
static size_t utf8_len(ptr p, ptr end)
{
    unsigned c = p[0];
    size_t n;

    if ((c & 0xe0) == 0xc0)
        n = 2;
    else if ((c & 0xf0) == 0xe0)
        n = 3;
    else if ((c & 0xf8) == 0xf0)
        n = 4;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Bytes a string scan must look at: the quote, the backslash, NUL and
 * non-ASCII (checked as UTF-8). */
static int special(unsigned c)
{
    return c - 1 >= 0x7f || c == '"' || c == '\\';
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* Eight bytes at a time: does any of them equal c? (A zero byte of v is
 * found exactly; a borrow can only flag bytes after a true one.) */
static uint64_t has_byte(uint64_t v, unsigned char c)
{
    v ^= ONES * c;
    return (v - ONES) & ~v & HIGH;
}

/* The 8 bytes at p hold none of the bytes special() looks at. */
static int plain8(ptr p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return ((v & HIGH) | has_byte(v, 0) | has_byte(v, '"') |
            has_byte(v, '\\')) == 0;
}

/* The 8 bytes at p hold no quote and no backslash. */
static int unquoted8(ptr p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return (has_byte(v, '"') | has_byte(v, '\\')) == 0;
}

/* p at the opening quote; returns the byte after the closing one. */
static ptr scan_string(ptr p, ptr end)
{
    for (p++; p < end;) {
        unsigned c;

        while (end - p >= 8 && plain8(p))
            p += 8;
        while (p < end && !special(*p))
            p++;
        if (p >= end)
            break;
        c = *p;

        if (c == '"')
            return p + 1;
        if (c == '\\') {
            if (++p >= end)
                return NULL;
            switch (*p) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p++;
                break;
            case 'u':
                if (end - p < 5 || hexval(p[1]) < 0 || hexval(p[2]) < 0 ||
                    hexval(p[3]) < 0 || hexval(p[4]) < 0)
                    return NULL;
                p += 5;
                break;
            default:
                return NULL;
            }
        } else if (c == 0) {
            return NULL;            /* raw control characters pass */
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n = utf8_len(p, end);

            if (n == 0)
                return NULL;
            p += n;
        }
    }
    return NULL;
}

/* A number as json-c reads one: the characters its tokener takes, then
 * the whole token must convert (so "-01", "1." and "-.5" pass, "01" and
 * "1e" do not). */
static ptr scan_number(ptr p, ptr end, enum jscan_type *type)
{
    ptr s = p;
    int dbl = 0, exp = 0, neg_ok = 1, pos_ok = 0, ok;
    char small[64], *tmp = small, *e;
    size_t len;

    if (*p != '-' && !(*p >= '0' && *p <= '9'))
        return NULL;
    if ((size_t)(end - p) >= 9 && memcmp(p, "-Infinity", 9) == 0) {
        *type = JS_DOUBLE;
        return p + 9;
    }
    for (; p < end; p++) {
        unsigned c = *p;
        int sign = (neg_ok && c == '-') || (pos_ok && c == '+');

        if (!(c >= '0' && c <= '9') && !sign &&
            !(!exp && (c == 'e' || c == 'E')) && !(!dbl && c == '.'))
            break;
        neg_ok = pos_ok = 0;
        if (c == '.' || c == 'e' || c == 'E') {
            exp |= c != '.';
            dbl = 1;
            neg_ok = pos_ok = 1;
        }
    }
    len = (size_t)(p - s);
    *type = dbl ? JS_DOUBLE : JS_INT;
    if (len == 0)
        return NULL;
    if (!dbl) {
        /* -?[0-9]*: "-" alone fails, and so does a leading zero before a
         * value other than zero (unless negative) */
        if (*s == '-')
            return len > 1 ? p : NULL;
        if (*s == '0')
            for (size_t i = 1; i < len; i++)
                if (s[i] != '0')
                    return NULL;
        return p;
    }
    if (len >= sizeof(small))
        tmp = xmalloc(len + 1);
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    strtod(tmp, &e);
    ok = e == tmp + len;
    if (tmp != small)
        free(tmp);
    return ok ? p : NULL;
}

static ptr scan_literal(ptr p, ptr end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

static ptr scan_value(ptr p, ptr end, int depth, enum jscan_type *type);

static ptr scan_object(ptr p, ptr end, int depth)
{
    enum jscan_type t;

    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= end || *p != '"' || (p = scan_string(p, end)) == NULL)
            return NULL;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        if ((p = scan_value(p, end, depth, &t)) == NULL)
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == '}')
            return p + 1;
        if (p >= end || *p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

static ptr scan_array(ptr p, ptr end, int depth)
{
    enum jscan_type t;

    p = skip_ws(p + 1, end);
    if (p < end && *p == ']')
        return p + 1;
    for (;;) {
        if ((p = scan_value(p, end, depth, &t)) == NULL)
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == ']')
            return p + 1;
        if (p >= end || *p != ',')
            return NULL;
        p = skip_ws(p + 1, end);
    }
}

/* depth: the containers around the value; json-c counts a scalar inside
 * the innermost container as one more level */
static ptr scan_value(ptr p, ptr end, int depth, enum jscan_type *type)
{
    if (p >= end || depth >= JSON_MAX_DEPTH)
        return NULL;
    switch (*p) {
    case '{':
        *type = JS_OBJECT;
        return scan_object(p, end, depth + 1);
    case '[':
        *type = JS_ARRAY;
        return scan_array(p, end, depth + 1);
    case '"':
        *type = JS_STRING;
        return scan_string(p, end);
    case 't':
        *type = JS_BOOL;
        return scan_literal(p, end, "true", 4);
    case 'f':
        *type = JS_BOOL;
        return scan_literal(p, end, "false", 5);
    case 'n':
        *type = JS_NULL;
        return scan_literal(p, end, "null", 4);
    case 'N':                           /* json-c takes these two */
        *type = JS_DOUBLE;
        return scan_literal(p, end, "NaN", 3);
    case 'I':
        *type = JS_DOUBLE;
        return scan_literal(p, end, "Infinity", 8);
    default:
        return scan_number(p, end, type);
    }
}

int jscan(const char *s, size_t len, struct jspan *root)
{
    ptr end = (ptr)s + len, p = skip_ws((ptr)s, end), q;

    q = scan_value(p, end, 0, &root->type);
    if (q == NULL || skip_ws(q, end) != end)
        return -1;
    root->p = (const char *)p;
    root->len = (size_t)(q - p);
    return 0;
}

/* --- reading a validated text ------------------------------------------ */

/* The end of the string whose opening quote is at p. */
static ptr skip_string(ptr p, ptr end)
{
    for (p++;; p++) {
        while (end - p >= 8 && unquoted8(p))
            p += 8;
        while (*p != '"' && *p != '\\')
            p++;
        if (*p == '"')
            return p + 1;
        p++;                            /* the escaped byte */
    }
}

/* The end of the value at p. */
static ptr skip_value(ptr p, ptr end)
{
    int nest = 0;

    if (*p == '"')
        return skip_string(p, end);
    if (*p != '{' && *p != '[') {               /* a literal or a number */
        while (p < end && *p != ',' && *p != '}' && *p != ']' &&
               *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        return p;
    }
    for (;;) {
        unsigned c = *p;

        if (c == '"') {
            p = skip_string(p, end);
        } else {
            if (c == '{' || c == '[')
                nest++;
            else if (--nest == 0)               /* '}' or ']' */
                return p + 1;
            p++;
        }
        /* between brackets only these bytes matter */
        while (*p != '"' && *p != '{' && *p != '}' && *p != '[' && *p != ']')
            p++;
    }
}

static enum jscan_type type_at(ptr p, size_t len)
{
    switch (*p) {
    case '{': return JS_OBJECT;
    case '[': return JS_ARRAY;
    case '"': return JS_STRING;
    case 't': case 'f': return JS_BOOL;
    case 'n': return JS_NULL;
    default:
        for (size_t i = 0; i < len; i++)
            if (p[i] == '.' || p[i] == 'e' || p[i] == 'E' || p[i] == 'N' ||
                p[i] == 'I')
                return JS_DOUBLE;
        return JS_INT;
    }
}

static void put_utf8(char *dst, size_t cap, size_t *n, unsigned cp)
{
    unsigned char u[4];
    size_t k;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    for (size_t i = 0; i < k && *n + 1 < cap; i++)
        dst[(*n)++] = (char)u[i];
}

static unsigned hex4(ptr p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 |
                      hexval(p[2]) << 4 | hexval(p[3]));
}

#define REPLACEMENT 0xfffd

/* Decodes the string at p (validated) as json-c does: a high surrogate
 * pairs with a following \u low surrogate, otherwise it and any lone low
 * surrogate become U+FFFD. Output stops at an escaped NUL or at cap - 1
 * bytes; returns the decoded length. */
static size_t decode(ptr p, char *dst, size_t cap)
{
    size_t n = 0;
    unsigned high = 0;

    for (p++; *p != '"' && n + 1 < cap;) {
        unsigned cp;

        if (*p != '\\' || p[1] != 'u') {
            if (high) {
                put_utf8(dst, cap, &n, REPLACEMENT);
                high = 0;
                continue;
            }
            if (*p != '\\') {
                dst[n++] = (char)*p++;
                continue;
            }
            switch (p[1]) {
            case 'b': dst[n++] = '\b'; break;
            case 'f': dst[n++] = '\f'; break;
            case 'n': dst[n++] = '\n'; break;
            case 'r': dst[n++] = '\r'; break;
            case 't': dst[n++] = '\t'; break;
            default: dst[n++] = (char)p[1]; break;   /* " \ / */
            }
            p += 2;
            continue;
        }
        cp = hex4(p + 2);
        p += 6;
        if (high) {
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                cp = 0x10000 + ((high - 0xd800) << 10) + (cp - 0xdc00);
                high = 0;
                put_utf8(dst, cap, &n, cp);
                continue;
            }
            put_utf8(dst, cap, &n, REPLACEMENT);
            high = 0;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            high = cp;
            continue;
        }
        if (cp == 0)
            break;                     /* C strings end here */
        put_utf8(dst, cap, &n, cp >= 0xdc00 && cp <= 0xdfff ? REPLACEMENT
                                                             : cp);
    }
    if (high && n + 1 < cap)
        put_utf8(dst, cap, &n, REPLACEMENT);
    dst[n] = '\0';
    return strlen(dst);
}

/* Is the key (a string at k, up to ke; esc: it has escapes) equal to key
 * once decoded? */
static int key_is(ptr k, ptr ke, int esc, const char *key, size_t klen)
{
    char tmp[128];

    if (!esc)
        return (size_t)(ke - k) == klen + 2 && memcmp(k + 1, key, klen) == 0;
    if (klen + 2 > sizeof(tmp))
        return 0;
    return decode(k, tmp, klen + 2) == klen && memcmp(tmp, key, klen) == 0;
}

unsigned jspan_members(const struct jspan *o, const char *const *keys,
                       int n, struct jspan *v)
{
    ptr p = (ptr)o->p, end = p + o->len, k, ke, ve;
    size_t klen[JSPAN_MAX_KEYS];
    unsigned found = 0;
    int esc;

    if (o->type != JS_OBJECT || n > JSPAN_MAX_KEYS)
        return 0;
    for (int i = 0; i < n; i++)
        klen[i] = strlen(keys[i]);
    for (p = skip_ws(p + 1, end); *p != '}'; p = skip_ws(p + 1, end)) {
        k = p;
        ke = skip_string(k, end);
        p = skip_ws(skip_ws(ke, end) + 1, end);        /* past ':' */
        ve = skip_value(p, end);
        esc = memchr(k, '\\', (size_t)(ke - k)) != NULL;
        for (int i = 0; i < n; i++)
            if (key_is(k, ke, esc, keys[i], klen[i])) {
                v[i].p = (const char *)p;
                v[i].len = (size_t)(ve - p);
                v[i].type = type_at(p, v[i].len);
                found |= 1u << i;
            }
        p = skip_ws(ve, end);
        if (*p == '}')
            break;
    }
    return found;
}

int jspan_member(const struct jspan *o, const char *key, struct jspan *v)
{
    return jspan_members(o, &key, 1, v) != 0;
}

static int64_t parse_int(ptr p, size_t len)
{
    int neg = len > 0 && *p == '-';
    uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    for (size_t i = neg; i < len; i++) {
        unsigned d = (unsigned)(p[i] - '0');

        if (u > (lim - d) / 10)
            return neg ? INT64_MIN : INT64_MAX;
        u = u * 10 + d;
    }
    return neg ? (int64_t)(0 - u) : (int64_t)u;
}

int64_t jspan_int64(const struct jspan *v)
{
    char tmp[512], *end;
    double d;

    switch (v->type) {
    case JS_INT:
        return parse_int((ptr)v->p, v->len);
    case JS_BOOL:
        return *v->p == 't';
    case JS_DOUBLE: {
        char *t = v->len < sizeof(tmp) ? tmp : xmalloc(v->len + 1);

        memcpy(t, v->p, v->len);
        t[v->len] = '\0';
        d = strtod(t, NULL);
        if (t != tmp)
            free(t);
        if (d >= (double)INT64_MAX)
            return INT64_MAX;
        if (d <= (double)INT64_MIN)
            return INT64_MIN;
        return (int64_t)d;
    }
    case JS_STRING: {
        long long n;

        jspan_string(v, tmp, sizeof(tmp));
        errno = 0;
        n = strtoll(tmp, &end, 10);
        return end == tmp || (n == 0 && errno != 0) ? 0 : n;
    }
    default:
        return 0;
    }
}

long jspan_string(const struct jspan *v, char *dst, size_t cap)
{
    if (v->type != JS_STRING || cap == 0)
        return -1;
    return (long)decode((ptr)v->p, dst, cap);
}

int jspan_next(const struct jspan *arr, const char **it, struct jspan *el)
{
    ptr end = (ptr)arr->p + arr->len, p, ve;

    if (arr->type != JS_ARRAY)
        return 0;
    p = *it == NULL ? skip_ws((ptr)arr->p + 1, end) : (ptr)*it;
    if (*p == ']')
        return 0;
    ve = skip_value(p, end);
    el->p = (const char *)p;
    el->len = (size_t)(ve - p);
    el->type = type_at(p, el->len);
    p = skip_ws(ve, end);
    if (*p == ',')
        p = skip_ws(p + 1, end);
    *it = (const char *)p;
    return 1;
}

static size_t utf8_size(unsigned cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

size_t jspan_strlen(const struct jspan *v, size_t *cut)
{
    ptr p = (ptr)v->p + 1;
    size_t n = 0;
    unsigned high = 0;

    *cut = (size_t)-1;
    while (*p != '"') {
        unsigned cp;

        if (*p != '\\' || p[1] != 'u') {
            if (high) {
                n += 3;                 /* U+FFFD */
                high = 0;
                continue;
            }
            p += *p == '\\' ? 2 : 1;
            n++;
            continue;
        }
        cp = hex4(p + 2);
        p += 6;
        if (high) {
            high = 0;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                n += 4;
                continue;
            }
            n += 3;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            high = cp;
            continue;
        }
        if (cp == 0 && *cut == (size_t)-1)
            *cut = n;
        n += cp >= 0xdc00 && cp <= 0xdfff ? 3 : utf8_size(cp);
    }
    if (high)
        n += 3;
    if (*cut == (size_t)-1)
        *cut = n;
    return n;
}

int jspan_array_empty(const struct jspan *v)
{
    ptr p = (ptr)v->p;

    return v->type == JS_ARRAY && *skip_ws(p + 1, p + v->len) == ']';
}
