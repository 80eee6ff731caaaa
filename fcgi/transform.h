/* Per-route transformations: headers to the provider (set with
 * {{user_id}}/{{group_id}}/{{api_key_id}}/{{route}}/{{request_id}} and
 * {{claim.PATH}} (the caller's JWT claims) templates, remove), headers to
 * the client (set, remove), body fields (defaults, overrides, removal, a
 * max_tokens cap, forcing "user") and prompt enrichment (messages
 * prepended or appended, templated the same way). */
#ifndef AIGW_TRANSFORM_H
#define AIGW_TRANSFORM_H

#include <stddef.h>

struct curl_slist;
struct json_object;
struct request;
struct transform;

/* Reads route object o's "transform" into *out (NULL when absent).
 * Returns 0 or -1 with a message in err. */
int transform_load(struct transform **out, struct json_object *o,
                   const char *where, char *err, size_t errsz);
void transform_free(struct transform *xf);
/* Applies the body and prompt rules to the unified request; returns 1
 * when it changed anything (the client's raw bytes must not be relayed),
 * else 0. xf may be NULL. */
int transform_body(const struct transform *xf, struct json_object *req,
                   const struct request *r);
/* The response_headers.set lines ("Name: v\r\n"), or NULL. */
const char *transform_response_headers(const struct transform *xf);
/* The response_headers.remove names (NULL-terminated), or NULL. */
const char *const *transform_response_drop(const struct transform *xf);
/* Applies the header rules to the upstream headers; returns the list
 * (hdrs is consumed). */
struct curl_slist *transform_headers(const struct transform *xf,
                                     struct curl_slist *hdrs,
                                     const struct request *r);

#endif
