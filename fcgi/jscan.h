/* A validating JSON scanner that locates values in the text instead of
 * building a tree: for the hot path, where a reply is read for a few
 * fields (usage, model) and otherwise relayed as it came. It stands in
 * for jparse() + json_object_* lookups, so it accepts what jparse()
 * accepts (json-c's strict mode: RFC 8259 JSON nested at most
 * JSON_MAX_DEPTH deep, and also NaN, Infinity, -Infinity, numbers such
 * as "-01" or "1.", raw control characters in strings and loosely checked
 * UTF-8) and reads values as json-c does (duplicate keys: the last wins;
 * keys and strings end at an escaped NUL; lone surrogates become U+FFFD;
 * integers saturate). tests/unit/test_jscan.c holds it to json-c. */
#ifndef AIGW_JSCAN_H
#define AIGW_JSCAN_H

#include <stddef.h>
#include <stdint.h>

enum jscan_type {
    JS_NULL, JS_BOOL, JS_DOUBLE, JS_INT, JS_OBJECT, JS_ARRAY, JS_STRING
};

/* One value inside a validated text; borrowed from it. */
struct jspan {
    const char *p;      /* its first byte */
    size_t len;
    enum jscan_type type;
};

/* Checks that s[0..len) is one JSON value with only whitespace around it.
 * 0 and *root, or -1. */
int jscan(const char *s, size_t len, struct jspan *root);
/* The value of o's last member named key (o an object from the same
 * text). 1 found, 0 not (or o is not an object). */
int jspan_member(const struct jspan *o, const char *key, struct jspan *v);
#define JSPAN_MAX_KEYS 8
/* The same for n (<= JSPAN_MAX_KEYS) keys in one pass: v[i] for keys[i];
 * returns a mask with bit i set when keys[i] was found. */
unsigned jspan_members(const struct jspan *o, const char *const *keys,
                       int n, struct jspan *v);
/* The value as json_object_get_int64() gives it: integers saturate at
 * the int64 limits, doubles are truncated, true is 1, strings are read
 * with strtoll, anything else is 0. */
int64_t jspan_int64(const struct jspan *v);
/* A string value decoded into dst (NUL-terminated, cut to cap - 1 bytes
 * and at the first NUL). Returns the length, or -1 if v is no string. */
long jspan_string(const struct jspan *v, char *dst, size_t cap);
/* The decoded length of a string value (what json_object_get_string_len()
 * gives) and, in *cut, the length up to its first NUL (strlen()). */
size_t jspan_strlen(const struct jspan *v, size_t *cut);
/* Array iteration: *it starts NULL; 1 and the next element, or 0 at the
 * end (or when arr is no array). */
int jspan_next(const struct jspan *arr, const char **it, struct jspan *el);
/* For an array: 1 when it has no elements. */
int jspan_array_empty(const struct jspan *v);

#endif
