/* AWS Bedrock: chat through the Converse API (POST /model/{id}/converse,
 * /converse-stream with the binary event-stream framing), embeddings
 * through InvokeModel (Titan and Cohere bodies). Requests are signed with
 * SigV4 (sigv4.c) from the backend's key pair, or carry a Bedrock API key
 * as a bearer token. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../buf.h"
#include "../config.h"
#include "../eventstream.h"
#include "../jsonutil.h"
#include "../log.h"
#include "../sigv4.h"
#include "../usage.h"
#include "../xalloc.h"
#include "oai.h"
#include "provider.h"

#define JSON_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define MAX_BLOCKS 64

/* The backend's settings (be->pstate). */
struct bedrock_conf {
    char *region;
    char *akid;          /* SigV4 key pair; NULL with an API key */
    char *secret;
    char *token;         /* session token, optional */
    char *host;          /* Host header value, from base_url */
    char *path;          /* base_url's path: "" or "/prefix" */
};

/* Per-stream state (c->st). */
struct bedrock_st {
    struct es_decoder dec;
    struct oai_stream os;
    int n_tools;
    int tool_of_block[MAX_BLOCKS];
    /* for the duration of one stream() call */
    struct provider_call *c;
    struct chunk_sink *sink;
    int *done;
};

/* --- settings ----------------------------------------------------------- */

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    memset(s, 0, strlen(s));
    free(s);
}

static void bedrock_destroy(struct backend *be)
{
    struct bedrock_conf *bc = be->pstate;

    if (bc == NULL)
        return;
    free(bc->region);
    free(bc->akid);
    wipe_free(bc->secret);
    wipe_free(bc->token);
    free(bc->host);
    free(bc->path);
    free(bc);
    be->pstate = NULL;
}

static int region_ok(const char *r)
{
    size_t n = strlen(r);

    return n > 0 && n < 40 && strspn(r, "abcdefghijklmnopqrstuvwxyz"
                                        "0123456789-") == n;
}

/* Host header value (default port dropped) and path of base_url. */
static int split_url(const char *url, char **host, char **path)
{
    const char *p = strstr(url, "://"), *a, *end, *colon = NULL;
    size_t hlen, plen;
    int https;

    if (p == NULL)
        return -1;
    https = p - url == 5 && strncasecmp(url, "https", 5) == 0;
    a = p + 3;
    end = a + strcspn(a, "/?#");
    for (const char *q = a; q < end; q++)
        if (*q == '@')
            a = q + 1;
    for (const char *q = a; q < end; q++)
        if (*q == ':')
            colon = q;
        else if (*q == ']')
            colon = NULL;
    if (a == end)
        return -1;
    hlen = (size_t)(end - a);
    if (colon != NULL &&
        strncmp(colon + 1, https ? "443" : "80", (size_t)(end - colon - 1))
            == 0 && (size_t)(end - colon - 1) == (https ? 3u : 2u))
        hlen = (size_t)(colon - a);
    plen = strcspn(end, "?#");
    while (plen > 0 && end[plen - 1] == '/')
        plen--;
    *host = xstrndup(a, hlen);
    *path = xstrndup(end, plen);
    return 0;
}

/* "bedrock-runtime[-fips].REGION.amazonaws.com" -> REGION */
static char *region_from_host(const char *host)
{
    const char *r, *e;

    if (strncmp(host, "bedrock-runtime", 15) != 0 ||
        (r = strchr(host, '.')) == NULL || (e = strchr(r + 1, '.')) == NULL)
        return NULL;
    return xstrndup(r + 1, (size_t)(e - r - 1));
}

static int has_crlf(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* Credentials: an API key, or a key pair from the config or, when the
 * config names neither, from the AWS_* environment variables. */
static int init_creds(struct backend *be, struct bedrock_conf *bc,
                      char *err, size_t errsz)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tk = getenv("AWS_SESSION_TOKEN");

    if (be->api_key != NULL && (bc->akid != NULL || bc->secret != NULL)) {
        snprintf(err, errsz, "set either api_key or aws_access_key_id and "
                 "aws_secret_access_key, not both");
        return -1;
    }
    if (be->api_key == NULL && bc->akid == NULL && bc->secret == NULL &&
        id != NULL && *id != '\0' && sk != NULL && *sk != '\0') {
        bc->akid = xstrdup(id);
        bc->secret = xstrdup(sk);
        if (tk != NULL && *tk != '\0' && bc->token == NULL)
            bc->token = xstrdup(tk);
    }
    if (be->api_key == NULL && (bc->akid == NULL || bc->secret == NULL)) {
        snprintf(err, errsz, "bedrock needs api_key, or aws_access_key_id "
                 "and aws_secret_access_key (or the AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY environment variables)");
        return -1;
    }
    if (has_crlf(bc->akid) || has_crlf(bc->token) ||
        (bc->akid != NULL && strchr(bc->akid, '/') != NULL)) {
        snprintf(err, errsz, "aws_access_key_id or aws_session_token is "
                 "malformed");
        return -1;
    }
    return 0;
}

static int bedrock_init(struct backend *be, json_object *conf, char *err,
                        size_t errsz)
{
    struct bedrock_conf *bc = xcalloc(1, sizeof(*bc));
    struct buf u = BUF_INIT(1024);

    be->pstate = bc;
    if (config_opt_str(conf, "region", &bc->region, err, errsz) < 0 ||
        config_opt_str(conf, "aws_access_key_id", &bc->akid, err,
                       errsz) < 0 ||
        config_opt_str(conf, "aws_secret_access_key", &bc->secret, err,
                       errsz) < 0 ||
        config_opt_str(conf, "aws_session_token", &bc->token, err,
                       errsz) < 0 ||
        init_creds(be, bc, err, errsz) < 0)
        return -1;
    if (bc->region != NULL && !region_ok(bc->region)) {
        snprintf(err, errsz, "region: not an AWS region name");
        return -1;
    }
    if (be->base_url == NULL || *be->base_url == '\0') {
        if (bc->region == NULL) {
            snprintf(err, errsz, "region is required (or base_url)");
            return -1;
        }
        free(be->base_url);
        buf_addf(&u, "https://bedrock-runtime.%s.amazonaws.com",
                 bc->region);
        be->base_url = buf_detach(&u, NULL);
    }
    if (split_url(be->base_url, &bc->host, &bc->path) < 0) {
        snprintf(err, errsz, "base_url: no host");
        return -1;
    }
    if (bc->region == NULL && be->api_key == NULL &&
        (bc->region = region_from_host(bc->host)) == NULL) {
        snprintf(err, errsz, "region is required for SigV4 signing");
        return -1;
    }
    return 0;
}

/* --- request: URL, headers, signing ------------------------------------- */

/* "Name: value" without leaving a copy behind. */
static void add_hdr(struct provider_call *c, const char *name,
                    const char *value)
{
    struct buf h = BUF_INIT(16384);

    buf_adds(&h, name);
    buf_adds(&h, ": ");
    buf_adds(&h, value);
    if (buf_error(&h) == 0)
        c->hdrs = curl_slist_append(c->hdrs, h.ptr);
    if (h.ptr != NULL)
        memset(h.ptr, 0, h.len);
    buf_release(&h);
}

/* Percent-encodes a model id for the path: ':' -> %3A, '/' -> %2F. */
static void add_model_id(struct buf *b, const char *id)
{
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
            (*p >= '0' && *p <= '9') || strchr("-_.~", *p) != NULL)
            buf_addc(b, (char)*p);
        else
            buf_addf(b, "%%%02X", *p);
    }
}

/* Signs the finished body: Host, X-Amz-Date, X-Amz-Security-Token and
 * Content-Type are signed; Authorization carries the signature. */
static int add_sigv4(struct provider_call *c, const struct bedrock_conf *bc,
                     const char *path, time_t now)
{
    struct buf auth = BUF_INIT(4096);
    char date[17];
    struct sigv4_header h[4] = {
        { "content-type", "application/json" },
        { "host", bc->host },
        { "x-amz-date", date },
        { "x-amz-security-token", bc->token },
    };
    struct sigv4_req r = {
        .method = "POST", .path = path, .query = "", .hdrs = h,
        .n_hdrs = bc->token != NULL ? 4 : 3, .payload = c->body->ptr,
        .payload_len = c->body->len, .amz_date = date,
        .region = bc->region, .service = "bedrock",
        .access_key_id = bc->akid, .secret = bc->secret,
    };
    int rc = -1;

    sigv4_amz_date(now, date);
    if (sigv4_authorization(&r, &auth) == 0) {
        add_hdr(c, "Host", bc->host);
        add_hdr(c, "X-Amz-Date", date);
        if (bc->token != NULL)
            add_hdr(c, "X-Amz-Security-Token", bc->token);
        add_hdr(c, "Authorization", auth.ptr);
        rc = 0;
    }
    buf_release(&auth);
    return rc;
}

/* URL, headers and auth around c->body (already built). */
static int finish_request(struct provider_call *c, const char *action,
                          time_t now)
{
    const struct backend *be = c->be;
    const struct bedrock_conf *bc = be->pstate;
    struct buf tail = BUF_INIT(4096), path = BUF_INIT(8192);
    int rc = -1;

    buf_adds(&tail, "/model/");
    add_model_id(&tail, c->model);
    buf_adds(&tail, action);
    buf_adds(c->url, be->base_url);
    buf_add(c->url, tail.ptr, tail.len);
    buf_adds(&path, bc->path);
    buf_add(&path, tail.ptr, tail.len);
    c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
    if (!c->stream || c->op == PROV_EMBED)
        c->hdrs = curl_slist_append(c->hdrs, "Accept: application/json");
    if (buf_error(&tail) || buf_error(&path) || buf_error(c->url) ||
        buf_error(c->body))
        goto out;
    if (be->api_key != NULL) {
        struct buf v = BUF_INIT(8192);

        buf_adds(&v, "Bearer ");
        buf_adds(&v, be->api_key);
        if (buf_error(&v) == 0)
            add_hdr(c, "Authorization", v.ptr);
        if (v.ptr != NULL)
            memset(v.ptr, 0, v.len);
        buf_release(&v);
        rc = 0;
    } else {
        rc = add_sigv4(c, bc, path.ptr, now);
    }
out:
    buf_release(&tail);
    buf_release(&path);
    return rc;
}

/* --- request: Converse body --------------------------------------------- */

static json_object *text_block(const char *s, size_t n)
{
    json_object *b = json_object_new_object();

    jadd(b, "text", json_object_new_string_len(s, (int)n));
    return b;
}

/* Bedrock's image format name for a MIME subtype or file extension. */
static const char *image_format(const char *f)
{
    static const char *const fmts[] = { "png", "jpeg", "gif", "webp" };

    if (strncasecmp(f, "jpg", 3) == 0)
        return "jpeg";
    for (size_t i = 0; i < 4; i++)
        if (strncasecmp(f, fmts[i], strlen(fmts[i])) == 0)
            return fmts[i];
    return NULL;
}

/* "data:image/png;base64,..." or "s3://bucket/key.png" -> image block. */
static json_object *image_block(const char *url, struct buf *why)
{
    json_object *b, *img, *src = json_object_new_object(), *loc;
    const char *fmt = NULL, *comma = strchr(url, ','), *ext;

    if (strncmp(url, "data:image/", 11) == 0 && comma != NULL &&
        strstr(url, ";base64,") == comma - 7) {
        fmt = image_format(url + 11);
        jadd(src, "bytes", json_object_new_string(comma + 1));
    } else if (strncmp(url, "s3://", 5) == 0 &&
               (ext = strrchr(url, '.')) != NULL) {
        fmt = image_format(ext + 1);
        loc = json_object_new_object();
        jadd(loc, "uri", json_object_new_string(url));
        jadd(src, "s3Location", loc);
    } else {
        buf_adds(why, "bedrock takes images as data: URLs (base64) or "
                 "s3:// URIs");
        json_object_put(src);
        return NULL;
    }
    if (fmt == NULL) {
        buf_adds(why, "image format not supported by bedrock (png, jpeg, "
                 "gif, webp)");
        json_object_put(src);
        return NULL;
    }
    img = json_object_new_object();
    jadd(img, "format", json_object_new_string(fmt));
    jadd(img, "source", src);
    b = json_object_new_object();
    jadd(b, "image", img);
    return b;
}

/* A user message's content (string or parts) -> blocks. */
static int user_blocks(json_object *content, json_object *blocks,
                       struct buf *why)
{
    size_t n;

    if (content == NULL || json_object_is_type(content, json_type_null))
        return 0;
    if (json_object_is_type(content, json_type_string)) {
        if (json_object_get_string_len(content) > 0)
            json_object_array_add(blocks, text_block(
                json_object_get_string(content),
                (size_t)json_object_get_string_len(content)));
        return 0;
    }
    if (!json_object_is_type(content, json_type_array)) {
        buf_adds(why, "message content must be a string or an array");
        return -1;
    }
    n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(content, i), *iu, *b;
        const char *type = jget_str(part, "type"), *t;

        if (type != NULL && strcmp(type, "text") == 0) {
            if ((t = jget_str(part, "text")) != NULL && *t != '\0')
                json_object_array_add(blocks, text_block(t, strlen(t)));
        } else if (type != NULL && strcmp(type, "image_url") == 0 &&
                   json_object_object_get_ex(part, "image_url", &iu)) {
            t = json_object_is_type(iu, json_type_string)
                ? json_object_get_string(iu) : jget_str(iu, "url");
            if (t == NULL || (b = image_block(t, why)) == NULL) {
                if (why->len == 0)
                    buf_adds(why, "image_url needs a url");
                return -1;
            }
            json_object_array_add(blocks, b);
        } else {
            buf_addf(why, "content part type '%s' is not supported by "
                     "bedrock", type ? type : "?");
            return -1;
        }
    }
    return 0;
}

/* An OpenAI tool call -> {"toolUse":{toolUseId, name, input}}. */
static int tool_use_block(json_object *call, json_object *blocks,
                          struct buf *why)
{
    json_object *fn, *input, *tu, *b;
    const char *args, *id = jget_str(call, "id"), *name;

    if (!json_object_object_get_ex(call, "function", &fn) || id == NULL ||
        (name = jget_str(fn, "name")) == NULL) {
        buf_adds(why, "tool_calls need an id and a function name");
        return -1;
    }
    args = jget_str(fn, "arguments");
    input = args != NULL && *args != '\0'
            ? jparse(args, strlen(args), NULL) : json_object_new_object();
    if (input == NULL || !json_object_is_type(input, json_type_object)) {
        json_object_put(input);
        buf_adds(why, "tool call arguments must be a JSON object");
        return -1;
    }
    tu = json_object_new_object();
    jadd(tu, "toolUseId", json_object_new_string(id));
    jadd(tu, "name", json_object_new_string(name));
    jadd(tu, "input", input);
    b = json_object_new_object();
    jadd(b, "toolUse", tu);
    json_object_array_add(blocks, b);
    return 0;
}

static int assistant_blocks(json_object *msg, json_object *blocks,
                            struct buf *why)
{
    struct buf t = BUF_INIT((size_t)64 << 20);
    json_object *content = NULL, *calls;
    int rc = 0;

    json_object_object_get_ex(msg, "content", &content);
    oai_content_text(content, &t);
    if (t.len > 0)
        json_object_array_add(blocks, text_block(t.ptr, t.len));
    buf_release(&t);
    if (json_object_object_get_ex(msg, "tool_calls", &calls) &&
        json_object_is_type(calls, json_type_array))
        for (size_t i = 0; rc == 0 && i < json_object_array_length(calls);
             i++)
            rc = tool_use_block(json_object_array_get_idx(calls, i), blocks,
                                why);
    return rc;
}

/* {role:"tool", tool_call_id, content} -> {"toolResult":{...}} */
static int tool_result_block(json_object *msg, json_object *blocks,
                             struct buf *why)
{
    struct buf t = BUF_INIT((size_t)64 << 20);
    json_object *content = NULL, *tr, *arr, *b;
    const char *id = jget_str(msg, "tool_call_id");

    if (id == NULL) {
        buf_adds(why, "tool messages need a tool_call_id");
        return -1;
    }
    json_object_object_get_ex(msg, "content", &content);
    oai_content_text(content, &t);
    arr = json_object_new_array();
    if (t.len > 0)
        json_object_array_add(arr, text_block(t.ptr, t.len));
    buf_release(&t);
    tr = json_object_new_object();
    jadd(tr, "toolUseId", json_object_new_string(id));
    jadd(tr, "content", arr);
    b = json_object_new_object();
    jadd(b, "toolResult", tr);
    json_object_array_add(blocks, b);
    return 0;
}

/* Appends blocks as a message of role, merged into the previous message
 * when it has the same role (Bedrock wants roles to alternate). Consumes
 * blocks. */
static void push_blocks(json_object *msgs, const char *role,
                        json_object *blocks)
{
    size_t n = json_object_array_length(msgs);
    json_object *last = n > 0 ? json_object_array_get_idx(msgs, n - 1)
                              : NULL, *lb, *m;

    if (json_object_array_length(blocks) == 0) {
        json_object_put(blocks);
        return;
    }
    if (last != NULL && strcmp(jget_str(last, "role"), role) == 0 &&
        json_object_object_get_ex(last, "content", &lb)) {
        for (size_t i = 0; i < json_object_array_length(blocks); i++)
            json_object_array_add(lb, json_object_get(
                json_object_array_get_idx(blocks, i)));
        json_object_put(blocks);
        return;
    }
    m = json_object_new_object();
    jadd(m, "role", json_object_new_string(role));
    jadd(m, "content", blocks);
    json_object_array_add(msgs, m);
}

/* One unified message into system or msgs. */
static int add_message(json_object *msg, json_object *system,
                       json_object *msgs, int *tool_blocks, struct buf *why)
{
    const char *role = jget_str(msg, "role");
    json_object *content = NULL, *blocks;
    int rc = 0;

    if (role == NULL) {
        buf_adds(why, "messages need a role");
        return -1;
    }
    json_object_object_get_ex(msg, "content", &content);
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
        struct buf t = BUF_INIT((size_t)64 << 20);

        oai_content_text(content, &t);
        if (t.len > 0)
            json_object_array_add(system, text_block(t.ptr, t.len));
        buf_release(&t);
        return 0;
    }
    blocks = json_object_new_array();
    if (strcmp(role, "user") == 0) {
        rc = user_blocks(content, blocks, why);
    } else if (strcmp(role, "assistant") == 0) {
        rc = assistant_blocks(msg, blocks, why);
        *tool_blocks |= json_object_object_get_ex(msg, "tool_calls", NULL);
    } else if (strcmp(role, "tool") == 0) {
        rc = tool_result_block(msg, blocks, why);
        *tool_blocks = 1;
    } else {
        buf_addf(why, "role '%s' is not supported by bedrock", role);
        rc = -1;
    }
    if (rc < 0) {
        json_object_put(blocks);
        return -1;
    }
    push_blocks(msgs, strcmp(role, "assistant") == 0 ? "assistant" : "user",
                blocks);
    return 0;
}

/* inferenceConfig from max tokens, temperature, top_p and stop. */
static void add_inference(json_object *req, json_object *root)
{
    json_object *ic = json_object_new_object(), *v, *stops;
    long long max = oai_max_tokens(req, -1);

    if (max > 0)
        jadd(ic, "maxTokens", json_object_new_int64(max));
    if (json_object_object_get_ex(req, "temperature", &v) &&
        (json_object_is_type(v, json_type_double) ||
         json_object_is_type(v, json_type_int)))
        jadd(ic, "temperature", json_object_get(v));
    if (json_object_object_get_ex(req, "top_p", &v) &&
        (json_object_is_type(v, json_type_double) ||
         json_object_is_type(v, json_type_int)))
        jadd(ic, "topP", json_object_get(v));
    if (json_object_object_get_ex(req, "stop", &v)) {
        stops = json_object_new_array();
        if (json_object_is_type(v, json_type_string))
            json_object_array_add(stops, json_object_get(v));
        else if (json_object_is_type(v, json_type_array))
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *s = json_object_array_get_idx(v, i);

                if (json_object_is_type(s, json_type_string))
                    json_object_array_add(stops, json_object_get(s));
            }
        if (json_object_array_length(stops) > 0)
            jadd(ic, "stopSequences", stops);
        else
            json_object_put(stops);
    }
    if (json_object_object_length(ic) > 0)
        jadd(root, "inferenceConfig", ic);
    else
        json_object_put(ic);
}

static json_object *tool_spec(json_object *tool, struct buf *why)
{
    json_object *fn, *spec, *schema, *b;
    const char *name, *desc;

    if (!json_object_object_get_ex(tool, "function", &fn) ||
        (name = jget_str(fn, "name")) == NULL) {
        buf_adds(why, "tools need a function name");
        return NULL;
    }
    spec = json_object_new_object();
    jadd(spec, "name", json_object_new_string(name));
    if ((desc = jget_str(fn, "description")) != NULL && *desc != '\0')
        jadd(spec, "description", json_object_new_string(desc));
    schema = json_object_new_object();
    jadd(schema, "json", oai_tool_schema(fn));
    jadd(spec, "inputSchema", schema);
    b = json_object_new_object();
    jadd(b, "toolSpec", spec);
    return b;
}

/* tool_choice -> toolChoice; NULL for "auto"-like defaults and "none". */
static json_object *tool_choice(json_object *req, int *none)
{
    json_object *tc, *fn, *o = json_object_new_object(), *t;
    const char *s, *name;

    *none = 0;
    if (!json_object_object_get_ex(req, "tool_choice", &tc)) {
        json_object_put(o);
        return NULL;
    }
    s = json_object_is_type(tc, json_type_string)
        ? json_object_get_string(tc) : NULL;
    if (s != NULL && strcmp(s, "required") == 0) {
        jadd(o, "any", json_object_new_object());
    } else if (s == NULL && json_object_object_get_ex(tc, "function", &fn) &&
               (name = jget_str(fn, "name")) != NULL) {
        t = json_object_new_object();
        jadd(t, "name", json_object_new_string(name));
        jadd(o, "tool", t);
    } else if (s != NULL && strcmp(s, "auto") == 0) {
        jadd(o, "auto", json_object_new_object());
    } else {
        *none = s != NULL && strcmp(s, "none") == 0;
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* toolConfig. Bedrock has no "none" choice: with "none" the tools are
 * left out, unless the conversation holds tool blocks (which need a
 * toolConfig); then they stay without a choice. */
static int add_tools(json_object *req, json_object *root, int tool_blocks,
                     struct buf *why)
{
    json_object *tools, *cfg, *arr, *choice;
    int none;

    if (!json_object_object_get_ex(req, "tools", &tools) ||
        !json_object_is_type(tools, json_type_array) ||
        json_object_array_length(tools) == 0)
        return 0;
    choice = tool_choice(req, &none);
    if (none && !tool_blocks)
        return 0;
    arr = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(tools); i++) {
        json_object *spec = tool_spec(json_object_array_get_idx(tools, i),
                                      why);

        if (spec == NULL) {
            json_object_put(arr);
            json_object_put(choice);
            return -1;
        }
        json_object_array_add(arr, spec);
    }
    cfg = json_object_new_object();
    jadd(cfg, "tools", arr);
    if (choice != NULL)
        jadd(cfg, "toolChoice", choice);
    jadd(root, "toolConfig", cfg);
    return 0;
}

static int build_chat(struct provider_call *c, json_object *root)
{
    json_object *in, *system = json_object_new_array();
    json_object *msgs = json_object_new_array();
    int tool_blocks = 0;

    jadd(root, "messages", msgs);
    if (!json_object_object_get_ex(c->req, "messages", &in) ||
        !json_object_is_type(in, json_type_array)) {
        json_object_put(system);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(in); i++)
        if (add_message(json_object_array_get_idx(in, i), system, msgs,
                        &tool_blocks, c->scratch) < 0) {
            json_object_put(system);
            return -1;
        }
    if (json_object_array_length(system) > 0)
        jadd(root, "system", system);
    else
        json_object_put(system);
    add_inference(c->req, root);
    return add_tools(c->req, root, tool_blocks, c->scratch);
}

/* --- request: InvokeModel embeddings ------------------------------------ */

enum embed_kind { EMBED_NONE, EMBED_TITAN, EMBED_COHERE };

static enum embed_kind embed_kind(const char *model)
{
    if (strstr(model, "cohere.embed") != NULL)
        return EMBED_COHERE;
    if (strstr(model, "titan-embed") != NULL)
        return EMBED_TITAN;
    return EMBED_NONE;
}

/* Titan: {"inputText"} (one input per call); Cohere: {"texts",
 * "input_type"}. */
static int build_embed(struct provider_call *c, json_object *root)
{
    enum embed_kind k = embed_kind(c->model);
    json_object *in = NULL, *texts, *dim;
    const char *it = jget_str(c->req, "input_type");

    json_object_object_get_ex(c->req, "input", &in);
    if (k == EMBED_NONE) {
        buf_adds(c->scratch, "this bedrock model has no known embeddings "
                 "body (Titan or Cohere embed models)");
        return -1;
    }
    texts = json_object_new_array();
    if (json_object_is_type(in, json_type_string))
        json_object_array_add(texts, json_object_get(in));
    else
        for (size_t i = 0; i < json_object_array_length(in); i++) {
            json_object *s = json_object_array_get_idx(in, i);

            if (!json_object_is_type(s, json_type_string)) {
                buf_adds(c->scratch, "bedrock embeddings take strings, "
                         "not token arrays");
                json_object_put(texts);
                return -1;
            }
            json_object_array_add(texts, json_object_get(s));
        }
    if (k == EMBED_COHERE) {
        jadd(root, "texts", texts);
        jadd(root, "input_type",
             json_object_new_string(it ? it : "search_document"));
        return 0;
    }
    if (json_object_array_length(texts) != 1) {
        buf_adds(c->scratch, "Titan embedding models take one input per "
                 "request");
        json_object_put(texts);
        return -1;
    }
    jadd(root, "inputText", json_object_get(
        json_object_array_get_idx(texts, 0)));
    json_object_put(texts);
    if (json_object_object_get_ex(c->req, "dimensions", &dim) &&
        json_object_is_type(dim, json_type_int))
        jadd(root, "dimensions", json_object_get(dim));
    return 0;
}

static int bedrock_build(struct provider_call *c)
{
    json_object *root = json_object_new_object();
    const char *action;
    int rc;

    if (c->op == PROV_EMBED) {
        rc = build_embed(c, root);
        action = "/invoke";
    } else {
        rc = build_chat(c, root);
        action = c->stream ? "/converse-stream" : "/converse";
    }
    if (rc == 0) {
        buf_adds(c->body, json_object_to_json_string_ext(root, JSON_OUT));
        rc = finish_request(c, action, time(NULL));
    }
    json_object_put(root);
    return rc;
}

/* --- replies ------------------------------------------------------------ */

/* TokenUsage: inputTokens excludes cache reads and writes; OpenAI's
 * prompt_tokens includes them, with reads as cached_tokens. */
static void read_usage(json_object *u, struct usage_event *ev)
{
    long long in, out, cr, cw;

    if (u == NULL || !json_object_is_type(u, json_type_object))
        return;
    in = jget_int(u, "inputTokens", -1);
    out = jget_int(u, "outputTokens", -1);
    if (in < 0 || out < 0)
        return;
    cr = jget_int(u, "cacheReadInputTokens", 0);
    cw = jget_int(u, "cacheWriteInputTokens", 0);
    oai_set_usage(ev, in + cr + cw, out, cr);
}

static const char *finish_reason(const char *stop)
{
    if (stop == NULL)
        return "stop";
    if (strcmp(stop, "max_tokens") == 0 ||
        strcmp(stop, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(stop, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(stop, "guardrail_intervened") == 0 ||
        strcmp(stop, "content_filtered") == 0)
        return "content_filter";
    return "stop";
}

static void served_model(struct provider_call *c)
{
    if (c->ev->served_model[0] == '\0')
        usage_set(c->ev->served_model, sizeof(c->ev->served_model),
                  c->model);
}

/* output.message.content -> OpenAI assistant message. */
static json_object *reply_message(json_object *content)
{
    struct buf text = BUF_INIT((size_t)64 << 20);
    json_object *msg = json_object_new_object(), *calls;
    json_object *b, *tu, *v;

    calls = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(content); i++) {
        b = json_object_array_get_idx(content, i);
        if (json_object_object_get_ex(b, "text", &v) &&
            json_object_is_type(v, json_type_string)) {
            buf_add(&text, json_object_get_string(v),
                    (size_t)json_object_get_string_len(v));
        } else if (json_object_object_get_ex(b, "toolUse", &tu)) {
            json_object *call = json_object_new_object();
            json_object *fn = json_object_new_object(), *input = NULL;

            json_object_object_get_ex(tu, "input", &input);
            jadd(call, "id", json_object_new_string(
                jget_str(tu, "toolUseId") ? jget_str(tu, "toolUseId") : ""));
            jadd(call, "type", json_object_new_string("function"));
            jadd(fn, "name", json_object_new_string(
                jget_str(tu, "name") ? jget_str(tu, "name") : ""));
            jadd(fn, "arguments", json_object_new_string(
                input ? json_object_to_json_string_ext(input, JSON_OUT)
                      : "{}"));
            jadd(call, "function", fn);
            json_object_array_add(calls, call);
        }
    }
    jadd(msg, "role", json_object_new_string("assistant"));
    /* content is null beside tool calls; json-c adds NULL as null */
    json_object_object_add(msg, "content",
        text.len > 0 || json_object_array_length(calls) == 0
        ? json_object_new_string_len(text.ptr ? text.ptr : "",
                                     (int)text.len) : NULL);
    json_object_object_add(msg, "refusal", NULL);
    if (json_object_array_length(calls) > 0)
        jadd(msg, "tool_calls", calls);
    else
        json_object_put(calls);
    buf_release(&text);
    return msg;
}

static int parse_chat(struct provider_call *c, json_object *root,
                      struct buf *out)
{
    json_object *o, *m, *content, *u = NULL, *msg;

    if (!json_object_object_get_ex(root, "output", &o) ||
        !json_object_object_get_ex(o, "message", &m) ||
        !json_object_object_get_ex(m, "content", &content) ||
        !json_object_is_type(content, json_type_array))
        return -1;
    json_object_object_get_ex(root, "usage", &u);
    read_usage(u, c->ev);
    served_model(c);
    msg = reply_message(content);
    oai_completion(out, c->request_id, c->model, msg,
                   finish_reason(jget_str(root, "stopReason")), c->ev);
    json_object_put(msg);
    return buf_error(out) ? -1 : 0;
}

static void add_embedding(struct buf *out, size_t i, json_object *vec)
{
    if (i > 0)
        buf_addc(out, ',');
    buf_addf(out, "{\"object\":\"embedding\",\"index\":%zu,\"embedding\":",
             i);
    buf_adds(out, json_object_to_json_string_ext(vec, JSON_OUT));
    buf_addc(out, '}');
}

static int parse_embed(struct provider_call *c, json_object *root,
                       struct buf *out)
{
    json_object *v;
    long long n = jget_int(root, "inputTextTokenCount", -1);

    buf_adds(out, "{\"object\":\"list\",\"data\":[");
    if (json_object_object_get_ex(root, "embedding", &v) &&
        json_object_is_type(v, json_type_array)) {
        add_embedding(out, 0, v);
    } else if (json_object_object_get_ex(root, "embeddings", &v)) {
        if (json_object_is_type(v, json_type_object))   /* by type */
            json_object_object_get_ex(v, "float", &v);
        if (!json_object_is_type(v, json_type_array))
            return -1;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            add_embedding(out, i, json_object_array_get_idx(v, i));
    } else {
        return -1;
    }
    if (n >= 0)
        oai_set_usage(c->ev, n, 0, 0);
    served_model(c);
    buf_adds(out, "],\"model\":");
    buf_add_json_str(out, c->model, strlen(c->model));
    buf_addf(out, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":"
             "%lld}}", (long long)c->ev->prompt_tokens,
             (long long)c->ev->total_tokens);
    return buf_error(out) ? -1 : 0;
}

static int bedrock_parse(struct provider_call *c, const char *body,
                         size_t len, struct buf *out)
{
    json_object *root = jparse(body, len, NULL);
    int rc = -1;

    if (root != NULL && json_object_is_type(root, json_type_object))
        rc = c->op == PROV_EMBED ? parse_embed(c, root, out)
                                 : parse_chat(c, root, out);
    json_object_put(root);
    return rc;
}

/* --- stream ------------------------------------------------------------- */

static int tool_index(struct bedrock_st *s, json_object *ev)
{
    long long b = jget_int(ev, "contentBlockIndex", -1);

    if (b >= 0 && b < MAX_BLOCKS && s->tool_of_block[b] >= 0)
        return s->tool_of_block[b];
    return s->n_tools > 0 ? s->n_tools - 1 : 0;
}

static int on_block_start(struct bedrock_st *s, json_object *ev)
{
    json_object *st, *tu;
    long long b = jget_int(ev, "contentBlockIndex", -1);
    int idx;

    if (!json_object_object_get_ex(ev, "start", &st) ||
        !json_object_object_get_ex(st, "toolUse", &tu))
        return 0;
    idx = s->n_tools++;
    if (b >= 0 && b < MAX_BLOCKS)
        s->tool_of_block[b] = idx;
    return oai_emit_tool_call(&s->os, s->c, s->sink, idx,
                              jget_str(tu, "toolUseId") ?
                              jget_str(tu, "toolUseId") : "",
                              jget_str(tu, "name") ? jget_str(tu, "name")
                                                    : "", "", 0);
}

static int on_block_delta(struct bedrock_st *s, json_object *ev)
{
    json_object *d, *v, *tu;

    if (!json_object_object_get_ex(ev, "delta", &d))
        return 0;
    if (json_object_object_get_ex(d, "text", &v) &&
        json_object_is_type(v, json_type_string)) {
        if (json_object_get_string_len(v) == 0)
            return 0;
        return oai_emit_text(&s->os, s->c, s->sink, json_object_get_string(v),
                             (size_t)json_object_get_string_len(v));
    }
    if (json_object_object_get_ex(d, "toolUse", &tu) &&
        json_object_object_get_ex(tu, "input", &v) &&
        json_object_is_type(v, json_type_string))
        return oai_emit_tool_call(&s->os, s->c, s->sink, tool_index(s, ev),
                                  NULL, NULL, json_object_get_string(v),
                                  (size_t)json_object_get_string_len(v));
    return 0;   /* reasoningContent and the like: not relayed */
}

/* metadata ends the stream (it follows messageStop). */
static int on_metadata(struct bedrock_st *s, json_object *ev)
{
    json_object *u = NULL;
    int rc = 0;

    json_object_object_get_ex(ev, "usage", &u);
    read_usage(u, s->c->ev);
    if (s->c->ev->has_usage)
        rc = oai_emit_usage(&s->os, s->c, s->sink);
    *s->done = 1;
    return rc;
}

static int on_event(struct bedrock_st *s, const char *type, json_object *ev)
{
    if (strcmp(type, "messageStart") == 0)
        return oai_emit_text(&s->os, s->c, s->sink, "", 0);
    if (strcmp(type, "contentBlockStart") == 0)
        return on_block_start(s, ev);
    if (strcmp(type, "contentBlockDelta") == 0)
        return on_block_delta(s, ev);
    if (strcmp(type, "messageStop") == 0)
        return oai_emit_finish(&s->os, s->c, s->sink,
                               finish_reason(jget_str(ev, "stopReason")));
    if (strcmp(type, "metadata") == 0)
        return on_metadata(s, ev);
    return 0;   /* contentBlockStop, unknown events */
}

/* An exception (or error) message ends the stream with an error. */
static int on_exception(struct bedrock_st *s, const struct es_message *m)
{
    size_t tlen = 0;
    const char *t = es_header_str(m, ":exception-type", &tlen);

    if (t == NULL)
        t = es_header_str(m, ":error-code", &tlen);
    log_warn(s->c->request_id, "bedrock stream %.*s: %.*s",
             (int)(t ? tlen : 7), t ? t : "failure",
             (int)(m->payload_len > 300 ? 300 : m->payload_len),
             (const char *)m->payload);
    return -1;
}

static int on_message(void *ud, const struct es_message *m)
{
    struct bedrock_st *s = ud;
    char type[64];
    size_t len;
    const char *t;
    json_object *ev;
    int rc;

    if (*s->done)
        return 0;
    if (!es_header_is(m, ":message-type", "event"))
        return on_exception(s, m);
    t = es_header_str(m, ":event-type", &len);
    if (t == NULL || len >= sizeof(type))
        return 0;
    memcpy(type, t, len);
    type[len] = '\0';
    ev = jparse((const char *)m->payload, m->payload_len, NULL);
    if (ev == NULL || !json_object_is_type(ev, json_type_object)) {
        json_object_put(ev);
        return -1;
    }
    rc = on_event(s, type, ev);
    json_object_put(ev);
    return rc;
}

static struct bedrock_st *stream_state(struct provider_call *c)
{
    struct bedrock_st *s = c->st;

    if (s != NULL)
        return s;
    s = xcalloc(1, sizeof(*s));
    es_init(&s->dec, ES_DEFAULT_MAX);
    oai_stream_init(&s->os, c->request_id, c->model);
    memset(s->tool_of_block, -1, sizeof(s->tool_of_block));
    served_model(c);
    c->st = s;
    return s;
}

static int bedrock_stream(struct provider_call *c, const char *p, size_t n,
                          struct chunk_sink *sink, int *done)
{
    struct bedrock_st *s = stream_state(c);
    int rc;

    s->c = c;
    s->sink = sink;
    s->done = done;
    rc = es_feed(&s->dec, p, n, on_message, s);
    if (rc != 0 && rc != ES_ESTOP)
        log_warn(c->request_id, "bedrock stream: %s", es_strerror(rc));
    return rc == 0 ? 0 : -1;
}

static void bedrock_finish(struct provider_call *c)
{
    struct bedrock_st *s = c->st;

    if (s == NULL)
        return;
    es_release(&s->dec);
    free(s);
    c->st = NULL;
}

/* --- errors ------------------------------------------------------------- */

/* The exception name for a status (the x-amzn-ErrorType header is not
 * seen here). */
static const char *status_code(long status)
{
    switch (status) {
    case 400: return "ValidationException";
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408: return "ModelTimeoutException";
    case 424: return "ModelErrorException";
    case 429: return "ThrottlingException";
    case 500: return "InternalServerException";
    case 503: return "ServiceUnavailableException";
    default: return "upstream_error";
    }
}

/* {"message":".."} (or "Message"), optionally "__type", -> OpenAI. */
static void bedrock_error(struct provider_call *c, long status,
                          const char *body, size_t len, struct buf *out)
{
    json_object *o = jparse(body, len, NULL);
    const char *msg = jget_str(o, "message"), *type = jget_str(o, "__type");
    char fallback[128];

    (void)c;
    if (msg == NULL)
        msg = jget_str(o, "Message");
    if (type != NULL && strchr(type, '#') != NULL)
        type = strchr(type, '#') + 1;
    if (msg == NULL) {
        snprintf(fallback, sizeof(fallback),
                 "the upstream provider answered HTTP %ld", status);
        msg = fallback;
    }
    oai_error(out, msg, oai_error_type(status),
              type != NULL ? type : status_code(status));
    json_object_put(o);
}

const struct provider_ops provider_bedrock = {
    .name = "bedrock",
    .init = bedrock_init,
    .destroy = bedrock_destroy,
    .build = bedrock_build,
    .parse = bedrock_parse,
    .stream = bedrock_stream,
    .error = bedrock_error,
    .finish = bedrock_finish,
};
