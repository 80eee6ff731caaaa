#include "apikey.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int apikey_generate(char *out, size_t outsz)
{
    unsigned char raw[32];
    size_t n = sizeof(APIKEY_PREFIX) - 1, bits = 0;
    unsigned acc = 0;

    if (outsz < APIKEY_SECRET_LEN + 1 || RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    memcpy(out, APIKEY_PREFIX, n);
    /* base64url without padding: 32 bytes -> 43 characters */
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[n++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[n++] = b64url[(acc << (6 - bits)) & 63];
    out[n] = '\0';
    return 0;
}

/* OpenSSL 3 looks the digest up by name on every SHA256() call: fetch it
 * once per process instead (the hash is on every request's path). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void apikey_hash(const char *key, size_t len,
                 unsigned char out[APIKEY_HASH_LEN])
{
    pthread_once(&sha256_once, fetch_sha256);
    if (sha256_md == NULL ||
        EVP_Digest(key, len, out, NULL, sha256_md, NULL) != 1)
        SHA256((const unsigned char *)key, len, out);
}

void apikey_hint(const char *key, size_t len, char *out, size_t outsz)
{
    const char *pfx = APIKEY_PREFIX;
    size_t plen = sizeof(APIKEY_PREFIX) - 1;

    /* Only keys long enough that 4 shown characters leave 28+ secret ones. */
    if (len >= plen + 32 && strncmp(key, pfx, plen) == 0)
        snprintf(out, outsz, "%s...%.4s", pfx, key + len - 4);
    else
        snprintf(out, outsz, "...");
}

void apikey_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}
