#include "gauth.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <jwt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "jsonutil.h"
#include "xalloc.h"

#define GAUTH_TOKEN_URL "https://oauth2.googleapis.com/token"
#define GAUTH_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define GAUTH_GRANT "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
#define KEY_FILE_MAX ((size_t)64 << 10)
#define REPLY_MAX ((size_t)64 << 10)
#define MARGIN_S 300          /* refresh this long before expiry */
#define BACKOFF_MS 1000       /* after a failed fetch, fail fast this long */

typedef int (*gauth_post_fn)(struct gauth *g, const char *form, size_t len,
                             struct buf *resp, long *status, char *err,
                             size_t errsz);

struct gauth {
    char *email;
    char *key_id;              /* NULL when the file has none */
    char *pem;                 /* the private key; wiped on free */
    char *token_url;
    char *scope;
    long connect_timeout_ms;
    long timeout_ms;

    pthread_mutex_t mu;        /* guards everything below */
    char *token;               /* cached access token, or NULL */
    long long refresh_at;      /* monotonic ms: fetch a new one from here */
    long long expires_at;      /* monotonic ms: unusable from here */
    unsigned long gen;
    long long fail_until;      /* monotonic ms */
    char fail_msg[256];

    /* replaceable in tests */
    long long (*now_ms)(void);
    gauth_post_fn post;
};

static void wipe_free(char *s)
{
    if (s != NULL) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the token endpoint over HTTP -------------------------------------- */

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;

    buf_add(b, p, size * n);
    return buf_error(b) ? 0 : size * n;
}

static int curl_post(struct gauth *g, const char *form, size_t len,
                     struct buf *resp, long *status, char *err, size_t errsz)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = NULL;
    CURLcode rc;

    if (h == NULL) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    hd = curl_slist_append(hd, "Content-Type: "
                               "application/x-www-form-urlencoded");
    hd = curl_slist_append(hd, "Accept: application/json");
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, g->token_url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, g->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, g->timeout_ms);
    rc = curl_easy_perform(h);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hd);
    if (rc != CURLE_OK) {
        snprintf(err, errsz, "the token endpoint could not be reached (%s)",
                 curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* --- the assertion ----------------------------------------------------- */

/* The signed JWT: iss, scope, aud, iat, exp = iat + 1 h; kid in the
 * header. Caller wipes and frees. */
static char *make_assertion(struct gauth *g, char *err, size_t errsz)
{
    jwt_t *j = NULL;
    char *s = NULL;
    long now = (long)time(NULL);

    if (jwt_new(&j) != 0) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (jwt_add_grant(j, "iss", g->email) != 0 ||
        jwt_add_grant(j, "scope", g->scope) != 0 ||
        jwt_add_grant(j, "aud", g->token_url) != 0 ||
        jwt_add_grant_int(j, "iat", now) != 0 ||
        jwt_add_grant_int(j, "exp", now + 3600) != 0 ||
        (g->key_id != NULL && jwt_add_header(j, "kid", g->key_id) != 0) ||
        jwt_set_alg(j, JWT_ALG_RS256, (const unsigned char *)g->pem,
                    (int)strlen(g->pem)) != 0 ||
        (s = jwt_encode_str(j)) == NULL)
        snprintf(err, errsz, "the service account's private_key cannot "
                 "sign an RS256 assertion");
    jwt_free(j);                /* scrubs its copy of the key */
    return s;
}

/* --- fetching and caching ---------------------------------------------- */

/* Refresh MARGIN_S before expiry (or at half-life for short tokens). */
static void set_lifetime(struct gauth *g, long long now, long long exp_s)
{
    if (exp_s <= 0)
        exp_s = 3600;
    g->expires_at = now + exp_s * 1000 - (exp_s > 20 ? 10000 : 0);
    g->refresh_at = exp_s > 2 * MARGIN_S ? now + (exp_s - MARGIN_S) * 1000
                                         : now + exp_s * 500;
}

/* The token endpoint's refusal, e.g. HTTP 400 (invalid_grant: Invalid
 * JWT Signature.). Google's error texts carry no secrets. */
static void describe_refusal(long status, const struct buf *resp, char *err,
                             size_t errsz)
{
    json_object *o = jparse(resp->ptr ? resp->ptr : "", resp->len, NULL);
    const char *e = jget_str(o, "error"), *d = jget_str(o,
                                                        "error_description");

    if (e != NULL)
        snprintf(err, errsz, "the token endpoint answered HTTP %ld "
                 "(%.64s%s%.120s)", status, e, d ? ": " : "", d ? d : "");
    else
        snprintf(err, errsz, "the token endpoint answered HTTP %ld", status);
    json_object_put(o);
}

static int take_reply(struct gauth *g, long long now, const struct buf *resp,
                      char *err, size_t errsz)
{
    json_object *o = jparse(resp->ptr ? resp->ptr : "", resp->len, NULL);
    const char *tok = jget_str(o, "access_token");
    int rc = -1;

    if (tok == NULL || *tok == '\0' || strpbrk(tok, "\r\n") != NULL) {
        snprintf(err, errsz, "the token endpoint's reply has no usable "
                 "access_token");
    } else {
        wipe_free(g->token);
        g->token = xstrdup(tok);
        g->gen++;
        set_lifetime(g, now, jget_int(o, "expires_in", 3600));
        memset((char *)tok, 0, strlen(tok));
        rc = 0;
    }
    json_object_put(o);
    return rc;
}

static int fetch(struct gauth *g, long long now, char *err, size_t errsz)
{
    struct buf form = BUF_INIT(65536), resp = BUF_INIT(REPLY_MAX);
    char *assertion = make_assertion(g, err, errsz);
    long status = 0;
    int rc = -1;

    if (assertion == NULL)
        return -1;
    buf_adds(&form, "grant_type=" GAUTH_GRANT "&assertion=");
    buf_adds(&form, assertion);   /* base64url and dots: no escaping */
    wipe_free(assertion);
    if (buf_error(&form)) {
        snprintf(err, errsz, "the assertion is too large");
        goto out;
    }
    if (g->post(g, form.ptr, form.len, &resp, &status, err, errsz) < 0)
        goto out;
    if (status != 200)
        describe_refusal(status, &resp, err, errsz);
    else
        rc = take_reply(g, now, &resp, err, errsz);
out:
    if (form.ptr != NULL)
        memset(form.ptr, 0, form.len);
    if (resp.ptr != NULL)
        memset(resp.ptr, 0, resp.len);
    buf_release(&form);
    buf_release(&resp);
    return rc;
}

/* Under g->mu: makes sure g->token is usable now. */
static int ensure_token(struct gauth *g, char *err, size_t errsz)
{
    long long now = g->now_ms();

    if (g->token != NULL && now < g->refresh_at)
        return 0;
    if (now < g->fail_until) {
        snprintf(err, errsz, "%s", g->fail_msg);
    } else if (fetch(g, now, err, errsz) == 0) {
        g->fail_until = 0;
        return 0;
    } else {
        g->fail_until = now + BACKOFF_MS;
        snprintf(g->fail_msg, sizeof(g->fail_msg), "%s", err);
    }
    /* the refresh failed: the old token may still be good for a while */
    return g->token != NULL && now < g->expires_at ? 0 : -1;
}

int gauth_token(struct gauth *g, struct buf *out, unsigned long *gen,
                char *err, size_t errsz)
{
    int rc;

    pthread_mutex_lock(&g->mu);
    rc = ensure_token(g, err, errsz);
    if (rc == 0) {
        buf_adds(out, g->token);
        *gen = g->gen;
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void gauth_invalidate(struct gauth *g, unsigned long gen)
{
    pthread_mutex_lock(&g->mu);
    if (g->token != NULL && g->gen == gen) {
        wipe_free(g->token);
        g->token = NULL;
        g->fail_until = 0;
    }
    pthread_mutex_unlock(&g->mu);
}

const char *gauth_token_url(const struct gauth *g)
{
    return g->token_url;
}

/* --- the key file ------------------------------------------------------ */

/* The whole file (caller wipes and frees), at most KEY_FILE_MAX bytes. */
static char *read_file(const char *path, size_t *len, char *err,
                       size_t errsz)
{
    FILE *f = fopen(path, "r");
    char *s;

    if (f == NULL) {
        snprintf(err, errsz, "credentials_file %s: %s", path,
                 strerror(errno));
        return NULL;
    }
    s = xmalloc(KEY_FILE_MAX + 1);
    *len = fread(s, 1, KEY_FILE_MAX + 1, f);
    fclose(f);
    if (*len > KEY_FILE_MAX) {
        snprintf(err, errsz, "credentials_file %s: larger than %zu bytes",
                 path, KEY_FILE_MAX);
        free(s);
        return NULL;
    }
    s[*len] = '\0';
    return s;
}

static char *dup_opt(json_object *o, const char *k)
{
    const char *v = jget_str(o, k);

    return v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

static int take_fields(struct gauth *g, json_object *o, const char *path,
                       const struct gauth_opts *opts, char *err, size_t errsz)
{
    const char *type = jget_str(o, "type"), *pk = jget_str(o, "private_key");

    if (type == NULL || strcmp(type, "service_account") != 0) {
        snprintf(err, errsz, "credentials_file %s: not a service-account "
                 "key (\"type\" must be \"service_account\")", path);
        return -1;
    }
    g->email = dup_opt(o, "client_email");
    if (g->email == NULL || pk == NULL || *pk == '\0') {
        snprintf(err, errsz, "credentials_file %s: client_email and "
                 "private_key are required", path);
        return -1;
    }
    g->pem = xstrdup(pk);
    memset((char *)pk, 0, strlen(pk));   /* json-c's copy */
    g->key_id = dup_opt(o, "private_key_id");
    g->token_url = opts->token_url != NULL && *opts->token_url != '\0'
                   ? xstrdup(opts->token_url) : dup_opt(o, "token_uri");
    if (g->token_url == NULL)
        g->token_url = xstrdup(GAUTH_TOKEN_URL);
    if (strncmp(g->token_url, "https://", 8) != 0 &&
        strncmp(g->token_url, "http://", 7) != 0) {
        snprintf(err, errsz, "token_url must start with http:// or "
                 "https://");
        return -1;
    }
    return 0;
}

static int load_key(struct gauth *g, const struct gauth_opts *opts,
                    char *err, size_t errsz)
{
    const char *path = opts->credentials_file, *why = NULL;
    size_t len = 0;
    char *text = read_file(path, &len, err, errsz), *a;
    json_object *o;
    int rc = -1;

    if (text == NULL)
        return -1;
    o = jparse(text, len, &why);
    memset(text, 0, len);
    free(text);
    if (o == NULL || !json_object_is_type(o, json_type_object))
        snprintf(err, errsz, "credentials_file %s: not a JSON object (%s)",
                 path, why ? why : "wrong type");
    else if (take_fields(g, o, path, opts, err, errsz) == 0)
        rc = 0;
    json_object_put(o);
    if (rc == 0) {
        /* sign once now, so a bad key stops the start, not a request */
        if ((a = make_assertion(g, err, errsz)) == NULL)
            rc = -1;
        wipe_free(a);
    }
    return rc;
}

struct gauth *gauth_new(const struct gauth_opts *o, char *err, size_t errsz)
{
    struct gauth *g;

    if (o->credentials_file == NULL || *o->credentials_file == '\0') {
        snprintf(err, errsz, "credentials_file is required");
        return NULL;
    }
    g = xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    g->scope = xstrdup(o->scope != NULL && *o->scope != '\0' ? o->scope
                                                             : GAUTH_SCOPE);
    g->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                      : 5000;
    g->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    g->now_ms = mono_ms;
    g->post = curl_post;
    if (load_key(g, o, err, errsz) < 0) {
        gauth_free(g);
        return NULL;
    }
    return g;
}

void gauth_free(struct gauth *g)
{
    if (g == NULL)
        return;
    wipe_free(g->pem);
    wipe_free(g->token);
    free(g->email);
    free(g->key_id);
    free(g->token_url);
    free(g->scope);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
