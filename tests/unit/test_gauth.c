/* Service-account tokens: key file checks, the signed assertion, the
 * cache (fake clock), refresh, failures and concurrency (fake endpoint). */
#include "../../fcgi/gauth.c"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include "../../fcgi/log.h"
#include "t.h"

static char key_pem[4096], pub_pem[1024];
static char dir[] = "/tmp/aigw-gauth-XXXXXX";

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static int posts;
static char last_form[8192];
static long fake_status = 200;
static long fake_expires = 3599;
static int fake_down, fake_no_token, fake_delay_ms;
static long long fake_now = 1000000;

static long long fake_clock(void)
{
    return fake_now;
}

static int fake_post(struct gauth *g, const char *form, size_t len,
                     struct buf *resp, long *status, char *err,
                     size_t errsz)
{
    int n;

    (void)g;
    pthread_mutex_lock(&fake_mu);
    n = ++posts;
    snprintf(last_form, sizeof(last_form), "%.*s", (int)len, form);
    pthread_mutex_unlock(&fake_mu);
    if (fake_delay_ms > 0)
        usleep((useconds_t)fake_delay_ms * 1000);
    if (fake_down) {
        snprintf(err, errsz, "the token endpoint could not be reached "
                 "(Couldn't connect to server)");
        return -1;
    }
    *status = fake_status;
    if (fake_status != 200)
        buf_adds(resp, "{\"error\":\"invalid_grant\",\"error_description\":"
                 "\"Invalid JWT Signature.\"}");
    else if (fake_no_token)
        buf_adds(resp, "{\"token_type\":\"Bearer\"}");
    else
        buf_addf(resp, "{\"access_token\":\"ya29.tok-%d\",\"expires_in\":%ld,"
                 "\"token_type\":\"Bearer\"}", n, fake_expires);
    return 0;
}

static void make_key(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;

    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    snprintf(key_pem, sizeof(key_pem), "%.*s", (int)n, p);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    n = BIO_get_mem_data(b, &p);
    snprintf(pub_pem, sizeof(pub_pem), "%.*s", (int)n, p);
    BIO_free(b);
    EVP_PKEY_free(k);
}

/* Writes dir/name with the JSON text; returns the path (static). */
static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *sa_file(const char *type, const char *key,
                           const char *token_uri)
{
    json_object *o = json_object_new_object();
    const char *p;

    jadd(o, "type", json_object_new_string(type));
    jadd(o, "project_id", json_object_new_string("unit"));
    jadd(o, "private_key_id", json_object_new_string("kid-123"));
    if (key != NULL)
        jadd(o, "private_key", json_object_new_string(key));
    jadd(o, "client_email", json_object_new_string("sa@unit.iam."
                                                   "gserviceaccount.com"));
    if (token_uri != NULL)
        jadd(o, "token_uri", json_object_new_string(token_uri));
    p = write_file("sa.json", json_object_to_json_string(o));
    json_object_put(o);
    return p;
}

static struct gauth *open_sa(const char *path, const char *token_url,
                             char *err, size_t errsz)
{
    struct gauth_opts o = { path, token_url, NULL, 1000, 1000 };
    struct gauth *g = gauth_new(&o, err, errsz);

    if (g != NULL) {
        g->now_ms = fake_clock;
        g->post = fake_post;
    }
    return g;
}

static void test_key_files(void)
{
    char err[256];
    struct gauth *g;

    g = open_sa("/nonexistent/sa.json", NULL, err, sizeof(err));
    T_OK(g == NULL && strstr(err, "/nonexistent/sa.json") != NULL &&
         strstr(err, "No such file") != NULL, "missing file: named");
    g = open_sa(write_file("x.json", "{\"type\":\"authorized_user\"}"),
                NULL, err, sizeof(err));
    T_OK(g == NULL && strstr(err, "not a service-account key") != NULL,
         "not a service account: refused");
    g = open_sa(write_file("x.json", "not json"), NULL, err, sizeof(err));
    T_OK(g == NULL && strstr(err, "not a JSON object") != NULL,
         "not JSON: refused");
    g = open_sa(sa_file("service_account", NULL, NULL), NULL, err,
                sizeof(err));
    T_OK(g == NULL && strstr(err, "private_key are required") != NULL,
         "no private key: refused");
    g = open_sa(sa_file("service_account", "-----BEGIN PRIVATE KEY-----\n"
                        "AAAA\n-----END PRIVATE KEY-----\n", NULL), NULL,
                err, sizeof(err));
    T_OK(g == NULL && strstr(err, "cannot sign") != NULL,
         "unusable key: refused at start");
    T_OK(strstr(err, "AAAA") == NULL, "key material not in the message");

    g = open_sa(sa_file("service_account", key_pem, "https://tok.test/t"),
                NULL, err, sizeof(err));
    T_OK(g != NULL, "valid service account loaded");
    T_EQ_STR(g ? gauth_token_url(g) : "", "https://tok.test/t",
             "token_url defaults to the file's token_uri");
    gauth_free(g);
    g = open_sa(sa_file("service_account", key_pem, "https://tok.test/t"),
                "http://127.0.0.1:1/token", err, sizeof(err));
    T_EQ_STR(g ? gauth_token_url(g) : "", "http://127.0.0.1:1/token",
             "token_url setting wins");
    gauth_free(g);
    g = open_sa(sa_file("service_account", key_pem, NULL), NULL, err,
                sizeof(err));
    T_EQ_STR(g ? gauth_token_url(g) : "", "https://oauth2.googleapis.com/"
             "token", "token_url default");
    gauth_free(g);
}

static void test_assertion(struct gauth *g)
{
    struct buf tok = BUF_INIT(4096);
    unsigned long gen = 0;
    char err[256];
    const char *a;
    jwt_t *j = NULL;
    long iat;

    T_EQ_INT(gauth_token(g, &tok, &gen, err, sizeof(err)), 0,
             "first token fetched");
    T_EQ_STR(tok.ptr, "ya29.tok-1", "token returned");
    T_OK(strncmp(last_form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
         "grant-type%3Ajwt-bearer&assertion=", 75) == 0,
         "form: jwt-bearer grant");
    a = strstr(last_form, "&assertion=");
    a = a ? a + 11 : "";
    T_EQ_INT(jwt_decode(&j, a, (const unsigned char *)pub_pem,
                        (int)strlen(pub_pem)), 0,
             "assertion verifies with the public key (RS256)");
    if (j == NULL)
        return;
    T_EQ_INT(jwt_get_alg(j), JWT_ALG_RS256, "alg RS256");
    T_EQ_STR(jwt_get_header(j, "kid"), "kid-123", "kid = private_key_id");
    T_EQ_STR(jwt_get_grant(j, "iss"), "sa@unit.iam.gserviceaccount.com",
             "iss = client_email");
    T_EQ_STR(jwt_get_grant(j, "aud"), "http://tok.test/token",
             "aud = token_url");
    T_EQ_STR(jwt_get_grant(j, "scope"), "https://www.googleapis.com/auth/"
             "cloud-platform", "scope default");
    iat = jwt_get_grant_int(j, "iat");
    T_OK(labs(iat - (long)time(NULL)) < 5, "iat is now");
    T_EQ_INT(jwt_get_grant_int(j, "exp") - iat, 3600, "exp = iat + 1 h");
    jwt_free(j);
    buf_release(&tok);
}

static int get(struct gauth *g, char *tok, size_t toksz, unsigned long *gen,
               char *err, size_t errsz)
{
    struct buf b = BUF_INIT(4096);
    int rc = gauth_token(g, &b, gen, err, errsz);

    snprintf(tok, toksz, "%s", rc == 0 && b.ptr ? b.ptr : "");
    buf_release(&b);
    return rc;
}

static void test_cache(struct gauth *g)
{
    char tok[64], err[256];
    unsigned long gen, gen2;

    get(g, tok, sizeof(tok), &gen, err, sizeof(err));
    T_EQ_STR(tok, "ya29.tok-1", "cached token reused");
    T_EQ_INT(posts, 1, "no second fetch");
    fake_now += (3599 - 301) * 1000LL;
    get(g, tok, sizeof(tok), &gen2, err, sizeof(err));
    T_EQ_INT(posts, 1, "still cached just before the margin");
    fake_now += 2000;
    get(g, tok, sizeof(tok), &gen2, err, sizeof(err));
    T_EQ_STR(tok, "ya29.tok-2", "refreshed within 5 min of expiry");
    T_OK(gen2 != gen, "new generation");

    gauth_invalidate(g, gen);
    get(g, tok, sizeof(tok), &gen, err, sizeof(err));
    T_EQ_STR(tok, "ya29.tok-2", "invalidating an old generation: no effect");
    gauth_invalidate(g, gen2);
    get(g, tok, sizeof(tok), &gen, err, sizeof(err));
    T_EQ_STR(tok, "ya29.tok-3", "invalidated token replaced");

    fake_expires = 4;
    fake_now += 4000 * 1000LL;
    get(g, tok, sizeof(tok), &gen, err, sizeof(err));
    T_EQ_STR(tok, "ya29.tok-4", "short-lived token fetched");
    fake_now += 1900;
    get(g, tok, sizeof(tok), &gen, err, sizeof(err));
    T_EQ_INT(posts, 4, "short-lived: kept for half its life");
    fake_now += 200;
    get(g, tok, sizeof(tok), &gen, err, sizeof(err));
    T_EQ_STR(tok, "ya29.tok-5", "short-lived: refreshed at half-life");
    fake_expires = 3599;
}

static void test_failures(struct gauth *g)
{
    char tok[64], err[256];
    unsigned long gen;
    int before;

    gauth_invalidate(g, g->gen);
    fake_status = 400;
    T_EQ_INT(get(g, tok, sizeof(tok), &gen, err, sizeof(err)), -1,
             "refused grant: error");
    T_EQ_STR(err, "the token endpoint answered HTTP 400 (invalid_grant: "
             "Invalid JWT Signature.)", "refusal described");
    before = posts;
    T_EQ_INT(get(g, tok, sizeof(tok), &gen, err, sizeof(err)), -1,
             "retry within the back-off: error");
    T_EQ_INT(posts, before, "back-off: endpoint not called again");
    T_OK(strstr(err, "HTTP 400") != NULL, "back-off keeps the reason");
    fake_status = 200;
    fake_now += 1001;
    T_EQ_INT(get(g, tok, sizeof(tok), &gen, err, sizeof(err)), 0,
             "after the back-off: fetched");

    /* a failed refresh keeps using the old token until it expires */
    fake_now += (3599 - 200) * 1000LL;
    fake_down = 1;
    snprintf(err, sizeof(err), "%s", "");
    T_EQ_INT(get(g, tok, sizeof(tok), &gen, err, sizeof(err)), 0,
             "refresh failed, old token still valid: used");
    fake_now += 200 * 1000LL;
    T_EQ_INT(get(g, tok, sizeof(tok), &gen, err, sizeof(err)), -1,
             "expired and endpoint down: error");
    T_OK(strstr(err, "could not be reached") != NULL, "unreachable named");
    fake_down = 0;
    fake_no_token = 1;
    fake_now += 2000;
    T_EQ_INT(get(g, tok, sizeof(tok), &gen, err, sizeof(err)), -1,
             "reply without access_token: error");
    T_EQ_STR(err, "the token endpoint's reply has no usable access_token",
             "missing token described");
    fake_no_token = 0;
    fake_now += 2000;
}

static void *worker(void *ud)
{
    struct gauth *g = ud;
    char tok[64], err[256];
    unsigned long gen;

    get(g, tok, sizeof(tok), &gen, err, sizeof(err));
    return NULL;
}

static void test_threads(struct gauth *g)
{
    pthread_t t[8];
    int before;

    gauth_invalidate(g, g->gen);
    before = posts;
    fake_delay_ms = 50;
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, worker, g);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    fake_delay_ms = 0;
    T_EQ_INT(posts - before, 1, "8 threads at once: one fetch, shared");
}

int main(void)
{
    char err[256];
    struct gauth *g;

    log_threshold = LOG_ERROR;
    if (mkdtemp(dir) == NULL)
        return 1;
    make_key();
    test_key_files();
    g = open_sa(sa_file("service_account", key_pem, NULL),
                "http://tok.test/token", err, sizeof(err));
    T_OK(g != NULL, "service account for the cache tests");
    if (g != NULL) {
        test_assertion(g);
        test_cache(g);
        test_failures(g);
        test_threads(g);
    }
    gauth_free(g);
    unlink(write_file("sa.json", ""));
    unlink(write_file("x.json", ""));
    rmdir(dir);
    return t_done();
}
