#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void sigv4_amz_date(time_t t, char out[17])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 0)
        out[0] = '\0';
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

void sigv4_canonical_uri(const char *path, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)path;

    if (p == NULL || *p == '\0') {
        buf_addc(out, '/');
        return;
    }
    for (; *p != '\0'; p++) {
        if (unreserved(*p) || *p == '/')
            buf_addc(out, (char)*p);
        else
            buf_addf(out, "%%%02X", *p);
    }
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(p, n, md);
    hex(md, sizeof(md), out);
}

static int hmac(const void *key, size_t klen, const char *data,
                unsigned char out[32])
{
    unsigned int len = 32;

    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data,
                strlen(data), out, &len) != NULL && len == 32 ? 0 : -1;
}

/* A header value as AWS canonicalizes it: trimmed, inner runs of spaces
 * and tabs collapsed to one space. */
static void add_trimmed(struct buf *b, const char *v)
{
    int space = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v != '\0'; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space)
            buf_addc(b, ' ');
        space = 0;
        buf_addc(b, *v);
    }
}

static int cmp_hdr(const void *a, const void *b)
{
    const struct sigv4_header *const *x = a, *const *y = b;

    return strcmp((*x)->name, (*y)->name);
}

/* The canonical request; signed header names go into sh. */
static void canonical_request(const struct sigv4_req *r, struct buf *creq,
                              struct buf *sh)
{
    const struct sigv4_header *h[SIGV4_MAX_HEADERS];
    char phash[65];

    for (size_t i = 0; i < r->n_hdrs; i++)
        h[i] = &r->hdrs[i];
    qsort(h, r->n_hdrs, sizeof(h[0]), cmp_hdr);
    buf_adds(creq, r->method);
    buf_addc(creq, '\n');
    sigv4_canonical_uri(r->path, creq);
    buf_addc(creq, '\n');
    buf_adds(creq, r->query ? r->query : "");
    buf_addc(creq, '\n');
    for (size_t i = 0; i < r->n_hdrs; i++) {
        buf_adds(creq, h[i]->name);
        buf_addc(creq, ':');
        add_trimmed(creq, h[i]->value);
        buf_addc(creq, '\n');
        if (i > 0)
            buf_addc(sh, ';');
        buf_adds(sh, h[i]->name);
    }
    buf_addc(creq, '\n');
    buf_add(creq, sh->ptr, sh->len);
    buf_addc(creq, '\n');
    sha256_hex(r->payload ? r->payload : "", r->payload_len, phash);
    buf_adds(creq, phash);
}

/* kSigning = HMAC chain over date, region, service, "aws4_request";
 * the signature is HMAC(kSigning, string to sign). */
static int sign(const struct sigv4_req *r, const char *date,
                const char *sts, char sig[65])
{
    struct buf k = BUF_INIT(4096);
    unsigned char k1[32], k2[32];
    int rc = -1;

    buf_adds(&k, "AWS4");
    buf_adds(&k, r->secret);
    if (buf_error(&k) == 0 &&
        hmac(k.ptr, k.len, date, k1) == 0 &&
        hmac(k1, 32, r->region, k2) == 0 &&
        hmac(k2, 32, r->service, k1) == 0 &&
        hmac(k1, 32, "aws4_request", k2) == 0 &&
        hmac(k2, 32, sts, k1) == 0) {
        hex(k1, 32, sig);
        rc = 0;
    }
    if (k.ptr != NULL)
        OPENSSL_cleanse(k.ptr, k.len);
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    buf_release(&k);
    return rc;
}

int sigv4_authorization(const struct sigv4_req *r, struct buf *out)
{
    struct buf creq = BUF_INIT((size_t)1 << 20), sh = BUF_INIT(4096);
    struct buf sts = BUF_INIT(4096);
    char date[9], chash[65], sig[65];
    int rc = -1;

    if (r->n_hdrs == 0 || r->n_hdrs > SIGV4_MAX_HEADERS ||
        r->amz_date == NULL || strlen(r->amz_date) != 16 ||
        r->secret == NULL || r->access_key_id == NULL)
        return -1;
    memcpy(date, r->amz_date, 8);
    date[8] = '\0';
    canonical_request(r, &creq, &sh);
    if (buf_error(&creq) || buf_error(&sh))
        goto out;
    sha256_hex(creq.ptr, creq.len, chash);
    buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
             r->amz_date, date, r->region, r->service, chash);
    if (buf_error(&sts) || sign(r, date, sts.ptr, sig) < 0)
        goto out;
    buf_addf(out, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
             "SignedHeaders=%s, Signature=%s", r->access_key_id, date,
             r->region, r->service, sh.ptr, sig);
    rc = buf_error(out) ? -1 : 0;
out:
    buf_release(&creq);
    buf_release(&sh);
    buf_release(&sts);
    return rc;
}
