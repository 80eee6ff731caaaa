/* API key secrets: generation, hashing and masking. Free of FastCGI and
 * shared with report/ (aigw-admin creates keys, the worker verifies them). */
#ifndef AIGW_APIKEY_H
#define AIGW_APIKEY_H

#include <stddef.h>

#define APIKEY_PREFIX "sk-aigw-"
#define APIKEY_HASH_LEN 32          /* SHA-256 */
#define APIKEY_SECRET_LEN 51        /* prefix + 43 base64url chars */
#define APIKEY_HINT_MAX 24
#define APIKEY_MAX_LEN 256          /* longer presented keys are rejected */

/* Writes a new random secret (NUL-terminated) into out, which holds at
 * least APIKEY_SECRET_LEN + 1 bytes. Returns 0, or -1 if the CSPRNG fails. */
int apikey_generate(char *out, size_t outsz);

/* SHA-256 of the presented key. */
void apikey_hash(const char *key, size_t len,
                 unsigned char out[APIKEY_HASH_LEN]);

/* Masked form for logs and listings: "sk-aigw-...abcd" (never the secret). */
void apikey_hint(const char *key, size_t len, char *out, size_t outsz);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void apikey_hex(const unsigned char *in, size_t n, char *out);

#endif
