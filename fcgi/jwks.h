/* JSON Web Key sets for JWT verification: parsed once into public keys in
 * PEM form (what libjwt 1.x takes), each with the algorithms it may verify
 * pinned from its own "alg" or the family its "kty"/"crv" implies. Only
 * RSA (>= 2048 bits) and EC (P-256/384/521) signature keys are taken from
 * a JWKS; symmetric keys never are (HS* needs an explicit secret).
 *
 * A source (inline JSON, a file or an https URL) is cached per process;
 * it is refreshed every refresh_ms and refetched at most every
 * min_refetch_ms when a token names an unknown kid. When refreshing fails
 * the keys in hand keep working until max_stale_ms, then none do. */
#ifndef AIGW_JWKS_H
#define AIGW_JWKS_H

#include <stddef.h>

#define JWKS_MAX_KEYS 64
#define JWKS_MAX_BYTES (1 << 20)

/* Algorithm bits: which JWS algorithms a key may verify. */
enum {
    JWA_HS256 = 1 << 0, JWA_HS384 = 1 << 1, JWA_HS512 = 1 << 2,
    JWA_RS256 = 1 << 3, JWA_RS384 = 1 << 4, JWA_RS512 = 1 << 5,
    JWA_ES256 = 1 << 6, JWA_ES384 = 1 << 7, JWA_ES512 = 1 << 8,
};
#define JWA_HS_ALL (JWA_HS256 | JWA_HS384 | JWA_HS512)

/* The bit of a JWS "alg" name, 0 when unknown (and for "none"). */
unsigned jwa_from_name(const char *name);

struct jwk {
    char kid[128];          /* "" when the key has none */
    unsigned algs;          /* pinned algorithm bits */
    char *pem;              /* public key (or the HS secret); owned */
    size_t pem_len;
};

struct jwk_set {
    struct jwk keys[JWKS_MAX_KEYS];
    size_t n;
};

/* Parses a JWKS document ({"keys":[...]}) or one JWK. Unusable keys are
 * skipped; returns the number kept, or -1 with a reason in err. */
int jwks_parse(const char *json, size_t len, struct jwk_set *out, char *err,
               size_t errsz);
void jwks_set_release(struct jwk_set *s);

struct jwks_source;

/* One of json, file or url is non-NULL. Inline and file sources are read
 * here (failure: NULL, err); a URL is fetched on first use. */
struct jwks_source *jwks_source_new(const char *json, const char *file,
                                    const char *url, long refresh_ms,
                                    long min_refetch_ms, long max_stale_ms,
                                    long timeout_ms, char *err, size_t errsz);
void jwks_source_free(struct jwks_source *s);

/* Visits the keys usable for alg (bit) and kid (NULL: any kid) until fn
 * returns non-zero, which is returned. Returns 0 when no key matched and
 * -1 (JWKS_UNAVAILABLE) when the source has no usable key set at all.
 * An unknown kid triggers one rate-limited refetch. Thread-safe. */
#define JWKS_UNAVAILABLE (-1)
int jwks_each(struct jwks_source *s, unsigned alg, const char *kid,
              int (*fn)(const struct jwk *k, void *ud), void *ud);

/* Strict base64url (no padding, no other characters; '=' padding is
 * accepted at the end). Returns the decoded length or -1. out holds at
 * least len * 3 / 4 + 3 bytes. */
long b64url_decode(const char *in, size_t len, unsigned char *out);

#endif
