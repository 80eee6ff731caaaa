/* The vertex provider: settings, URLs, the bearer token from a real HTTP
 * token endpoint (a tiny server thread here), 502 when there is none, and
 * a 401 dropping the cached token. */
#include "../../fcgi/providers/vertex.c"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../fcgi/jsonutil.h"
#include "../../fcgi/sse.h"
#include "../../fcgi/usage.h"
#include "t.h"

static char dir[] = "/tmp/aigw-vertex-XXXXXX";
static char sa_path[256];
static int port, served, fail_status;
static char last_body[8192];

/* --- a one-connection-at-a-time token endpoint ------------------------- */

static void serve_one(int fd)
{
    char req[16384], reply[512], json[128];
    size_t n = 0;
    ssize_t r;
    char *end, *cl;
    int tok;

    while (n < sizeof(req) - 1 && (r = read(fd, req + n,
                                            sizeof(req) - 1 - n)) > 0) {
        n += (size_t)r;
        req[n] = '\0';
        if ((end = strstr(req, "\r\n\r\n")) != NULL &&
            (cl = strstr(req, "Content-Length:")) != NULL &&
            n >= (size_t)(end + 4 - req) + (size_t)atol(cl + 15))
            break;
    }
    end = strstr(req, "\r\n\r\n");
    snprintf(last_body, sizeof(last_body), "%s", end ? end + 4 : "");
    tok = ++served;
    if (fail_status)
        snprintf(reply, sizeof(reply), "HTTP/1.1 %d Failed\r\nContent-Type: "
                 "application/json\r\nContent-Length: 20\r\nConnection: "
                 "close\r\n\r\n{\"error\":\"internal\"}", fail_status);
    else {
        snprintf(json, sizeof(json), "{\"access_token\":\"ya29.srv-%d\","
                 "\"expires_in\":3599}", tok);
        snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\nContent-Type: "
                 "application/json\r\nConnection: close\r\nContent-Length: "
                 "%zu\r\n\r\n%s", strlen(json), json);
    }
    if (write(fd, reply, strlen(reply)) < 0)
        perror("write");
    close(fd);
}

static void *server(void *ud)
{
    int ls = *(int *)ud, fd;

    while ((fd = accept(ls, NULL, NULL)) >= 0)
        serve_one(fd);
    return NULL;
}

static int start_server(void)
{
    static int ls;
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    pthread_t t;

    ls = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 8) < 0)
        return -1;
    getsockname(ls, (struct sockaddr *)&a, &len);
    port = ntohs(a.sin_port);
    pthread_create(&t, NULL, server, &ls);
    pthread_detach(t);
    return 0;
}

/* --- fixtures ---------------------------------------------------------- */

static void write_sa(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *b = BIO_new(BIO_s_mem());
    json_object *o = json_object_new_object();
    char *p;
    long n;
    FILE *f;

    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(b, &p);
    jadd(o, "type", json_object_new_string("service_account"));
    jadd(o, "private_key_id", json_object_new_string("k1"));
    jadd(o, "private_key", json_object_new_string_len(p, (int)n));
    jadd(o, "client_email", json_object_new_string("sa@p.iam.test"));
    snprintf(sa_path, sizeof(sa_path), "%s/sa.json", dir);
    f = fopen(sa_path, "w");
    fputs(json_object_to_json_string(o), f);
    fclose(f);
    json_object_put(o);
    BIO_free(b);
    EVP_PKEY_free(k);
}

/* A config with one vertex backend whose settings are extra. */
static struct config *load(const char *extra, char *err, size_t errsz)
{
    char text[2048];

    snprintf(text, sizeof(text), "{\"database\":{\"conninfo\":\"x\"},"
             "\"backends\":[{\"name\":\"vx\",\"provider\":\"vertex\"%s}],"
             "\"routes\":[{\"prefix\":\"/v1\",\"backend\":\"vx\"}]}", extra);
    return config_parse(text, "t.json", err, errsz);
}

static void test_settings(void)
{
    char err[512], x[512];
    struct config *c;
    struct vertex *v;

    c = load(",\"credentials_file\":\"/nope.json\",\"project\":\"p\"", err,
             sizeof(err));
    T_OK(c == NULL && strstr(err, "/nope.json") != NULL,
         "unreadable credentials_file stops the start");
    c = load(",\"project\":\"p\"", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "credentials_file is required") != NULL,
         "credentials_file required");
    snprintf(x, sizeof(x), ",\"credentials_file\":\"%s\"", sa_path);
    c = load(x, err, sizeof(err));
    T_OK(c == NULL && strstr(err, "project is required") != NULL,
         "project required");
    snprintf(x, sizeof(x), ",\"credentials_file\":\"%s\",\"project\":"
             "\"p/../q\"", sa_path);
    c = load(x, err, sizeof(err));
    T_OK(c == NULL && strstr(err, "project") != NULL, "project checked");

    snprintf(x, sizeof(x), ",\"credentials_file\":\"%s\",\"project\":"
             "\"proj-1\"", sa_path);
    c = load(x, err, sizeof(err));
    T_OK(c != NULL, "minimal vertex backend loads");
    if (c != NULL) {
        v = c->backends[0].pstate;
        T_EQ_STR(v->region, "us-central1", "region default");
        T_EQ_STR(c->backends[0].base_url, "https://us-central1-aiplatform."
                 "googleapis.com/v1", "base_url from the region");
        T_EQ_STR(gauth_token_url(v->auth), "https://oauth2.googleapis.com/"
                 "token", "token_url default");
    }
    config_free(c);
    snprintf(x, sizeof(x), ",\"credentials_file\":\"%s\",\"project\":"
             "\"proj-1\",\"location\":\"europe-west4\"", sa_path);
    c = load(x, err, sizeof(err));
    T_EQ_STR(c ? c->backends[0].base_url : err, "https://europe-west4-"
             "aiplatform.googleapis.com/v1", "location accepted as region");
    config_free(c);
    snprintf(x, sizeof(x), ",\"credentials_file\":\"%s\",\"project\":"
             "\"proj-1\",\"region\":\"global\"", sa_path);
    c = load(x, err, sizeof(err));
    T_EQ_STR(c ? c->backends[0].base_url : err, "https://aiplatform."
             "googleapis.com/v1", "global endpoint");
    config_free(c);
}

static struct usage_event ev;
static struct buf url, body, scratch;
static json_object *req;

static int build(struct backend *be, const char *json, enum provider_op op,
                 struct provider_call *c)
{
    json_object_put(req);
    req = jparse(json, strlen(json), NULL);
    buf_reset(&url);
    buf_reset(&body);
    buf_reset(&scratch);
    usage_event_init(&ev);
    *c = (struct provider_call){
        .be = be, .op = op, .req = req, .model = jget_str(req, "model"),
        .request_id = "rid", .ev = &ev, .scratch = &scratch, .url = &url,
        .body = &body,
    };
    c->stream = json_object_get_boolean(json_object_object_get(req,
                                                               "stream"));
    return be->ops->build(c);
}

static void done(struct provider_call *c)
{
    curl_slist_free_all(c->hdrs);
    c->hdrs = NULL;
    gemini_finish(c);
}

static void test_build(void)
{
    char err[512], x[512];
    struct config *cfg;
    struct provider_call c;
    struct backend *be;
    const char *hi = "{\"model\":\"gemini-2.0-flash-001\",\"messages\":"
                     "[{\"role\":\"user\",\"content\":\"hi\"}]}";

    snprintf(x, sizeof(x), ",\"credentials_file\":\"%s\",\"project\":"
             "\"proj-1\",\"token_url\":\"http://127.0.0.1:%d/token\","
             "\"base_url\":\"http://vx.test/v1\"", sa_path, port);
    cfg = load(x, err, sizeof(err));
    T_OK(cfg != NULL, "backend with a local token endpoint");
    if (cfg == NULL) {
        printf("# %s\n", err);
        return;
    }
    be = &cfg->backends[0];
    T_EQ_INT(build(be, hi, PROV_CHAT, &c), 0, "build: chat");
    T_EQ_STR(url.ptr, "http://vx.test/v1/projects/proj-1/locations/"
             "us-central1/publishers/google/models/gemini-2.0-flash-001:"
             "generateContent", "build: URL");
    T_EQ_STR(c.hdrs ? c.hdrs->data : "", "Authorization: Bearer ya29.srv-1",
             "build: bearer token from the endpoint");
    T_OK(strncmp(last_body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                 "grant-type%3Ajwt-bearer&assertion=ey", 77) == 0,
         "token endpoint got the JWT-bearer grant");
    T_EQ_STR(body.ptr, "{\"contents\":[{\"role\":\"user\",\"parts\":"
             "[{\"text\":\"hi\"}]}]}", "build: Gemini body");
    done(&c);
    T_EQ_INT(build(be, "{\"model\":\"gemini-2.0-flash-001\",\"stream\":true,"
                   "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                   PROV_CHAT, &c), 0, "build: stream");
    T_OK(strstr(url.ptr, ":streamGenerateContent?alt=sse") != NULL,
         "build: stream URL");
    T_EQ_STR(c.hdrs ? c.hdrs->data : "", "Authorization: Bearer ya29.srv-1",
             "build: token reused");
    T_EQ_INT(served, 1, "one token request for two builds");

    /* the provider rejects the token: forget it */
    vertex_error(&c, 401, "{}", 2, &scratch);
    done(&c);
    T_EQ_INT(build(be, hi, PROV_CHAT, &c), 0, "build after a 401");
    T_EQ_STR(c.hdrs ? c.hdrs->data : "", "Authorization: Bearer ya29.srv-2",
             "a 401 makes the next request fetch a new token");
    done(&c);

    T_EQ_INT(build(be, "{\"model\":\"claude-opus-4-1@20250805\",\"messages\""
                   ":[{\"role\":\"user\",\"content\":\"hi\"}]}", PROV_CHAT,
                   &c), 0, "claude: built for Anthropic's publisher");
    T_OK(strstr(url.ptr, "/publishers/anthropic/models/"
                "claude-opus-4-1@20250805:rawPredict") != NULL,
         "claude: rawPredict URL");
    T_OK(strstr(c.body->ptr, "\"anthropic_version\":\"vertex-2023-10-16\"")
         != NULL && strstr(c.body->ptr, "\"model\"") == NULL,
         "claude: Messages body with the Vertex version, no model");
    done(&c);
    T_EQ_INT(build(be, "{\"model\":\"text-embedding-005\",\"input\":\"x\"}",
                   PROV_EMBED, &c), 0, "embeddings built");
    T_OK(strstr(url.ptr, "/publishers/google/models/text-embedding-005:"
                "predict") != NULL, "embeddings: :predict URL");
    T_EQ_STR(c.body->ptr, "{\"instances\":[{\"content\":\"x\"}]}",
             "embeddings: instances body");
    done(&c);
    T_EQ_INT(build(be, "{\"model\":\"text-embedding-005\",\"input\":[1,2]}",
                   PROV_EMBED, &c), -1, "embeddings of token arrays refused");
    done(&c);

    fail_status = 500;
    gauth_invalidate(((struct vertex *)be->pstate)->auth, 2);
    T_EQ_INT(build(be, hi, PROV_CHAT, &c), -1, "token endpoint failing");
    T_EQ_INT(c.build_status, 502, "build_status 502");
    T_OK(strstr(scratch.ptr, "could not obtain a Google access token") &&
         strstr(scratch.ptr, "HTTP 500"), "reason for the client");
    T_OK(c.hdrs == NULL, "no request headers left behind");
    done(&c);
    fail_status = 0;
    config_free(cfg);

    snprintf(x, sizeof(x), ",\"credentials_file\":\"%s\",\"project\":"
             "\"proj-1\",\"token_url\":\"http://127.0.0.1:9/token\","
             "\"connect_timeout_ms\":500", sa_path);
    cfg = load(x, err, sizeof(err));
    T_EQ_INT(cfg ? build(&cfg->backends[0], hi, PROV_CHAT, &c) : 0, -1,
             "token endpoint unreachable");
    T_OK(c.build_status == 502 && strstr(scratch.ptr, "could not be "
         "reached") != NULL, "unreachable: 502 with the reason");
    done(&c);
    config_free(cfg);
}

int main(void)
{
    log_threshold = LOG_ERROR;
    curl_global_init(CURL_GLOBAL_ALL);
    if (mkdtemp(dir) == NULL || start_server() < 0)
        return 1;
    buf_init(&url, 16384);
    buf_init(&body, 1 << 20);
    buf_init(&scratch, 1 << 20);
    write_sa();
    test_settings();
    test_build();
    json_object_put(req);
    buf_release(&url);
    buf_release(&body);
    buf_release(&scratch);
    unlink(sa_path);
    rmdir(dir);
    return t_done();
}
