#include "../../fcgi/providers/bedrock.c"
#include "es_frame.h"
#include "t.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static struct usage_event ev;
static struct buf url = BUF_INIT(1 << 20), body = BUF_INIT(64 << 20);
static struct buf scratch = BUF_INIT(64 << 20);

static json_object *js(const char *s)
{
    json_object *o = jparse(s, strlen(s), NULL);

    if (o == NULL)
        printf("# bad test JSON: %s\n", s);
    return o;
}

/* A backend from a config object; returns init's result. */
static int be_init(struct backend *be, const char *api_key, const char *conf,
                   char *err, size_t errsz)
{
    json_object *o = js(conf);
    int rc;

    memset(be, 0, sizeof(*be));
    be->name = NULL;
    be->api_key = api_key ? xstrdup(api_key) : NULL;
    be->base_url = jget_str(o, "base_url") ? xstrdup(jget_str(o, "base_url"))
                                           : NULL;
    err[0] = '\0';
    rc = bedrock_init(be, o, err, errsz);
    json_object_put(o);
    return rc;
}

static void be_free(struct backend *be)
{
    bedrock_destroy(be);
    free(be->api_key);
    free(be->base_url);
}

static void call_init(struct provider_call *c, const struct backend *be,
                      json_object *req, const char *model, int stream,
                      enum provider_op op)
{
    memset(c, 0, sizeof(*c));
    buf_reset(&url);
    buf_reset(&body);
    buf_reset(&scratch);
    usage_event_init(&ev);
    c->be = be;
    c->op = op;
    c->req = req;
    c->model = model;
    c->stream = stream;
    c->request_id = "rid-1";
    c->ev = &ev;
    c->scratch = &scratch;
    c->url = &url;
    c->body = &body;
}

static const char *hdr(const struct provider_call *c, const char *name)
{
    size_t n = strlen(name);

    for (const struct curl_slist *l = c->hdrs; l; l = l->next)
        if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
            return l->data + n + 2;
    return NULL;
}

/* Member path a.b.c of the upstream body as compact JSON ("" if absent). */
static const char *at(json_object *o, const char *path)
{
    static char out[4096];
    char key[64];
    const char *p = path;
    int found = 1;

    while (o != NULL && *p) {
        size_t n = strcspn(p, ".");

        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(key));
        else
            found = json_object_object_get_ex(o, key, &o);
        p += n + (p[n] == '.');
    }
    snprintf(out, sizeof(out), "%s", o ? json_object_to_json_string_ext(o,
             JSON_OUT) : found && !*p ? "null" : "");
    return out;
}

/* --- settings ----------------------------------------------------------- */

static void test_init(void)
{
    struct backend be;
    struct bedrock_conf *bc;
    char err[256];

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    T_EQ_INT(be_init(&be, NULL, "{\"region\":\"us-east-1\","
             "\"aws_access_key_id\":\"AKIDEXAMPLE\","
             "\"aws_secret_access_key\":\"" SECRET "\"}", err, sizeof(err)),
             0, "init: region and key pair");
    bc = be.pstate;
    T_EQ_STR(be.base_url, "https://bedrock-runtime.us-east-1.amazonaws.com",
             "default base_url from region");
    T_EQ_STR(bc->host, "bedrock-runtime.us-east-1.amazonaws.com", "host");
    T_EQ_STR(bc->path, "", "no base path");
    be_free(&be);

    T_EQ_INT(be_init(&be, NULL, "{\"region\":\"us-east-1\"}", err,
                     sizeof(err)), -1, "no credentials refused");
    T_OK(strstr(err, "api_key") != NULL, "the message names the options");
    be_free(&be);

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    T_EQ_INT(be_init(&be, NULL, "{\"region\":\"eu-west-1\"}", err,
                     sizeof(err)), 0, "AWS_* environment fallback");
    bc = be.pstate;
    T_EQ_STR(bc->akid, "AKIDENV", "key id from the environment");
    T_EQ_STR(bc->token, "envtoken", "session token from the environment");
    be_free(&be);
    T_EQ_INT(be_init(&be, "k", "{\"region\":\"eu-west-1\"}", err,
                     sizeof(err)), 0, "api_key: no environment fallback");
    bc = be.pstate;
    T_OK(bc->akid == NULL, "api key backend has no key pair");
    be_free(&be);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");

    T_EQ_INT(be_init(&be, "k", "{\"region\":\"us-east-1\","
             "\"aws_access_key_id\":\"A\",\"aws_secret_access_key\":\"B\"}",
             err, sizeof(err)), -1, "api_key and key pair: ambiguous");
    be_free(&be);
    T_EQ_INT(be_init(&be, "k", "{}", err, sizeof(err)), -1,
             "neither region nor base_url refused");
    T_OK(strstr(err, "region") != NULL, "the message names region");
    be_free(&be);
    T_EQ_INT(be_init(&be, "k", "{\"region\":\"US East\"}", err,
                     sizeof(err)), -1, "malformed region refused");
    be_free(&be);

    T_EQ_INT(be_init(&be, "k", "{\"base_url\":"
             "\"http://user@127.0.0.1:8080/bedrock/\"}", err, sizeof(err)),
             0, "api key with base_url needs no region");
    bc = be.pstate;
    T_EQ_STR(bc->host, "127.0.0.1:8080", "host keeps a custom port");
    T_EQ_STR(bc->path, "/bedrock", "base path, trailing / dropped");
    be_free(&be);

    T_EQ_INT(be_init(&be, NULL, "{\"base_url\":"
             "\"https://bedrock-runtime.eu-central-1.amazonaws.com:443\","
             "\"aws_access_key_id\":\"A\",\"aws_secret_access_key\":\"B\"}",
             err, sizeof(err)), 0, "region derived from the endpoint");
    bc = be.pstate;
    T_EQ_STR(bc->region, "eu-central-1", "derived region");
    T_EQ_STR(bc->host, "bedrock-runtime.eu-central-1.amazonaws.com",
             "default port dropped from the Host");
    be_free(&be);

    T_EQ_INT(be_init(&be, NULL, "{\"base_url\":\"https://proxy.example\","
             "\"aws_access_key_id\":\"A\",\"aws_secret_access_key\":\"B\"}",
             err, sizeof(err)), -1, "SigV4 without a region refused");
    be_free(&be);

    setenv("BEDROCK_T_SECRET", "from-env", 1);
    T_EQ_INT(be_init(&be, NULL, "{\"region\":\"us-east-1\","
             "\"aws_access_key_id\":\"A\","
             "\"aws_secret_access_key\":\"${BEDROCK_T_SECRET}\"}", err,
             sizeof(err)), 0, "${ENV} in a setting");
    bc = be.pstate;
    T_EQ_STR(bc->secret, "from-env", "expanded");
    be_free(&be);
}

/* --- request translation ------------------------------------------------ */

static const char *const RICH =
    "{\"model\":\"m\",\"temperature\":0.25,\"top_p\":0.9,"
    "\"max_completion_tokens\":300,\"stop\":\"END\","
    "\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"No "
    "emoji.\"}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is "
    "this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
    "\"data:image/png;base64,iVBORw0KGgo=\"}}]},"
    "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"arguments\":\"\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":"
    "\"text\",\"text\":\"rain\"}]},"
    "{\"role\":\"user\",\"content\":\"thanks\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"noop\"}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\"}}}";

static void test_build_chat(void)
{
    struct backend be;
    struct provider_call c;
    json_object *req = js(RICH), *b;
    char err[256];

    be_init(&be, NULL, "{\"region\":\"us-east-1\",\"aws_access_key_id\":"
            "\"AKIDEXAMPLE\",\"aws_secret_access_key\":\"" SECRET "\","
            "\"aws_session_token\":\"tok\"}", err, sizeof(err));
    call_init(&c, &be, req, "anthropic.claude-3-haiku-20240307-v1:0", 0,
              PROV_CHAT);
    T_EQ_INT(bedrock_build(&c), 0, "rich request builds");
    T_EQ_STR(url.ptr, "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
             "anthropic.claude-3-haiku-20240307-v1%3A0/converse",
             "converse URL, model id percent-encoded");
    b = js(body.ptr);
    T_EQ_STR(at(b, "system"), "[{\"text\":\"Be brief.\"},{\"text\":\"No "
             "emoji.\"}]", "system and developer -> system blocks");
    T_EQ_INT(json_object_array_length(json_object_object_get(b, "messages")),
             3, "roles alternate: tool results merged into one user turn");
    T_EQ_STR(at(b, "messages.0.content.1"), "{\"image\":{\"format\":\"png\","
             "\"source\":{\"bytes\":\"iVBORw0KGgo=\"}}}", "image block");
    T_EQ_STR(at(b, "messages.1.content.0"), "{\"text\":\"Checking.\"}",
             "assistant text");
    T_EQ_STR(at(b, "messages.1.content.1"), "{\"toolUse\":{\"toolUseId\":"
             "\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":"
             "\"Paris\"}}}", "tool call -> toolUse with parsed input");
    T_EQ_STR(at(b, "messages.1.content.2.toolUse.input"), "{}",
             "empty arguments -> {}");
    T_EQ_STR(at(b, "messages.2.role"), "\"user\"", "tool results: user");
    T_EQ_STR(at(b, "messages.2.content"), "[{\"toolResult\":{\"toolUseId\":"
             "\"call_1\",\"content\":[{\"text\":\"sunny\"}]}},{\"toolResult\":"
             "{\"toolUseId\":\"call_2\",\"content\":[{\"text\":\"rain\"}]}},"
             "{\"text\":\"thanks\"}]",
             "consecutive tool results and the next user turn merged");
    T_EQ_STR(at(b, "inferenceConfig"), "{\"maxTokens\":300,\"temperature\":"
             "0.25,\"topP\":0.9,\"stopSequences\":[\"END\"]}",
             "inferenceConfig");
    T_EQ_STR(at(b, "toolConfig.tools.0"), "{\"toolSpec\":{\"name\":"
             "\"get_weather\",\"description\":\"Weather\",\"inputSchema\":"
             "{\"json\":{\"type\":\"object\",\"properties\":{\"city\":"
             "{\"type\":\"string\"}}}}}}", "toolSpec");
    T_EQ_STR(at(b, "toolConfig.tools.1.toolSpec.inputSchema.json"),
             "{\"type\":\"object\",\"properties\":{}}",
             "missing parameters -> empty object schema");
    T_EQ_STR(at(b, "toolConfig.toolChoice"),
             "{\"tool\":{\"name\":\"get_weather\"}}", "named tool choice");
    T_EQ_STR(at(b, "model"), "", "no model in the body");
    T_EQ_STR(hdr(&c, "Content-Type"), "application/json", "content type");
    T_EQ_STR(hdr(&c, "Accept"), "application/json", "accept json");
    T_EQ_STR(hdr(&c, "Host"), "bedrock-runtime.us-east-1.amazonaws.com",
             "explicit Host (signed as sent)");
    T_EQ_STR(hdr(&c, "X-Amz-Security-Token"), "tok", "session token");
    T_OK(hdr(&c, "X-Amz-Date") != NULL, "x-amz-date");
    T_OK(strstr(hdr(&c, "Authorization"), "SignedHeaders=content-type;host;"
                "x-amz-date;x-amz-security-token, Signature=") != NULL,
         "token signed");
    T_OK(c.aws_sigv4 == NULL && c.userpwd == NULL,
         "libcurl's SigV4 not used");
    json_object_put(b);
    curl_slist_free_all(c.hdrs);

    call_init(&c, &be, req, "anthropic.claude-3-haiku-20240307-v1:0", 1,
              PROV_CHAT);
    bedrock_build(&c);
    T_OK(strstr(url.ptr, "/converse-stream") != NULL, "stream URL");
    T_OK(hdr(&c, "Accept") == NULL, "no Accept: json for the event stream");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);
    be_free(&be);
}

/* The signature at a fixed time equals the one the mock's independent
 * JavaScript signer (tests/mock/providers/bedrock.mjs) computes for the
 * same request. */
static void test_signature(void)
{
    struct backend be;
    struct provider_call c;
    char err[256];

    be_init(&be, NULL, "{\"region\":\"us-east-1\",\"base_url\":"
            "\"http://127.0.0.1:21100/bedrock\",\"aws_access_key_id\":"
            "\"AKIDEXAMPLE\",\"aws_secret_access_key\":\"" SECRET "\"}",
            err, sizeof(err));
    call_init(&c, &be, NULL, "anthropic.claude-3-haiku-20240307-v1:0", 0,
              PROV_CHAT);
    buf_adds(&body, "{\"messages\":[{\"role\":\"user\",\"content\":"
             "[{\"text\":\"hi\"}]}]}");
    T_EQ_INT(finish_request(&c, "/converse", 1440938160), 0, "signs");
    T_EQ_STR(hdr(&c, "X-Amz-Date"), "20150830T123600Z", "fixed date");
    T_EQ_STR(hdr(&c, "Authorization"), "AWS4-HMAC-SHA256 Credential="
             "AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-date, Signature="
             "07170229e2b0eb615e5bc96d6d177346c07bbd9437a86825b60c29a4641a7ffe",
             "signature matches the mock's signer (path signed as %253A)");
    curl_slist_free_all(c.hdrs);
    be_free(&be);
}

static void test_api_key_and_choices(void)
{
    struct backend be;
    struct provider_call c;
    json_object *req;
    char err[256];
    const char *tools = "\"tools\":[{\"type\":\"function\",\"function\":"
                        "{\"name\":\"f\"}}]";
    char s[512];

    be_init(&be, "brk-key", "{\"region\":\"us-west-2\"}", err, sizeof(err));
    snprintf(s, sizeof(s), "{\"model\":\"m\",\"messages\":[{\"role\":"
             "\"user\",\"content\":\"hi\"}],%s,\"tool_choice\":\"none\"}",
             tools);
    req = js(s);
    call_init(&c, &be, req, "us.amazon.nova-lite-v1:0", 0, PROV_CHAT);
    T_EQ_INT(bedrock_build(&c), 0, "api key request builds");
    T_EQ_STR(hdr(&c, "Authorization"), "Bearer brk-key", "bearer API key");
    T_OK(hdr(&c, "X-Amz-Date") == NULL, "no SigV4 headers");
    T_OK(strstr(body.ptr, "toolConfig") == NULL,
         "tool_choice none: tools left out");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);

    snprintf(s, sizeof(s), "{\"model\":\"m\",\"messages\":[{\"role\":"
             "\"user\",\"content\":\"hi\"}],%s,\"tool_choice\":\"required\"}",
             tools);
    req = js(s);
    call_init(&c, &be, req, "m", 0, PROV_CHAT);
    bedrock_build(&c);
    T_OK(strstr(body.ptr, "\"toolChoice\":{\"any\":{}}") != NULL,
         "required -> any");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);

    snprintf(s, sizeof(s), "{\"model\":\"m\",\"messages\":[{\"role\":"
             "\"user\",\"content\":\"hi\"}],%s,\"tool_choice\":\"auto\"}",
             tools);
    req = js(s);
    call_init(&c, &be, req, "m", 0, PROV_CHAT);
    bedrock_build(&c);
    T_OK(strstr(body.ptr, "\"toolChoice\":{\"auto\":{}}") != NULL,
         "auto -> auto");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);

    req = js("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "[{\"type\":\"image_url\",\"image_url\":{\"url\":"
             "\"https://example.com/a.png\"}}]}]}");
    call_init(&c, &be, req, "m", 0, PROV_CHAT);
    T_EQ_INT(bedrock_build(&c), -1, "https image refused");
    T_OK(strstr(scratch.ptr, "data: URLs") != NULL, "with a reason");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);

    req = js("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "[{\"type\":\"image_url\",\"image_url\":{\"url\":"
             "\"s3://bucket/photo.JPG\"}}]}]}");
    call_init(&c, &be, req, "m", 0, PROV_CHAT);
    bedrock_build(&c);
    T_OK(strstr(body.ptr, "{\"image\":{\"format\":\"jpeg\",\"source\":"
                "{\"s3Location\":{\"uri\":\"s3://bucket/photo.JPG\"}}}}")
         != NULL, "s3 image -> s3Location");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);

    req = js("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "[{\"type\":\"input_audio\",\"input_audio\":{}}]}]}");
    call_init(&c, &be, req, "m", 0, PROV_CHAT);
    T_EQ_INT(bedrock_build(&c), -1, "audio parts refused");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);

    req = js("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
             "\"tool_calls\":[{\"id\":\"x\",\"type\":\"function\","
             "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}");
    call_init(&c, &be, req, "m", 0, PROV_CHAT);
    T_EQ_INT(bedrock_build(&c), -1, "non-object tool arguments refused");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);
    be_free(&be);
}

static void test_build_embed(void)
{
    struct backend be;
    struct provider_call c;
    json_object *req;
    char err[256];

    be_init(&be, "k", "{\"region\":\"us-east-1\"}", err, sizeof(err));
    req = js("{\"model\":\"x\",\"input\":\"hello\",\"dimensions\":256}");
    call_init(&c, &be, req, "amazon.titan-embed-text-v2:0", 0, PROV_EMBED);
    T_EQ_INT(bedrock_build(&c), 0, "titan builds");
    T_OK(strstr(url.ptr, "/model/amazon.titan-embed-text-v2%3A0/invoke")
         != NULL, "invoke URL");
    T_EQ_STR(body.ptr, "{\"inputText\":\"hello\",\"dimensions\":256}",
             "titan body");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);

    req = js("{\"model\":\"x\",\"input\":[\"a\",\"b\"]}");
    call_init(&c, &be, req, "amazon.titan-embed-text-v2:0", 0, PROV_EMBED);
    T_EQ_INT(bedrock_build(&c), -1, "titan: one input per request");
    curl_slist_free_all(c.hdrs);
    call_init(&c, &be, req, "cohere.embed-english-v3", 0, PROV_EMBED);
    T_EQ_INT(bedrock_build(&c), 0, "cohere builds");
    T_EQ_STR(body.ptr, "{\"texts\":[\"a\",\"b\"],\"input_type\":"
             "\"search_document\"}", "cohere body");
    curl_slist_free_all(c.hdrs);
    call_init(&c, &be, req, "amazon.nova-pro-v1:0", 0, PROV_EMBED);
    T_EQ_INT(bedrock_build(&c), -1, "unknown embedding model refused");
    curl_slist_free_all(c.hdrs);
    json_object_put(req);
    be_free(&be);
}

/* --- replies ------------------------------------------------------------ */

static void test_parse(void)
{
    struct provider_call c;
    struct buf out = BUF_INIT(1 << 20);
    json_object *o;
    const char *r =
        "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
        "{\"text\":\"Let me check.\"},{\"toolUse\":{\"toolUseId\":\"tu_1\","
        "\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}}]}},"
        "\"stopReason\":\"tool_use\",\"usage\":{\"inputTokens\":10,"
        "\"outputTokens\":7,\"totalTokens\":23,\"cacheReadInputTokens\":4,"
        "\"cacheWriteInputTokens\":2},\"metrics\":{\"latencyMs\":5}}";

    call_init(&c, NULL, NULL, "anthropic.claude-3-haiku-20240307-v1:0", 0,
              PROV_CHAT);
    T_EQ_INT(bedrock_parse(&c, r, strlen(r), &out), 0, "reply parses");
    o = js(out.ptr);
    T_EQ_STR(at(o, "object"), "\"chat.completion\"", "completion object");
    T_EQ_STR(at(o, "id"), "\"chatcmpl-rid-1\"", "id from the request id");
    T_EQ_STR(at(o, "choices.0.message.content"), "\"Let me check.\"",
             "text");
    T_EQ_STR(at(o, "choices.0.message.tool_calls"), "[{\"id\":\"tu_1\","
             "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
             "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]",
             "toolUse -> tool_calls with JSON-string arguments");
    T_EQ_STR(at(o, "choices.0.finish_reason"), "\"tool_calls\"",
             "tool_use -> tool_calls");
    T_EQ_STR(at(o, "usage"), "{\"prompt_tokens\":16,\"completion_tokens\":7,"
             "\"total_tokens\":23,\"prompt_tokens_details\":"
             "{\"cached_tokens\":4}}",
             "usage: cache reads and writes count as prompt, reads cached");
    T_OK(ev.has_usage && ev.prompt_tokens == 16 && ev.cached_tokens == 4,
         "event usage set");
    T_EQ_STR(ev.served_model, "anthropic.claude-3-haiku-20240307-v1:0",
             "served model: the model id");
    json_object_put(o);

    buf_reset(&out);
    r = "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
        "{\"toolUse\":{\"toolUseId\":\"t\",\"name\":\"f\",\"input\":{}}}]}},"
        "\"stopReason\":\"tool_use\"}";
    call_init(&c, NULL, NULL, "m", 0, PROV_CHAT);
    bedrock_parse(&c, r, strlen(r), &out);
    o = js(out.ptr);
    T_EQ_STR(at(o, "choices.0.message.content"), "null",
             "only tool calls: content null");
    T_OK(!ev.has_usage, "no usage: event left unset");
    json_object_put(o);

    T_EQ_STR(finish_reason("end_turn"), "stop", "end_turn -> stop");
    T_EQ_STR(finish_reason("stop_sequence"), "stop", "stop_sequence");
    T_EQ_STR(finish_reason("max_tokens"), "length", "max_tokens -> length");
    T_EQ_STR(finish_reason("guardrail_intervened"), "content_filter",
             "guardrail -> content_filter");
    T_EQ_STR(finish_reason("content_filtered"), "content_filter",
             "content_filtered");
    T_EQ_STR(finish_reason(NULL), "stop", "missing -> stop");
    buf_reset(&out);
    T_EQ_INT(bedrock_parse(&c, "{\"x\":1}", 7, &out), -1,
             "no output.message: unreadable");
    T_EQ_INT(bedrock_parse(&c, "<html>", 6, &out), -1, "not JSON");
    buf_release(&out);
}

static void test_parse_embed(void)
{
    struct provider_call c;
    struct buf out = BUF_INIT(1 << 20);
    const char *r = "{\"embedding\":[0.5,-0.25],\"inputTextTokenCount\":3}";

    call_init(&c, NULL, NULL, "amazon.titan-embed-text-v2:0", 0, PROV_EMBED);
    T_EQ_INT(bedrock_parse(&c, r, strlen(r), &out), 0, "titan reply");
    T_EQ_STR(out.ptr, "{\"object\":\"list\",\"data\":[{\"object\":"
             "\"embedding\",\"index\":0,\"embedding\":[0.5,-0.25]}],"
             "\"model\":\"amazon.titan-embed-text-v2:0\",\"usage\":"
             "{\"prompt_tokens\":3,\"total_tokens\":3}}", "OpenAI list");
    T_OK(ev.has_usage && ev.prompt_tokens == 3, "titan tokens counted");

    buf_reset(&out);
    r = "{\"embeddings\":[[1,2],[3,4]],\"id\":\"x\",\"response_type\":"
        "\"embeddings_floats\",\"texts\":[\"a\",\"b\"]}";
    call_init(&c, NULL, NULL, "cohere.embed-english-v3", 0, PROV_EMBED);
    T_EQ_INT(bedrock_parse(&c, r, strlen(r), &out), 0, "cohere reply");
    T_OK(strstr(out.ptr, "{\"object\":\"embedding\",\"index\":1,"
                "\"embedding\":[3,4]}") != NULL, "second vector");
    T_OK(!ev.has_usage, "cohere: no usage in the body");

    buf_reset(&out);
    r = "{\"embeddings\":{\"float\":[[1,2]]},\"response_type\":"
        "\"embeddings_by_type\"}";
    call_init(&c, NULL, NULL, "cohere.embed-english-v3", 0, PROV_EMBED);
    T_EQ_INT(bedrock_parse(&c, r, strlen(r), &out), 0, "cohere by type");
    T_OK(strstr(out.ptr, "\"embedding\":[1,2]") != NULL, "float vectors");
    buf_release(&out);
}

/* --- stream ------------------------------------------------------------- */

struct sink_log {
    struct buf sum;       /* what the chunks said, summarized */
    int usage_chunks;
};

/* Summarizes one chunk: text, tool call pieces, finish, usage. */
static int sink_chunk(void *ctx, const char *json, size_t len,
                      int usage_only)
{
    struct sink_log *l = ctx;
    json_object *o = jparse(json, len, NULL), *d, *v;
    const char *s;

    if (o == NULL)
        return -1;
    l->usage_chunks += usage_only;
    if (usage_only) {
        buf_addf(&l->sum, "|U:%s", at(o, "usage"));
        json_object_put(o);
        return 0;
    }
    d = json_object_object_get(json_object_array_get_idx(
        json_object_object_get(o, "choices"), 0), "delta");
    if ((s = jget_str(d, "role")) != NULL)
        buf_addf(&l->sum, "|R:%s", s);
    if ((s = jget_str(d, "content")) != NULL && *s)
        buf_adds(&l->sum, s);
    if (json_object_object_get_ex(d, "tool_calls", &v))
        buf_addf(&l->sum, "|T:%s", at(v, "0"));
    s = jget_str(json_object_array_get_idx(json_object_object_get(o,
                 "choices"), 0), "finish_reason");
    if (s != NULL)
        buf_addf(&l->sum, "|F:%s", s);
    json_object_put(o);
    return 0;
}

static void text_stream(struct buf *s, int with_metadata)
{
    es_event(s, "messageStart", "{\"role\":\"assistant\",\"p\":\"abc\"}");
    es_event(s, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":"
             "{\"text\":\"Hello\"},\"p\":\"ab\"}");
    es_event(s, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":"
             "{\"text\":\" there\"}}");
    es_event(s, "contentBlockStop", "{\"contentBlockIndex\":0}");
    es_event(s, "messageStop", "{\"stopReason\":\"max_tokens\"}");
    if (with_metadata)
        es_event(s, "metadata", "{\"usage\":{\"inputTokens\":12,"
                 "\"outputTokens\":2,\"totalTokens\":14},\"metrics\":"
                 "{\"latencyMs\":9}}");
}

/* Feeds s to a fresh call in two pieces cut at cut; returns stream()'s
 * worst result and fills log and *done. */
static int run_stream(const struct buf *s, size_t cut, struct sink_log *l,
                      int *done)
{
    struct provider_call c;
    struct chunk_sink sink = { sink_chunk, l };
    int rc;

    call_init(&c, NULL, NULL, "anthropic.claude-3-haiku-20240307-v1:0", 1,
              PROV_CHAT);
    buf_reset(&l->sum);
    l->usage_chunks = 0;
    *done = 0;
    rc = bedrock_stream(&c, s->ptr, cut, &sink, done);
    if (rc == 0 && cut < s->len)
        rc = bedrock_stream(&c, s->ptr + cut, s->len - cut, &sink, done);
    bedrock_finish(&c);
    return rc;
}

static void test_stream_text(void)
{
    struct buf s = BUF_INIT(1 << 20);
    struct sink_log l = { BUF_INIT(1 << 20), 0 };
    const char *want = "|R:assistantHello there|F:length|U:{\"prompt_tokens\""
                       ":12,\"completion_tokens\":2,\"total_tokens\":14,"
                       "\"prompt_tokens_details\":{\"cached_tokens\":0}}";
    int done, bad = 0;

    text_stream(&s, 1);
    T_EQ_INT(run_stream(&s, s.len, &l, &done), 0, "text stream decodes");
    T_EQ_STR(l.sum.ptr, want, "role, deltas, finish, then usage");
    T_EQ_INT(l.usage_chunks, 1, "one usage chunk, marked usage-only");
    T_EQ_INT(done, 1, "done after metadata");
    T_OK(ev.has_usage && ev.prompt_tokens == 12 && ev.completion_tokens == 2,
         "event usage from metadata");
    for (size_t cut = 0; cut <= s.len; cut++)
        if (run_stream(&s, cut, &l, &done) != 0 ||
            strcmp(l.sum.ptr, want) != 0 || !done)
            bad++;
    T_EQ_INT(bad, 0, "same chunks for the stream split at every byte");

    buf_reset(&s);
    text_stream(&s, 0);
    run_stream(&s, s.len, &l, &done);
    T_EQ_INT(done, 0, "messageStop alone is not the end (metadata follows)");
    T_EQ_INT(l.usage_chunks, 0, "no usage chunk without metadata");

    buf_reset(&s);
    text_stream(&s, 0);
    es_event(&s, "metadata", "{\"metrics\":{\"latencyMs\":9}}");
    run_stream(&s, s.len, &l, &done);
    T_EQ_INT(done, 1, "metadata without usage still ends the stream");
    T_EQ_INT(l.usage_chunks, 0, "and sends no usage chunk");
    T_OK(!ev.has_usage, "usage left unset");
    buf_release(&s);
    buf_release(&l.sum);
}

static void test_stream_tools_and_errors(void)
{
    struct buf s = BUF_INIT(1 << 20);
    struct sink_log l = { BUF_INIT(1 << 20), 0 };
    int done;

    es_event(&s, "messageStart", "{\"role\":\"assistant\"}");
    es_event(&s, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":"
             "{\"text\":\"Hm.\"}}");
    es_event(&s, "contentBlockStop", "{\"contentBlockIndex\":0}");
    es_event(&s, "contentBlockStart", "{\"contentBlockIndex\":1,\"start\":"
             "{\"toolUse\":{\"toolUseId\":\"tu_9\",\"name\":"
             "\"get_weather\"}}}");
    es_event(&s, "contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":"
             "{\"toolUse\":{\"input\":\"{\\\"city\\\":\"}}}");
    es_event(&s, "contentBlockDelta", "{\"contentBlockIndex\":1,\"delta\":"
             "{\"toolUse\":{\"input\":\"\\\"Paris\\\"}\"}}}");
    es_event(&s, "contentBlockStop", "{\"contentBlockIndex\":1}");
    es_event(&s, "messageStop", "{\"stopReason\":\"tool_use\"}");
    es_event(&s, "metadata", "{\"usage\":{\"inputTokens\":1,"
             "\"outputTokens\":1}}");
    T_EQ_INT(run_stream(&s, 7, &l, &done), 0, "tool stream decodes");
    T_EQ_STR(l.sum.ptr, "|R:assistantHm.|T:{\"index\":0,\"id\":\"tu_9\","
             "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
             "\"arguments\":\"\"}}|T:{\"index\":0,\"function\":{\"arguments\":"
             "\"{\\\"city\\\":\"}}|T:{\"index\":0,\"function\":{\"arguments\":"
             "\"\\\"Paris\\\"}\"}}|F:tool_calls|U:{\"prompt_tokens\":1,"
             "\"completion_tokens\":1,\"total_tokens\":2,"
             "\"prompt_tokens_details\":{\"cached_tokens\":0}}",
             "toolUse start/deltas -> tool_calls with id, name, arguments");

    buf_reset(&s);
    es_event(&s, "messageStart", "{\"role\":\"assistant\"}");
    es_event(&s, "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":"
             "{\"text\":\"Hi\"}}");
    es_exception(&s, "throttlingException", "{\"message\":\"slow down\"}");
    T_EQ_INT(run_stream(&s, s.len, &l, &done), -1,
             "exception message stops the stream with an error");
    T_EQ_STR(l.sum.ptr, "|R:assistantHi", "what came before was relayed");
    T_EQ_INT(done, 0, "not done");

    buf_reset(&s);
    text_stream(&s, 1);
    s.ptr[s.len - 1] ^= 1;
    T_EQ_INT(run_stream(&s, s.len, &l, &done), -1, "bad CRC -> error");
    T_EQ_INT(done, 0, "and not done");

    buf_reset(&s);
    es_event(&s, "contentBlockDelta", "not json");
    T_EQ_INT(run_stream(&s, s.len, &l, &done), -1, "bad payload -> error");
    buf_release(&s);
    buf_release(&l.sum);
}

/* --- errors ------------------------------------------------------------- */

static void test_error(void)
{
    struct buf out = BUF_INIT(4096);
    const char *b;

    b = "{\"message\":\"Too many requests, please wait.\"}";
    bedrock_error(NULL, 429, b, strlen(b), &out);
    T_EQ_STR(out.ptr, "{\"error\":{\"message\":\"Too many requests, please "
             "wait.\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":"
             "\"ThrottlingException\"}}", "429 -> rate_limit_error");
    buf_reset(&out);
    b = "{\"Message\":\"User is not authorized\"}";
    bedrock_error(NULL, 403, b, strlen(b), &out);
    T_OK(strstr(out.ptr, "\"message\":\"User is not authorized\"") &&
         strstr(out.ptr, "\"permission_error\"") &&
         strstr(out.ptr, "AccessDeniedException"), "Message, 403");
    buf_reset(&out);
    b = "{\"__type\":\"com.amazon.coral#ModelNotReadyException\","
        "\"message\":\"warming\"}";
    bedrock_error(NULL, 429, b, strlen(b), &out);
    T_OK(strstr(out.ptr, "\"code\":\"ModelNotReadyException\"") != NULL,
         "__type names the code");
    buf_reset(&out);
    b = "<html><body>500</body></html>";
    bedrock_error(NULL, 500, b, strlen(b), &out);
    T_EQ_STR(out.ptr, "{\"error\":{\"message\":\"the upstream provider "
             "answered HTTP 500\",\"type\":\"server_error\",\"param\":null,"
             "\"code\":\"InternalServerException\"}}", "HTML body wrapped");
    buf_release(&out);
}

int main(void)
{
    test_init();
    test_build_chat();
    test_signature();
    test_api_key_and_choices();
    test_build_embed();
    test_parse();
    test_parse_embed();
    test_stream_text();
    test_stream_tools_and_errors();
    test_error();
    buf_release(&url);
    buf_release(&body);
    buf_release(&scratch);
    return t_done();
}
