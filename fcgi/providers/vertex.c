/* Google Vertex AI, Gemini models: the Gemini dialect (gemini.h) at
 * {base_url}/projects/{project}/locations/{region}/publishers/google/
 * models/{model}:generateContent (or :streamGenerateContent?alt=sse), with
 * an OAuth access token from a service account (gauth.h).
 *
 * Settings: project (required), region or location (default
 * us-central1), base_url (default https://{region}-aiplatform.
 * googleapis.com/v1; aiplatform.googleapis.com for "global"),
 * credentials_file (required: a service-account JSON key), token_url
 * (default: the key's token_uri, else https://oauth2.googleapis.com/
 * token), scope (default https://www.googleapis.com/auth/cloud-platform).
 * Claude models on Vertex (publishers/anthropic, :rawPredict) are not
 * handled here yet. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../buf.h"
#include "../config.h"
#include "../gauth.h"
#include "../log.h"
#include "../xalloc.h"
#include "anthropic.h"
#include "gemini.h"
#include "provider.h"

struct vertex {
    char *project;
    char *region;
    struct gauth *auth;
};

static int fail(struct provider_call *c, const char *msg)
{
    buf_reset(c->scratch);
    buf_adds(c->scratch, msg);
    return -1;
}

/* Project ids (also "domain.com:project") and region names go into the
 * URL path as they are. */
static int path_safe(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr(".:_-", *s) != NULL))
            return 0;
    return 1;
}

static int check_names(struct backend *be, struct vertex *v, char *err,
                       size_t errsz)
{
    char url[256];

    if (!path_safe(v->project)) {
        snprintf(err, errsz, "project is required (letters, digits, "
                 ". : _ -)");
        return -1;
    }
    if (!path_safe(v->region)) {
        snprintf(err, errsz, "region must be letters, digits, . : _ -");
        return -1;
    }
    if (be->base_url == NULL || *be->base_url == '\0') {
        if (strcmp(v->region, "global") == 0)
            snprintf(url, sizeof(url), "https://aiplatform.googleapis.com"
                     "/v1");
        else
            snprintf(url, sizeof(url), "https://%s-aiplatform.googleapis."
                     "com/v1", v->region);
        free(be->base_url);
        be->base_url = xstrdup(url);
    }
    return 0;
}

static int vertex_init(struct backend *be, json_object *conf, char *err,
                       size_t errsz)
{
    struct vertex *v = xcalloc(1, sizeof(*v));
    struct gauth_opts o = { 0 };
    char *cred = NULL, *token_url = NULL, *scope = NULL, *loc = NULL;
    int rc = -1;

    be->pstate = v;
    if (config_opt_str(conf, "project", &v->project, err, errsz) < 0 ||
        config_opt_str(conf, "region", &v->region, err, errsz) < 0 ||
        config_opt_str(conf, "location", &loc, err, errsz) < 0 ||
        config_opt_str(conf, "credentials_file", &cred, err, errsz) < 0 ||
        config_opt_str(conf, "token_url", &token_url, err, errsz) < 0 ||
        config_opt_str(conf, "scope", &scope, err, errsz) < 0)
        goto out;
    if (v->region == NULL) {
        v->region = loc != NULL ? loc : xstrdup("us-central1");
        loc = NULL;
    }
    if (check_names(be, v, err, errsz) < 0)
        goto out;
    o.credentials_file = cred;
    o.token_url = token_url;
    o.scope = scope;
    o.connect_timeout_ms = be->connect_timeout_ms;
    o.timeout_ms = be->timeout_ms < 30000 ? be->timeout_ms : 30000;
    v->auth = gauth_new(&o, err, errsz);
    rc = v->auth != NULL ? 0 : -1;
out:
    free(cred);
    free(token_url);
    free(scope);
    free(loc);
    return rc;
}

static void vertex_destroy(struct backend *be)
{
    struct vertex *v = be->pstate;

    if (v == NULL)
        return;
    gauth_free(v->auth);
    free(v->project);
    free(v->region);
    free(v);
    be->pstate = NULL;
}

/* Authorization: Bearer <token>, or 502 when no token can be had. The
 * token's generation goes to c->cred_gen (dropped after a 401). */
static int add_token(struct provider_call *c, struct vertex *v)
{
    struct buf tok = BUF_INIT(16384);
    char err[256];
    int rc = 0;

    if (gauth_token(v->auth, &tok, &c->cred_gen, err, sizeof(err)) < 0) {
        log_warn(c->request_id, "%s: no access token: %s", c->be->name, err);
        c->build_status = 502;
        buf_reset(c->scratch);
        buf_addf(c->scratch, "could not obtain a Google access token for "
                 "this backend: %s", err);
        rc = -1;
    } else {
        gemini_add_header(c, "Authorization: Bearer ", tok.ptr);
    }
    if (tok.ptr != NULL)
        memset(tok.ptr, 0, tok.len);
    buf_release(&tok);
    return rc;
}

/* Claude models are served by Anthropic's publisher on Vertex AI, in the
 * Messages dialect (rawPredict / streamRawPredict). */
static int is_claude(const struct provider_call *c)
{
    return strncmp(c->model, "claude", 6) == 0;
}

#define VERTEX_ANTHROPIC_VERSION "vertex-2023-10-16"
#define VERTEX_CLAUDE_MAX_TOKENS 4096

static int claude_build(struct provider_call *c, struct vertex *v)
{
    if (anthropic_messages_body(c, VERTEX_ANTHROPIC_VERSION,
                                VERTEX_CLAUDE_MAX_TOKENS, c->body) < 0)
        return -1;
    buf_addf(c->url, "%s/projects/%s/locations/%s/publishers/anthropic/"
             "models/%s:%s", c->be->base_url, v->project, v->region,
             c->model, c->stream ? "streamRawPredict" : "rawPredict");
    if (buf_error(c->url))
        return fail(c, "the model name is too long");
    if (add_token(c, v) < 0)
        return -1;
    gemini_add_json_headers(c);
    return 0;
}

static int vertex_build(struct provider_call *c)
{
    struct vertex *v = c->be->pstate;

    if (!gemini_model_ok(c->model))
        return fail(c, "model names for this provider may only contain "
                       "letters, digits and . _ @ -");
    if (c->op == PROV_EMBED) {
        if (gemini_vertex_embed_body(c) < 0)
            return -1;
        buf_addf(c->url, "%s/projects/%s/locations/%s/publishers/google/"
                 "models/%s:predict", c->be->base_url, v->project,
                 v->region, c->model);
        if (buf_error(c->url) || add_token(c, v) < 0)
            return buf_error(c->url) ? fail(c, "the model name is too long")
                                     : -1;
        gemini_add_json_headers(c);
        return 0;
    }
    if (is_claude(c))
        return claude_build(c, v);
    if (gemini_chat_body(c) < 0)
        return -1;
    buf_addf(c->url, "%s/projects/%s/locations/%s/publishers/google/models/"
             "%s:%s", c->be->base_url, v->project, v->region, c->model,
             c->stream ? "streamGenerateContent?alt=sse" : "generateContent");
    if (buf_error(c->url))
        return fail(c, "the model name is too long");
    if (add_token(c, v) < 0)
        return -1;
    gemini_add_json_headers(c);
    return 0;
}

/* A 401 means the token was revoked or expired early: forget it, so the
 * next request fetches a new one. */
static void vertex_error(struct provider_call *c, long status,
                         const char *body, size_t len, struct buf *out)
{
    struct vertex *v = c->be->pstate;

    if (status == 401)
        gauth_invalidate(v->auth, c->cred_gen);
    if (is_claude(c))
        anthropic_error(c, status, body, len, out);
    else
        gemini_error(c, status, body, len, out);
}

static int vertex_parse(struct provider_call *c, const char *body,
                        size_t len, struct buf *out)
{
    return is_claude(c) ? anthropic_parse(c, body, len, out)
                        : gemini_parse(c, body, len, out);
}

static int vertex_stream(struct provider_call *c, const char *p, size_t n,
                         struct chunk_sink *sink, int *done)
{
    return is_claude(c) ? anthropic_stream(c, p, n, sink, done)
                        : gemini_stream(c, p, n, sink, done);
}

static void vertex_finish(struct provider_call *c)
{
    if (is_claude(c))
        anthropic_finish(c);
    else
        gemini_finish(c);
}

const struct provider_ops provider_vertex = {
    .name = "vertex",
    .init = vertex_init,
    .destroy = vertex_destroy,
    .build = vertex_build,
    .parse = vertex_parse,
    .stream = vertex_stream,
    .error = vertex_error,
    .finish = vertex_finish,
};
