#include "jwks.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonutil.h"
#include "log.h"
#include "xalloc.h"

static const struct {
    const char *name;
    unsigned bit;
} jwa_names[] = {
    {"HS256", JWA_HS256}, {"HS384", JWA_HS384}, {"HS512", JWA_HS512},
    {"RS256", JWA_RS256}, {"RS384", JWA_RS384}, {"RS512", JWA_RS512},
    {"ES256", JWA_ES256}, {"ES384", JWA_ES384}, {"ES512", JWA_ES512},
};

unsigned jwa_from_name(const char *name)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(jwa_names) / sizeof(jwa_names[0]); i++)
        if (strcmp(name, jwa_names[i].name) == 0)  /* case matters */
            return jwa_names[i].bit;
    return 0;
}

long b64url_decode(const char *in, size_t len, unsigned char *out)
{
    unsigned acc = 0;
    int bits = 0;
    long n = 0;

    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i], v;

        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    return n;
}

/* A base64url member of a JWK, decoded into a new buffer (caller frees). */
static unsigned char *b64_member(json_object *k, const char *name,
                                 size_t *len)
{
    const char *s = jget_str(k, name);
    unsigned char *out;
    long n;

    if (s == NULL || *s == '\0' || strlen(s) > 4096)
        return NULL;
    out = xmalloc(strlen(s) * 3 / 4 + 3);
    n = b64url_decode(s, strlen(s), out);
    if (n <= 0) {
        free(out);
        return NULL;
    }
    *len = (size_t)n;
    return out;
}

static char *pkey_pem(EVP_PKEY *pk, size_t *len)
{
    BIO *m = BIO_new(BIO_s_mem());
    char *p = NULL, *data;
    long n;

    if (m != NULL && PEM_write_bio_PUBKEY(m, pk) == 1 &&
        (n = BIO_get_mem_data(m, &data)) > 0) {
        p = xmalloc((size_t)n + 1);
        memcpy(p, data, (size_t)n);
        p[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(m);
    return p;
}

/* Builds a public key of type (RSA, EC) from params; PEM or NULL. */
static char *fromdata_pem(const char *type, OSSL_PARAM_BLD *bld, size_t *len)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;
    char *pem = NULL;

    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1)
        pem = pkey_pem(pk, len);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pem;
}

static char *rsa_pem(json_object *k, size_t *len)
{
    size_t nl = 0, el = 0;
    unsigned char *n = b64_member(k, "n", &nl), *e = b64_member(k, "e", &el);
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    char *pem = NULL;

    while (n != NULL && nl > 0 && n[0] == 0) {   /* leading zero octets */
        memmove(n, n + 1, --nl);
    }
    if (n == NULL || e == NULL || nl < 256 || nl > 1024 || el > 8)
        goto out;                    /* RSA below 2048 bits is refused */
    bn = BN_bin2bn(n, (int)nl, NULL);
    be = BN_bin2bn(e, (int)el, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn == NULL || be == NULL || bld == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
        goto out;
    pem = fromdata_pem("RSA", bld, len);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pem;
}

static char *ec_pem(json_object *k, unsigned *algs, size_t *len)
{
    const char *crv = jget_str(k, "crv"), *group;
    size_t xl = 0, yl = 0, cl;
    unsigned char *x = b64_member(k, "x", &xl), *y = b64_member(k, "y", &yl);
    unsigned char pt[1 + 2 * 66];
    OSSL_PARAM_BLD *bld = NULL;
    char *pem = NULL;

    if (crv != NULL && strcmp(crv, "P-256") == 0) {
        group = "prime256v1", cl = 32, *algs = JWA_ES256;
    } else if (crv != NULL && strcmp(crv, "P-384") == 0) {
        group = "secp384r1", cl = 48, *algs = JWA_ES384;
    } else if (crv != NULL && strcmp(crv, "P-521") == 0) {
        group = "secp521r1", cl = 66, *algs = JWA_ES512;
    } else {
        goto out;
    }
    if (x == NULL || y == NULL || xl != cl || yl != cl)
        goto out;
    pt[0] = 4;                       /* uncompressed point */
    memcpy(pt + 1, x, cl);
    memcpy(pt + 1 + cl, y, cl);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                         1 + 2 * cl) != 1)
        goto out;
    pem = fromdata_pem("EC", bld, len);
out:
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pem;
}

/* One JWK into out; 0 kept, -1 skipped (unusable or not a signing key). */
static int jwk_load(json_object *k, struct jwk *out)
{
    const char *kty = jget_str(k, "kty"), *use = jget_str(k, "use");
    const char *alg = jget_str(k, "alg"), *kid = jget_str(k, "kid");
    unsigned family = 0, pinned;

    memset(out, 0, sizeof(*out));
    if (kty == NULL || (use != NULL && strcmp(use, "sig") != 0) ||
        (kid != NULL && strlen(kid) >= sizeof(out->kid)))
        return -1;
    if (strcmp(kty, "RSA") == 0) {
        family = JWA_RS256 | JWA_RS384 | JWA_RS512;
        out->pem = rsa_pem(k, &out->pem_len);
    } else if (strcmp(kty, "EC") == 0) {
        out->pem = ec_pem(k, &family, &out->pem_len);
    }
    if (out->pem == NULL)
        return -1;                   /* "oct" and unknown types too */
    pinned = family;
    if (alg != NULL)                 /* the key's own alg, within family */
        pinned = jwa_from_name(alg) & family;
    if (pinned == 0) {
        free(out->pem);
        out->pem = NULL;
        return -1;
    }
    out->algs = pinned;
    if (kid != NULL)
        snprintf(out->kid, sizeof(out->kid), "%s", kid);
    return 0;
}

int jwks_parse(const char *json, size_t len, struct jwk_set *out, char *err,
               size_t errsz)
{
    const char *why = NULL;
    json_object *root = jparse(json, len, &why), *keys;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        snprintf(err, errsz, "JWKS is not a JSON object%s%s",
                 why ? ": " : "", why ? why : "");
        json_object_put(root);
        return -1;
    }
    if (!json_object_object_get_ex(root, "keys", &keys)) {
        if (jwk_load(root, &out->keys[0]) == 0)
            out->n = 1;
        json_object_put(root);
        return (int)out->n;
    }
    if (!json_object_is_type(keys, json_type_array)) {
        snprintf(err, errsz, "JWKS \"keys\" must be an array");
        json_object_put(root);
        return -1;
    }
    n = json_object_array_length(keys);
    for (size_t i = 0; i < n && out->n < JWKS_MAX_KEYS; i++) {
        json_object *k = json_object_array_get_idx(keys, i);

        if (json_object_is_type(k, json_type_object) &&
            jwk_load(k, &out->keys[out->n]) == 0)
            out->n++;
    }
    json_object_put(root);
    return (int)out->n;
}

void jwks_set_release(struct jwk_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->keys[i].pem);
        s->keys[i].pem = NULL;
    }
    s->n = 0;
}

/* --- sources ----------------------------------------------------------- */

struct jwks_source {
    char *file, *url;
    long refresh_ms, min_refetch_ms, max_stale_ms, timeout_ms;
    pthread_rwlock_t lock;          /* guards set and fetched_ms */
    struct jwk_set *set;            /* NULL until loaded */
    long long fetched_ms;           /* when set was loaded */
    pthread_mutex_t fetch_lock;     /* one fetch at a time */
    long long tried_ms;             /* last fetch attempt */
};

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct buf *b = ud;

    buf_add(b, p, sz * n);
    return buf_error(b) ? 0 : sz * n;
}

/* The document at the source, into b. 0 or -1 (err). */
static int source_read(struct jwks_source *s, struct buf *b, char *err,
                       size_t errsz)
{
    if (s->file != NULL) {
        FILE *f = fopen(s->file, "r");
        char chunk[8192];
        size_t n;

        if (f == NULL) {
            snprintf(err, errsz, "%s: %s", s->file, strerror(errno));
            return -1;
        }
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            buf_add(b, chunk, n);
        fclose(f);
    } else {
        CURL *c = curl_easy_init();
        long st = 0;
        CURLcode rc;

        if (c == NULL)
            return -1;
        curl_easy_setopt(c, CURLOPT_URL, s->url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK || st != 200) {
            snprintf(err, errsz, "JWKS fetch failed: %s (HTTP %ld)",
                     rc != CURLE_OK ? curl_easy_strerror(rc) : "status", st);
            return -1;
        }
    }
    if (buf_error(b) || b->len == 0) {
        snprintf(err, errsz, "JWKS empty or larger than %d bytes",
                 JWKS_MAX_BYTES);
        return -1;
    }
    return 0;
}

/* Loads the source into a new set and swaps it in. 0 or -1 (err). */
static int source_load(struct jwks_source *s, char *err, size_t errsz)
{
    struct buf b = BUF_INIT(JWKS_MAX_BYTES);
    struct jwk_set *set = xcalloc(1, sizeof(*set)), *old;
    int n = -1;

    if (source_read(s, &b, err, errsz) == 0)
        n = jwks_parse(b.ptr, b.len, set, err, errsz);
    buf_release(&b);
    if (n <= 0) {
        if (n == 0)
            snprintf(err, errsz, "JWKS holds no usable signing key");
        jwks_set_release(set);
        free(set);
        return -1;
    }
    pthread_rwlock_wrlock(&s->lock);
    old = s->set;
    s->set = set;
    s->fetched_ms = mono_ms();
    pthread_rwlock_unlock(&s->lock);
    jwks_set_release(old);
    free(old);
    return 0;
}

struct jwks_source *jwks_source_new(const char *json, const char *file,
                                    const char *url, long refresh_ms,
                                    long min_refetch_ms, long max_stale_ms,
                                    long timeout_ms, char *err, size_t errsz)
{
    struct jwks_source *s = xcalloc(1, sizeof(*s));

    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->fetch_lock, NULL);
    s->refresh_ms = refresh_ms;
    s->min_refetch_ms = min_refetch_ms;
    s->max_stale_ms = max_stale_ms;
    s->timeout_ms = timeout_ms;
    if (json != NULL) {
        struct jwk_set *set = xcalloc(1, sizeof(*set));
        int n = jwks_parse(json, strlen(json), set, err, errsz);

        if (n <= 0) {
            if (n == 0)
                snprintf(err, errsz, "JWKS holds no usable signing key");
            free(set);
            jwks_source_free(s);
            return NULL;
        }
        s->set = set;
        s->fetched_ms = mono_ms();
        return s;
    }
    s->file = file ? xstrdup(file) : NULL;
    s->url = url ? xstrdup(url) : NULL;
    if (s->file != NULL && source_load(s, err, errsz) < 0) {
        jwks_source_free(s);
        return NULL;
    }
    return s;
}

void jwks_source_free(struct jwks_source *s)
{
    if (s == NULL)
        return;
    jwks_set_release(s->set);
    free(s->set);
    free(s->file);
    free(s->url);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->fetch_lock);
    free(s);
}

/* Refetches unless another thread is at it or the last try was less than
 * min_ms ago (so a flood of bad kids costs one fetch per interval). */
static void maybe_refetch(struct jwks_source *s, long min_ms)
{
    char err[256];
    long long now;

    if (s->file == NULL && s->url == NULL)
        return;                      /* inline: nothing to fetch */
    if (pthread_mutex_trylock(&s->fetch_lock) != 0)
        return;
    now = mono_ms();
    if (s->tried_ms == 0 || now - s->tried_ms >= min_ms) {
        s->tried_ms = now;
        if (source_load(s, err, sizeof(err)) < 0)
            log_warn(NULL, "jwks: %s", err);
    }
    pthread_mutex_unlock(&s->fetch_lock);
}

/* -1 no usable set, 0 no key matched, else fn's result */
static int visit(struct jwks_source *s, unsigned alg, const char *kid,
                 int (*fn)(const struct jwk *, void *), void *ud,
                 int *kid_seen)
{
    int rc = 0;

    pthread_rwlock_rdlock(&s->lock);
    if (s->set == NULL || (s->max_stale_ms > 0 && (s->file || s->url) &&
                           mono_ms() - s->fetched_ms > s->max_stale_ms)) {
        pthread_rwlock_unlock(&s->lock);
        return JWKS_UNAVAILABLE;
    }
    for (size_t i = 0; i < s->set->n && rc == 0; i++) {
        const struct jwk *k = &s->set->keys[i];

        if (kid != NULL && strcmp(k->kid, kid) != 0)
            continue;
        *kid_seen = 1;
        if (k->algs & alg)
            rc = fn(k, ud);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int jwks_each(struct jwks_source *s, unsigned alg, const char *kid,
              int (*fn)(const struct jwk *k, void *ud), void *ud)
{
    int seen = 0, rc;
    long long age;

    pthread_rwlock_rdlock(&s->lock);
    age = s->set ? mono_ms() - s->fetched_ms : -1;
    pthread_rwlock_unlock(&s->lock);
    if (age < 0)
        maybe_refetch(s, 1000);      /* first use, or still failing */
    else if (s->refresh_ms > 0 && age > s->refresh_ms)
        maybe_refetch(s, 1000);
    rc = visit(s, alg, kid, fn, ud, &seen);
    if (rc == 0 && kid != NULL && !seen) {
        /* an unknown kid: the issuer may have rotated its keys */
        maybe_refetch(s, s->min_refetch_ms);
        rc = visit(s, alg, kid, fn, ud, &seen);
    }
    return rc;
}
