/* JWT verification (libjwt 1.x) and identity from claims.
 *
 * libjwt 1.x verifies with the algorithm named in the token's own header,
 * so the algorithm is checked here first: it must be in the configured
 * allowlist and among the algorithms pinned on the key (from the JWK's
 * "alg", or the family its kty/crv implies). "none" is never accepted, an
 * RSA or EC key never verifies an HS* token, and HS* needs an explicitly
 * configured secret. "kid" is only a lookup key; "jku", "x5u", "x5c" and
 * "jwk" headers are ignored. exp (required unless configured otherwise),
 * nbf and iat are checked with a leeway; iss and aud (a string or an
 * array) when configured. */
#ifndef AIGW_AUTH_JWT_H
#define AIGW_AUTH_JWT_H

#include <stddef.h>

struct identity;
struct json_object;
struct jwt_settings;

/* Parses the "jwt" settings object. NULL with a reason in err. */
struct jwt_settings *jwt_settings_load(struct json_object *o, char *err,
                                       size_t errsz);
void jwt_settings_free(struct jwt_settings *js);

/* Does the credential look like a JWT (three base64url segments)? */
int auth_jwt_looks_like(const char *tok, size_t len);

/* Verifies tok and fills id from its claims (id->claims is set and owned
 * by id). Returns AUTH_OK, AUTH_BAD_TOKEN or AUTH_UNAVAILABLE (no keys).
 * *why gets a static reason for the debug log (never token content). */
int auth_jwt_check(const struct jwt_settings *js, const char *tok,
                   size_t len, long long now_s, struct identity *id,
                   const char **why);

/* A claim by path: "sub", "realm_access.roles" (a key containing dots is
 * tried whole first). Borrowed, or NULL. */
struct json_object *jwt_claim(struct json_object *claims, const char *path);

/* Whether claims grant the configured admin role. */
int jwt_is_admin(const struct jwt_settings *js, struct json_object *claims);

#endif
