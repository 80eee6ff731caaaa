/* Azure OpenAI: OpenAI's dialect behind per-deployment URLs, an "api-key"
 * header (or a Microsoft Entra bearer token) and an api-version query.
 * Bodies and replies are OpenAI's and go through openai.c's logic; Azure's
 * extra fields (prompt_filter_results, content_filter_results) ride along,
 * except the stream's prompt-filter preamble (a chunk with no choices and
 * no usage), which no OpenAI client expects and which is dropped. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../buf.h"
#include "../config.h"
#include "../jsonutil.h"
#include "../log.h"
#include "../usage.h"
#include "../xalloc.h"
#include "oai.h"
#include "openai.h"
#include "provider.h"

#define AZURE_API_VERSION "2024-10-21"
#define AZURE_TOKEN_MAX 65536

enum azure_style { AZ_DEPLOYMENTS, AZ_V1 };

struct azure_conf {
    char *api_version;
    enum azure_style style;
    json_object *deployments;   /* model -> deployment name; owned */
    char *token;                /* Entra token, or NULL (api-key auth) */
    char *token_file;           /* re-read when its mtime changes */
    struct timespec token_mtime;
    pthread_mutex_t mu;         /* guards token and token_mtime */
};

/* Deployment names and api-versions go into the URL as they are. */
static int url_safe(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return 0;
    return 1;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* The token file's content without surrounding whitespace, or NULL. */
static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    struct buf b = BUF_INIT(AZURE_TOKEN_MAX);
    char tmp[4096], *s;
    size_t n, start = 0;

    if (f == NULL)
        return NULL;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_add(&b, tmp, n);
    memset(tmp, 0, sizeof(tmp));
    fclose(f);
    s = buf_error(&b) ? NULL : buf_detach(&b, &n);
    if (b.ptr != NULL)
        memset(b.ptr, 0, b.len);
    buf_release(&b);
    if (s == NULL)
        return NULL;
    while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
        s[--n] = '\0';
    while (start < n && strchr(" \t\r\n", s[start]) != NULL)
        start++;
    memmove(s, s + start, n - start + 1);
    if (*s == '\0' || strpbrk(s, "\r\n") != NULL) {
        wipe_free(s);
        return NULL;
    }
    return s;
}

static int init_deployments(struct azure_conf *az, json_object *conf,
                            char *err, size_t errsz)
{
    json_object *d;

    if (!json_object_object_get_ex(conf, "deployments", &d) ||
        json_object_is_type(d, json_type_null))
        return 0;
    if (!json_object_is_type(d, json_type_object)) {
        snprintf(err, errsz, "deployments must be an object mapping model "
                 "names to deployment names");
        return -1;
    }
    json_object_object_foreach(d, model, v) {
        if (!json_object_is_type(v, json_type_string) ||
            !url_safe(json_object_get_string(v))) {
            snprintf(err, errsz, "deployments.%.64s must be a deployment "
                     "name (letters, digits, '-', '_', '.')", model);
            return -1;
        }
    }
    az->deployments = json_object_get(d);
    return 0;
}

static int init_style(struct azure_conf *az, json_object *conf, char *err,
                      size_t errsz)
{
    char *style = NULL;
    int rc = 0;

    if (config_opt_str(conf, "api_style", &style, err, errsz) < 0)
        return -1;
    if (style == NULL || strcmp(style, "deployments") == 0) {
        az->style = AZ_DEPLOYMENTS;
    } else if (strcmp(style, "v1") == 0) {
        az->style = AZ_V1;
    } else {
        snprintf(err, errsz, "api_style must be \"deployments\" or \"v1\"");
        rc = -1;
    }
    free(style);
    if (rc == 0 && config_opt_str(conf, "api_version", &az->api_version,
                                  err, errsz) < 0)
        return -1;
    if (rc == 0 && az->api_version == NULL)
        az->api_version = xstrdup(AZURE_API_VERSION);
    if (rc == 0 && !url_safe(az->api_version)) {
        snprintf(err, errsz, "api_version must look like \"%s\"",
                 AZURE_API_VERSION);
        rc = -1;
    }
    return rc;
}

/* entra_token (or entra_token_file, re-read whenever it changes, so a
 * sidecar can refresh the token before it expires) or api_key. */
static int init_auth(struct backend *be, struct azure_conf *az,
                     json_object *conf, char *err, size_t errsz)
{
    const char *file = jget_str(conf, "entra_token_file");
    struct stat st;

    if (config_opt_str(conf, "entra_token", &az->token, err, errsz) < 0)
        return -1;
    if (az->token != NULL && *az->token == '\0') {
        free(az->token);
        az->token = NULL;
    }
    if (file != NULL && az->token != NULL) {
        az->token_file = config_expand(file, err, errsz);
        if (az->token_file == NULL)
            return -1;
        if (stat(az->token_file, &st) == 0)
            az->token_mtime = st.st_mtim;
    }
    if (az->token != NULL && strpbrk(az->token, "\r\n") != NULL) {
        snprintf(err, errsz, "entra_token must not contain line breaks");
        return -1;
    }
    if (az->token != NULL && be->api_key != NULL) {
        snprintf(err, errsz, "set api_key or entra_token, not both");
        return -1;
    }
    if (az->token == NULL && be->api_key == NULL) {
        snprintf(err, errsz, "api_key or entra_token is required");
        return -1;
    }
    return 0;
}

static void azure_destroy(struct backend *be)
{
    struct azure_conf *az = be->pstate;

    if (az == NULL)
        return;
    free(az->api_version);
    json_object_put(az->deployments);
    wipe_free(az->token);
    free(az->token_file);
    pthread_mutex_destroy(&az->mu);
    free(az);
    be->pstate = NULL;
}

static int azure_init(struct backend *be, json_object *conf, char *err,
                      size_t errsz)
{
    struct azure_conf *az = xcalloc(1, sizeof(*az));

    pthread_mutex_init(&az->mu, NULL);
    be->pstate = az;
    if (be->base_url == NULL || *be->base_url == '\0') {
        snprintf(err, errsz, "base_url is required "
                 "(https://{resource}.openai.azure.com)");
        return -1;
    }
    if (init_style(az, conf, err, errsz) < 0 ||
        init_deployments(az, conf, err, errsz) < 0 ||
        init_auth(be, az, conf, err, errsz) < 0)
        return -1;
    return 0;
}

/* The deployment serving model: mapped, or named like the model. */
static const char *deployment(const struct azure_conf *az, const char *model)
{
    json_object *v;

    if (az->deployments != NULL &&
        json_object_object_get_ex(az->deployments, model, &v))
        return json_object_get_string(v);
    return model;
}

/* The token file changed (a refresh): take its new content. */
static void refresh_token(struct azure_conf *az, const char *request_id)
{
    struct stat st;
    char *t;

    if (az->token_file == NULL || stat(az->token_file, &st) != 0 ||
        (st.st_mtim.tv_sec == az->token_mtime.tv_sec &&
         st.st_mtim.tv_nsec == az->token_mtime.tv_nsec))
        return;
    t = read_token(az->token_file);
    az->token_mtime = st.st_mtim;    /* warn once per change */
    if (t == NULL) {
        log_warn(request_id, "azure: entra_token_file is empty or "
                 "unreadable; keeping the previous token");
        return;
    }
    wipe_free(az->token);
    az->token = t;
}

static void add_credentials(struct provider_call *c, struct azure_conf *az)
{
    if (az->token == NULL) {
        openai_add_auth(c, "api-key: ", c->be->api_key);
        return;
    }
    pthread_mutex_lock(&az->mu);
    refresh_token(az, c->request_id);
    openai_add_auth(c, "Authorization: Bearer ", az->token);
    pthread_mutex_unlock(&az->mu);
}

/* The v1 API takes the deployment as the body's model. The client's model
 * object is put back afterwards: c->model (and the relay's copy of the
 * pointer) borrow its string. */
static void write_v1_body(struct provider_call *c, const char *dep)
{
    json_object *model = NULL;

    json_object_object_get_ex(c->req, "model", &model);
    json_object_get(model);
    jadd(c->req, "model", json_object_new_string(dep));
    c->raw_body = NULL;          /* the body differs from the client's */
    openai_write_body(c);
    if (model != NULL)
        json_object_object_add(c->req, "model", model);
}

static int azure_build(struct provider_call *c)
{
    struct azure_conf *az = c->be->pstate;
    const char *dep = deployment(az, c->model);
    const char *op = c->op == PROV_EMBED ? "embeddings" : "chat/completions";

    if (!url_safe(dep)) {
        buf_adds(c->scratch, "the model name is not a valid Azure "
                 "deployment name (letters, digits, '-', '_', '.')");
        return -1;
    }
    buf_adds(c->url, c->be->base_url);
    if (az->style == AZ_V1) {
        buf_addf(c->url, "/openai/v1/%s", op);
        write_v1_body(c, dep);
    } else {
        buf_addf(c->url, "/openai/deployments/%s/%s?api-version=%s", dep, op,
                 az->api_version);
        openai_write_body(c);
    }
    add_credentials(c, az);
    c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, c->stream
                                ? "Accept: text/event-stream"
                                : "Accept: application/json");
    return buf_error(c->url) || buf_error(c->body) ? -1 : 0;
}

/* Azure names the model it served; else record the one asked for (the
 * deployment's own name would not price). */
static void default_model(struct provider_call *c)
{
    if (c->ev->served_model[0] == '\0')
        usage_set(c->ev->served_model, sizeof(c->ev->served_model),
                  c->model);
}

static int azure_parse(struct provider_call *c, const char *body,
                       size_t len, struct buf *out)
{
    int rc = openai_parse(c, body, len, out);

    default_model(c);
    return rc;
}

/* Does the chunk have "choices":[] (whitespace allowed)? */
static int no_choices(const char *s, size_t len)
{
    static const char key[] = "\"choices\"";
    const char *end = s + len, *p = s;

    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));

        if (q == NULL || (size_t)(end - q) < sizeof(key) - 1)
            return 0;
        p = q + 1;
        if (memcmp(q, key, sizeof(key) - 1) != 0)
            continue;
        q += sizeof(key) - 1;
        while (q < end && strchr(" \t\r\n", *q) && *q)
            q++;
        if (q >= end || *q++ != ':')
            continue;
        while (q < end && strchr(" \t\r\n", *q) && *q)
            q++;
        if (q >= end || *q++ != '[')
            continue;
        while (q < end && strchr(" \t\r\n", *q) && *q)
            q++;
        return q < end && *q == ']';
    }
    return 0;
}

/* Drops the prompt-filter preamble: no choices and no usage. */
static int filter_chunk(void *ctx, const char *json, size_t len,
                        int usage_only)
{
    struct chunk_sink *down = ctx;

    if (!json_has_object_member(json, len, "usage") && no_choices(json, len))
        return 0;
    return down->chunk(down->ctx, json, len, usage_only);
}

static int azure_stream(struct provider_call *c, const char *p, size_t n,
                        struct chunk_sink *sink, int *done)
{
    struct chunk_sink filter = { filter_chunk, sink };
    int rc = openai_stream(c, p, n, &filter, done);

    if (*done)
        default_model(c);
    return rc;
}

/* Azure's error code: its own words ("content_filter",
 * "DeploymentNotFound"), or a bare status ("429") made OpenAI's. */
static const char *error_code(json_object *e, long status)
{
    json_object *v;
    const char *s;

    if (e == NULL || !json_object_object_get_ex(e, "code", &v))
        return "upstream_error";
    s = json_object_get_string(v);
    if (json_object_is_type(v, json_type_string) && s[0] != '\0' &&
        strspn(s, "0123456789") != strlen(s))
        return s;
    return status == 429 ? "rate_limit_exceeded" : "upstream_error";
}

/* {"error":{"message","type","param","code"}} from Azure's shapes:
 * {"error":{"code","message",...,"innererror"}} (the content filter's
 * verdict in innererror is kept), {"statusCode","message"} from the API
 * gateway in front, or anything else (HTML) wrapped. */
static void azure_error(struct provider_call *c, long status,
                        const char *body, size_t len, struct buf *out)
{
    json_object *o = jparse(body, len, NULL), *e = NULL, *inner, *r, *x;
    const char *msg = NULL, *type, *param;
    char fallback[128];

    (void)c;
    if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
        json_object_is_type(e, json_type_object)) {
        msg = jget_str(e, "message");
    } else {
        e = NULL;
        msg = jget_str(o, "message");    /* NULL-safe, type-checked */
    }
    if (msg == NULL) {
        snprintf(fallback, sizeof(fallback), "the upstream provider "
                 "answered HTTP %ld", status);
        oai_error(out, fallback, oai_error_type(status), "upstream_error");
        json_object_put(o);
        return;
    }
    type = e != NULL ? jget_str(e, "type") : NULL;
    param = e != NULL ? jget_str(e, "param") : NULL;
    r = json_object_new_object();
    x = json_object_new_object();
    jadd(x, "message", json_object_new_string(msg));
    jadd(x, "type", json_object_new_string(type ? type
                                           : oai_error_type(status)));
    json_object_object_add(x, "param", param ? json_object_new_string(param)
                                             : NULL);
    jadd(x, "code", json_object_new_string(error_code(e, status)));
    if (e != NULL && json_object_object_get_ex(e, "innererror", &inner) &&
        json_object_is_type(inner, json_type_object))
        jadd(x, "innererror", json_object_get(inner));
    jadd(r, "error", x);
    buf_adds(out, json_object_to_json_string_ext(r,
             JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(r);
    json_object_put(o);
}

const struct provider_ops provider_azure = {
    .name = "azure",
    .init = azure_init,
    .destroy = azure_destroy,
    .build = azure_build,
    .parse = azure_parse,
    .stream = azure_stream,
    .error = azure_error,
};
