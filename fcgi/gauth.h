/* Google service-account OAuth tokens (the JWT bearer grant, RFC 7523):
 * an RS256-signed assertion made with the account's private key is
 * exchanged at the token endpoint for an access token, which is cached
 * and shared by all threads until shortly before it expires. Neither the
 * key nor the tokens are ever logged. */
#ifndef AIGW_GAUTH_H
#define AIGW_GAUTH_H

#include <stddef.h>

struct buf;
struct gauth;

/* Settings for gauth_new(); strings are borrowed. */
struct gauth_opts {
    const char *credentials_file;  /* service-account JSON key file */
    const char *token_url;         /* NULL: the file's token_uri, else
                                      https://oauth2.googleapis.com/token */
    const char *scope;             /* NULL: cloud-platform */
    long connect_timeout_ms;
    long timeout_ms;               /* the whole token exchange */
};

/* Reads and checks the key file (a service account with client_email and
 * a usable RS256 private key). NULL with a message in err. Caller frees
 * with gauth_free(). */
struct gauth *gauth_new(const struct gauth_opts *o, char *err, size_t errsz);
void gauth_free(struct gauth *g);

/* Appends a valid access token to out, fetching a new one when there is
 * none or it expires within the safety margin; *gen identifies it for
 * gauth_invalidate(). Thread-safe. Returns 0, or -1 with a message (safe
 * to show to clients: no secrets) in err. */
int gauth_token(struct gauth *g, struct buf *out, unsigned long *gen,
                char *err, size_t errsz);
/* Forgets the cached token if it is still generation gen (the provider
 * rejected it), so that the next call fetches a new one. */
void gauth_invalidate(struct gauth *g, unsigned long gen);

/* The token endpoint's URL in use (borrowed). */
const char *gauth_token_url(const struct gauth *g);

#endif
