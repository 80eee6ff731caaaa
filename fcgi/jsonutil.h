/* json-c helpers shared by the worker's modules. */
#ifndef AIGW_JSONUTIL_H
#define AIGW_JSONUTIL_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

#define JSON_MAX_DEPTH 64

/* Adds v under k, consuming v even on failure. Returns 0 or -1. */
int jadd(struct json_object *o, const char *k, struct json_object *v);
/* Parses exactly one JSON value from s[0..len) (trailing whitespace only),
 * nesting at most JSON_MAX_DEPTH. NULL on any error; a short reason goes
 * into *why when why is not NULL. Caller puts the result. */
struct json_object *jparse(const char *s, size_t len, const char **why);
/* Member k of o as a string (borrowed) or NULL. */
const char *jget_str(struct json_object *o, const char *k);
/* Member k of o as an integer, or dflt when absent or not a number. */
int64_t jget_int(struct json_object *o, const char *k, int64_t dflt);
/* Cheap scan: does the text contain "name" followed by ':' and '{'? */
int json_has_object_member(const char *s, size_t len, const char *name);

#endif
