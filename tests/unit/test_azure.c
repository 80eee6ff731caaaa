/* Azure OpenAI: settings, URLs and credentials, the body sent, and the
 * reply, stream and error translations on fixed inputs. */
#include "../../fcgi/providers/azure.c"

#include <unistd.h>

#include "../../fcgi/sse.h"
#include "t.h"

struct fixture {
    struct backend be;
    struct provider_call c;
    struct usage_event ev;
    struct sse_parser sse;
    struct buf url, body, scratch;
};

static int setup(struct fixture *f, const char *api_key, const char *conf,
                 char *err, size_t errsz)
{
    json_object *o = json_tokener_parse(conf);
    int rc;

    memset(f, 0, sizeof(*f));
    f->be.name = xstrdup("azure");
    f->be.base_url = xstrdup("https://res.openai.azure.com");
    f->be.api_key = api_key ? xstrdup(api_key) : NULL;
    f->be.ops = &provider_azure;
    rc = azure_init(&f->be, o, err, errsz);
    json_object_put(o);
    return rc;
}

static void call_init(struct fixture *f, const char *req, const char *model,
                      enum provider_op op, int stream)
{
    usage_event_init(&f->ev);
    sse_init(&f->sse, 1 << 20);
    buf_init(&f->url, 1 << 16);
    buf_init(&f->body, 1 << 20);
    buf_init(&f->scratch, 1 << 20);
    f->c = (struct provider_call){
        .be = &f->be, .op = op, .req = json_tokener_parse(req),
        .model = model, .stream = stream, .request_id = "rid-1",
        .ev = &f->ev, .sse = &f->sse, .scratch = &f->scratch,
        .url = &f->url, .body = &f->body,
    };
}

static void call_release(struct fixture *f)
{
    json_object_put(f->c.req);
    curl_slist_free_all(f->c.hdrs);
    f->c.hdrs = NULL;
    sse_release(&f->sse);
    buf_release(&f->url);
    buf_release(&f->body);
    buf_release(&f->scratch);
}

static void teardown(struct fixture *f)
{
    azure_destroy(&f->be);
    free(f->be.name);
    free(f->be.base_url);
    free(f->be.api_key);
}

static int has_header(const struct curl_slist *h, const char *want)
{
    for (; h != NULL; h = h->next)
        if (strcmp(h->data, want) == 0)
            return 1;
    return 0;
}

static int header_prefix(const struct curl_slist *h, const char *prefix)
{
    for (; h != NULL; h = h->next)
        if (strncmp(h->data, prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

static const char *body_str(struct fixture *f, const char *k)
{
    static char out[256];
    json_object *o = json_tokener_parse(f->body.ptr ? f->body.ptr : "{}");
    json_object *v = NULL;

    out[0] = '\0';
    if (o != NULL && json_object_object_get_ex(o, k, &v))
        snprintf(out, sizeof(out), "%s", json_object_to_json_string_ext(v,
                 JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static void test_settings(void)
{
    struct fixture f;
    char err[256] = "";
    struct azure_conf *az;

    T_OK(setup(&f, "k", "{}", err, sizeof(err)) == 0, "init: api_key only");
    az = f.be.pstate;
    T_EQ_STR(az->api_version, "2024-10-21", "init: default api_version");
    T_OK(az->style == AZ_DEPLOYMENTS, "init: deployments style by default");
    teardown(&f);

    T_OK(setup(&f, NULL, "{}", err, sizeof(err)) < 0, "init: no credential");
    T_OK(strstr(err, "api_key or entra_token") != NULL, "init: says which");
    teardown(&f);
    T_OK(setup(&f, "k", "{\"entra_token\":\"t\"}", err, sizeof(err)) < 0,
         "init: api_key and entra_token both refused");
    teardown(&f);
    T_OK(setup(&f, "k", "{\"api_style\":\"v2\"}", err, sizeof(err)) < 0,
         "init: unknown api_style refused");
    teardown(&f);
    T_OK(setup(&f, "k", "{\"api_version\":\"2024-10-21&x=1\"}", err,
               sizeof(err)) < 0, "init: api_version must be URL-safe");
    teardown(&f);
    T_OK(setup(&f, "k", "{\"deployments\":{\"gpt-4o\":\"a/b\"}}", err,
               sizeof(err)) < 0, "init: deployment name must be URL-safe");
    T_OK(strstr(err, "deployments.gpt-4o") != NULL, "init: names the model");
    teardown(&f);
    T_OK(setup(&f, "k", "{\"deployments\":[1]}", err, sizeof(err)) < 0,
         "init: deployments must be an object");
    teardown(&f);
    memset(&f, 0, sizeof(f));
    {
        json_object *o = json_tokener_parse("{}");

        f.be.api_key = xstrdup("k");
        T_OK(azure_init(&f.be, o, err, sizeof(err)) < 0 &&
             strstr(err, "base_url is required") != NULL,
             "init: base_url required");
        json_object_put(o);
        azure_destroy(&f.be);
        free(f.be.api_key);
    }
}

static void test_build_deployments(void)
{
    struct fixture f;
    char err[256];

    setup(&f, "azure-key-1", "{\"api_version\":\"2025-01-01-preview\","
          "\"deployments\":{\"gpt-4o\":\"gpt4o-prod\","
          "\"text-embedding-3-small\":\"embed-small\"}}", err, sizeof(err));
    call_init(&f, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"hi\"}],\"stream\":true}", "gpt-4o", PROV_CHAT, 1);
    T_OK(azure_build(&f.c) == 0, "build: chat");
    T_EQ_STR(f.url.ptr, "https://res.openai.azure.com/openai/deployments/"
             "gpt4o-prod/chat/completions?api-version=2025-01-01-preview",
             "build: deployment URL with api-version");
    T_OK(has_header(f.c.hdrs, "api-key: azure-key-1"), "build: api-key");
    T_OK(!header_prefix(f.c.hdrs, "Authorization:"),
         "build: no Authorization with an api key");
    T_OK(has_header(f.c.hdrs, "Accept: text/event-stream"),
         "build: stream accept");
    T_EQ_STR(body_str(&f, "stream_options"), "{\"include_usage\":true}",
             "build: stream usage asked for");
    T_EQ_STR(body_str(&f, "model"), "\"gpt-4o\"", "build: model kept");
    call_release(&f);

    call_init(&f, "{\"model\":\"text-embedding-3-small\",\"input\":\"x\"}",
              "text-embedding-3-small", PROV_EMBED, 0);
    T_OK(azure_build(&f.c) == 0, "build: embeddings");
    T_EQ_STR(f.url.ptr, "https://res.openai.azure.com/openai/deployments/"
             "embed-small/embeddings?api-version=2025-01-01-preview",
             "build: embeddings URL");
    T_EQ_STR(body_str(&f, "stream_options"), "",
             "build: no stream_options without a stream");
    call_release(&f);

    call_init(&f, "{\"model\":\"other\",\"messages\":[]}", "other",
              PROV_CHAT, 0);
    T_OK(azure_build(&f.c) == 0, "build: unmapped model");
    T_OK(strstr(f.url.ptr, "/deployments/other/chat/completions?") != NULL,
         "build: unmapped model is the deployment");
    call_release(&f);

    call_init(&f, "{\"model\":\"../x?y\",\"messages\":[]}", "../x?y",
              PROV_CHAT, 0);
    T_OK(azure_build(&f.c) < 0, "build: unsafe deployment name refused");
    T_OK(f.scratch.len > 0, "build: with a message");
    call_release(&f);
    teardown(&f);
}

static void test_build_v1_entra(void)
{
    struct fixture f;
    char err[256], path[] = "/tmp/aigw-azure-tokXXXXXX", conf[256];
    int fd = mkstemp(path);
    FILE *fp;
    struct timespec later = { 0, 0 };

    T_OK(fd >= 0 && write(fd, "entra-1\n", 8) == 8, "entra: token file");
    close(fd);
    snprintf(conf, sizeof(conf), "{\"api_style\":\"v1\",\"entra_token_file\":"
             "\"%s\",\"deployments\":{\"gpt-4o\":\"gpt4o-prod\"}}", path);
    T_OK(setup(&f, NULL, conf, err, sizeof(err)) == 0, "init: entra file");
    call_init(&f, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"hi\"}]}", "gpt-4o", PROV_CHAT, 0);
    f.c.model = jget_str(f.c.req, "model");     /* as the relay does */
    T_OK(azure_build(&f.c) == 0, "build: v1");
    T_EQ_STR(f.c.model, "gpt-4o", "build: v1 keeps the client's model "
             "string alive");
    T_EQ_STR(jget_str(f.c.req, "model"), "gpt-4o",
             "build: v1 puts the client's model back");
    T_EQ_STR(f.url.ptr, "https://res.openai.azure.com/openai/v1/"
             "chat/completions", "build: v1 URL, no api-version");
    T_EQ_STR(body_str(&f, "model"), "\"gpt4o-prod\"",
             "build: v1 body names the deployment");
    T_OK(has_header(f.c.hdrs, "Authorization: Bearer entra-1"),
         "build: entra bearer token");
    T_OK(!header_prefix(f.c.hdrs, "api-key:"), "build: no api-key");
    call_release(&f);

    /* a refreshed token file is picked up */
    fp = fopen(path, "w");
    fputs("  entra-2  \n", fp);
    fclose(fp);
    ((struct azure_conf *)f.be.pstate)->token_mtime = later;
    call_init(&f, "{\"model\":\"gpt-4o\",\"messages\":[]}", "gpt-4o",
              PROV_EMBED, 0);
    T_OK(azure_build(&f.c) == 0, "build: after refresh");
    T_OK(has_header(f.c.hdrs, "Authorization: Bearer entra-2"),
         "build: refreshed token used");
    T_EQ_STR(f.url.ptr, "https://res.openai.azure.com/openai/v1/embeddings",
             "build: v1 embeddings URL");
    call_release(&f);

    /* an emptied file keeps the previous token */
    fp = fopen(path, "w");
    fclose(fp);
    ((struct azure_conf *)f.be.pstate)->token_mtime = later;
    call_init(&f, "{\"model\":\"gpt-4o\",\"messages\":[]}", "gpt-4o",
              PROV_CHAT, 0);
    azure_build(&f.c);
    T_OK(has_header(f.c.hdrs, "Authorization: Bearer entra-2"),
         "build: empty token file keeps the previous token");
    call_release(&f);
    teardown(&f);
    unlink(path);
}

static void test_parse(void)
{
    struct fixture f;
    char err[256];
    struct buf out = BUF_INIT(1 << 20);
    const char *reply =
        "{\"choices\":[{\"content_filter_results\":{},\"finish_reason\":"
        "\"stop\",\"index\":0,\"message\":{\"content\":\"hi\",\"role\":"
        "\"assistant\"}}],\"model\":\"gpt-4o-2024-08-06\",\"object\":"
        "\"chat.completion\",\"prompt_filter_results\":[],\"usage\":"
        "{\"completion_tokens\":3,\"prompt_tokens\":8,\"prompt_tokens_details\""
        ":{\"cached_tokens\":2},\"total_tokens\":11}}";

    setup(&f, "k", "{}", err, sizeof(err));
    call_init(&f, "{}", "gpt-4o", PROV_CHAT, 0);
    T_OK(azure_parse(&f.c, reply, strlen(reply), &out) == 0, "parse: ok");
    T_OK(out.len == 0, "parse: reply passes through");
    T_EQ_INT(f.ev.prompt_tokens, 8, "parse: prompt tokens");
    T_EQ_INT(f.ev.completion_tokens, 3, "parse: completion tokens");
    T_EQ_INT(f.ev.cached_tokens, 2, "parse: cached tokens");
    T_OK(f.ev.has_usage, "parse: usage from the provider");
    T_EQ_STR(f.ev.served_model, "gpt-4o-2024-08-06", "parse: served model");
    call_release(&f);

    call_init(&f, "{}", "gpt-4o", PROV_CHAT, 0);
    T_OK(azure_parse(&f.c, "{\"choices\":[]}", 14, &out) == 0,
         "parse: no usage, no model");
    T_OK(!f.ev.has_usage, "parse: no usage recorded");
    T_EQ_STR(f.ev.served_model, "gpt-4o", "parse: requested model kept");
    T_OK(azure_parse(&f.c, "<html>", 6, &out) < 0, "parse: garbage refused");
    call_release(&f);
    teardown(&f);
    buf_release(&out);
}

struct seen {
    struct buf all;
    int n, usage_only;
};

static int collect(void *ctx, const char *json, size_t len, int usage_only)
{
    struct seen *s = ctx;

    buf_add(&s->all, json, len);
    buf_addc(&s->all, '\n');
    s->n++;
    s->usage_only += usage_only;
    return 0;
}

static void test_stream(void)
{
    struct fixture f;
    char err[256];
    struct seen s = { BUF_INIT(1 << 20), 0, 0 };
    struct chunk_sink sink = { collect, &s };
    int done = 0;
    const char *in =
        "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\","
        "\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,"
        "\"content_filter_results\":{}}]}\n\n"
        "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":"
        "{\"content\":\"\",\"role\":\"assistant\"},\"finish_reason\":null,"
        "\"index\":0}],\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\","
        "\"object\":\"chat.completion.chunk\",\"usage\":null}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"},"
        "\"index\":0}],\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\"}\n\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\","
        "\"index\":0}],\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\"}\n\n"
        "data: {\"choices\":[],\"id\":\"c1\",\"model\":\"gpt-4o-2024-08-06\","
        "\"usage\":{\"completion_tokens\":3,\"prompt_tokens\":8,"
        "\"total_tokens\":11}}\n\n"
        "data: [DONE]\n\n";
    size_t half = 100;

    setup(&f, "k", "{}", err, sizeof(err));
    call_init(&f, "{}", "gpt-4o", PROV_CHAT, 1);
    /* in two reads, split inside an event */
    T_OK(azure_stream(&f.c, in, half, &sink, &done) == 0, "stream: part 1");
    T_OK(azure_stream(&f.c, in + half, strlen(in) - half, &sink,
                      &done) == 0, "stream: part 2");
    T_OK(done, "stream: [DONE] ends it");
    T_EQ_INT(s.n, 4, "stream: preamble dropped, four chunks passed");
    T_EQ_INT(s.usage_only, 1, "stream: one usage-only chunk");
    T_OK(strstr(s.all.ptr, "prompt_filter_results") == NULL,
         "stream: no prompt-filter chunk reaches the client");
    T_OK(strstr(s.all.ptr, "\"content\":\"Hello\"") != NULL,
         "stream: text delta passed");
    T_EQ_INT(f.ev.prompt_tokens, 8, "stream: prompt tokens");
    T_EQ_INT(f.ev.completion_tokens, 3, "stream: completion tokens");
    T_EQ_STR(f.ev.served_model, "gpt-4o-2024-08-06", "stream: served model");
    call_release(&f);
    teardown(&f);
    buf_release(&s.all);

    T_OK(no_choices("{\"choices\" : [ ] }", 18), "no_choices: spaces");
    T_OK(!no_choices("{\"choices\":[{}]}", 16), "no_choices: one choice");
    T_OK(!no_choices("{\"x\":\"choices\"}", 15), "no_choices: a value");
}

static void error_of(const char *body, long status, struct buf *out)
{
    buf_reset(out);
    azure_error(NULL, status, body, strlen(body), out);
}

static const char *err_field(struct buf *out, const char *k)
{
    static char v[512];
    json_object *o = json_tokener_parse(out->ptr), *e, *x;

    v[0] = '\0';
    if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
        json_object_object_get_ex(e, k, &x))
        snprintf(v, sizeof(v), "%s", json_object_is_type(x, json_type_null)
                 ? "null" : json_object_get_string(x));
    json_object_put(o);
    return v;
}

static void test_errors(void)
{
    struct buf out = BUF_INIT(1 << 16);

    error_of("{\"error\":{\"message\":\"The response was filtered\",\"type\":"
             "null,\"param\":\"prompt\",\"code\":\"content_filter\",\"status\":"
             "400,\"innererror\":{\"code\":\"ResponsibleAIPolicyViolation\","
             "\"content_filter_result\":{\"violence\":{\"filtered\":true,"
             "\"severity\":\"medium\"}}}}}", 400, &out);
    T_EQ_STR(err_field(&out, "code"), "content_filter",
             "error: content_filter code kept");
    T_EQ_STR(err_field(&out, "type"), "invalid_request_error",
             "error: content_filter type");
    T_EQ_STR(err_field(&out, "message"), "The response was filtered",
             "error: message kept");
    T_EQ_STR(err_field(&out, "param"), "prompt", "error: param kept");
    T_OK(strstr(out.ptr, "\"severity\":\"medium\"") != NULL,
         "error: the filter's verdict kept in innererror");
    T_OK(strstr(out.ptr, "\"status\"") == NULL, "error: no Azure status");

    error_of("{\"error\":{\"code\":\"429\",\"message\":\"Requests to the "
             "ChatCompletions_Create Operation have exceeded rate limit\"}}",
             429, &out);
    T_EQ_STR(err_field(&out, "code"), "rate_limit_exceeded",
             "error: 429 code");
    T_EQ_STR(err_field(&out, "type"), "rate_limit_error", "error: 429 type");
    T_EQ_STR(err_field(&out, "param"), "null", "error: param null");

    error_of("{\"error\":{\"code\":\"DeploymentNotFound\",\"message\":\"The "
             "API deployment for this resource does not exist.\"}}", 404,
             &out);
    T_EQ_STR(err_field(&out, "code"), "DeploymentNotFound",
             "error: Azure's code kept");
    T_EQ_STR(err_field(&out, "type"), "invalid_request_error",
             "error: 404 type");

    error_of("{\"statusCode\":401,\"message\":\"Unauthorized. Access token "
             "is missing, invalid, audience is incorrect, or have expired."
             "\"}", 401, &out);
    T_EQ_STR(err_field(&out, "type"), "authentication_error",
             "error: gateway 401 type");
    T_OK(strstr(err_field(&out, "message"), "Access token") != NULL,
         "error: gateway message kept");

    error_of("<html><body>500</body></html>", 500, &out);
    T_EQ_STR(err_field(&out, "type"), "server_error", "error: HTML 5xx");
    T_EQ_STR(err_field(&out, "code"), "upstream_error",
             "error: HTML code");
    T_OK(strstr(err_field(&out, "message"), "HTTP 500") != NULL,
         "error: HTML status in message");
    buf_release(&out);
}

int main(void)
{
    test_settings();
    test_build_deployments();
    test_build_v1_entra();
    test_parse();
    test_stream();
    test_errors();
    return t_done();
}
