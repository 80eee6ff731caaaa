/* The Gemini dialect on fixed inputs: request translation, replies,
 * streams and errors. */
#include "../../fcgi/providers/gemini.c"
#include "t.h"

static char base_url[] = "http://gemini.test/v1beta";
static char api_key[] = "gemini-unit-key";
static char be_name[] = "gemini-unit";
static struct backend be = { .name = be_name, .base_url = base_url,
                             .api_key = api_key };
static struct usage_event ev;
static struct buf url, body, scratch;
static struct sse_parser sse;
static json_object *req;

static void setup(struct provider_call *c, enum provider_op op,
                  const char *json)
{
    json_object_put(req);
    req = jparse(json, strlen(json), NULL);
    buf_reset(&url);
    buf_reset(&body);
    buf_reset(&scratch);
    sse_reset(&sse);
    usage_event_init(&ev);
    *c = (struct provider_call){
        .be = &be, .op = op, .req = req, .model = jget_str(req, "model"),
        .request_id = "rid", .ev = &ev, .sse = &sse, .scratch = &scratch,
        .url = &url, .body = &body,
    };
    c->stream = json_object_get_boolean(json_object_object_get(req,
                                                               "stream"));
}

/* c->body after gemini_chat_body(), or the error message. */
static const char *chat_body(const char *json)
{
    struct provider_call c;

    setup(&c, PROV_CHAT, json);
    if (gemini_chat_body(&c) < 0)
        return scratch.ptr;
    return body.ptr;
}

static void test_request(void)
{
    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
        "\"text\":\"no emoji\"}]},"
        "{\"role\":\"user\",\"content\":\"hi\"}],"
        "\"max_tokens\":100,\"temperature\":0.2,\"top_p\":0.9,"
        "\"stop\":\"END\",\"n\":2}"),
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
        "\"systemInstruction\":{\"parts\":[{\"text\":\"be brief\"},"
        "{\"text\":\"no emoji\"}]},\"generationConfig\":{\"maxOutputTokens\""
        ":100,\"temperature\":0.2,\"topP\":0.9,\"candidateCount\":2,"
        "\"stopSequences\":[\"END\"]}}",
        "system/developer, max_tokens, temperature, top_p, stop, n");

    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},"
        "{\"role\":\"user\",\"content\":\"c\"},{\"role\":\"user\","
        "\"content\":\"d\"}],\"max_completion_tokens\":7,"
        "\"stop\":[\"x\",\"y\"]}"),
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"}]},"
        "{\"role\":\"model\",\"parts\":[{\"text\":\"b\"}]},{\"role\":\"user\","
        "\"parts\":[{\"text\":\"c\"},{\"text\":\"d\"}]}],\"generationConfig\":"
        "{\"maxOutputTokens\":7,\"stopSequences\":[\"x\",\"y\"]}}",
        "assistant -> model; same-role turns merged; stop array");

    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"what?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png;base64,iVBORw0K\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"https://x.test/cat.WEBP?s=1\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"https://x.test/img\",\"detail\":\"low\"}}]}]}"),
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"what?\"},"
        "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw0K\"}},"
        "{\"fileData\":{\"mimeType\":\"image/webp\",\"fileUri\":"
        "\"https://x.test/cat.WEBP?s=1\"}},{\"fileData\":{\"mimeType\":"
        "\"image/jpeg\",\"fileUri\":\"https://x.test/img\"}}]}]}",
        "images: data URL inline, https as fileData with a guessed type");

    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png,abc\"}}]}]}"),
        "data URLs must be base64-encoded (data:<type>;base64,...)",
        "non-base64 data URL refused");
    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"type\":\"video\",\"video\":{}}]}]}"),
        "content parts of type `video` are not supported by this provider",
        "unknown part type refused");
    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":\"system\","
        "\"content\":\"only a system prompt\"}]}"),
        "at least one user or assistant message is needed",
        "system-only conversation refused");
}

static void test_tools_request(void)
{
    const char *conv =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"w\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_time\",\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":"
        "\"{\\\"temp\\\":21}\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":"
        "\"noon\"}]}";

    T_EQ_STR(chat_body(conv),
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"w\"}]},"
        "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
        "\"get_weather\",\"args\":{\"city\":\"Paris\"}}},{\"functionCall\":"
        "{\"name\":\"get_time\",\"args\":{}}}]},{\"role\":\"user\",\"parts\":"
        "[{\"functionResponse\":{\"name\":\"get_weather\",\"response\":"
        "{\"content\":{\"temp\":21}}}},{\"functionResponse\":{\"name\":"
        "\"get_time\",\"response\":{\"content\":\"noon\"}}}]}]}",
        "tool calls -> functionCall; results -> functionResponse by name");

    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"w\"},{\"role\":\"tool\",\"tool_call_id\":\"nope\","
        "\"content\":\"x\"}]}"),
        "messages[1]: tool_call_id does not match a tool call of an "
        "earlier assistant message", "unknown tool_call_id refused");
    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":"
        "\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"function\":{\"name\":"
        "\"f\",\"arguments\":\"[1]\"}}]}]}"),
        "tool call `f`: arguments must be a JSON object",
        "non-object arguments refused");

    T_EQ_STR(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"w\"}],\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"get_weather\",\"description\":\"Weather\",\"parameters\":"
        "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
        "\"type\":\"object\",\"additionalProperties\":false,\"properties\":"
        "{\"city\":{\"type\":\"string\",\"format\":\"uri\",\"minLength\":1},"
        "\"unit\":{\"type\":[\"string\",\"null\"],\"enum\":[\"c\",\"f\"]},"
        "\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
        "\"const\":\"x\"}}},\"required\":[\"city\"]}}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"now\",\"parameters\":"
        "{\"type\":\"object\",\"properties\":{}}}}],"
        "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
        "\"now\"}}}"),
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"w\"}]}],"
        "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\","
        "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"type\":\"string\",\"minLength\":1},"
        "\"unit\":{\"type\":\"string\",\"nullable\":true,\"enum\":[\"c\","
        "\"f\"]},\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
        "\"enum\":[\"x\"]}}},\"required\":[\"city\"]}},{\"name\":\"now\"}]}],"
        "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\","
        "\"allowedFunctionNames\":[\"now\"]}}}",
        "tools: schema cleaned, empty parameters left out, named choice");

    T_OK(strstr(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"w\"}],\"tools\":[{\"type\":\"function\","
        "\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"none\"}"),
        "{\"mode\":\"NONE\"}") != NULL, "tool_choice none -> NONE");
    T_OK(strstr(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"w\"}],\"tools\":[{\"type\":\"function\","
        "\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"required\"}"),
        "{\"mode\":\"ANY\"}") != NULL, "tool_choice required -> ANY");
    T_OK(strstr(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"w\"}],\"tools\":[{\"type\":\"function\","
        "\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"auto\"}"),
        "{\"mode\":\"AUTO\"}") != NULL, "tool_choice auto -> AUTO");
    T_OK(strstr(chat_body("{\"model\":\"m\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"w\"}],\"response_format\":{\"type\":"
        "\"json_object\"}}"), "\"responseMimeType\":\"application/json\"")
        != NULL, "response_format json_object -> responseMimeType");
}

static void test_build_and_embed(void)
{
    struct provider_call c;

    setup(&c, PROV_CHAT, "{\"model\":\"gemini-2.5-flash\",\"stream\":true,"
          "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    T_EQ_INT(gemini_build(&c), 0, "build: chat stream");
    T_EQ_STR(url.ptr, "http://gemini.test/v1beta/models/gemini-2.5-flash:"
             "streamGenerateContent?alt=sse", "build: stream URL");
    T_EQ_STR(c.hdrs->data, "x-goog-api-key: gemini-unit-key",
             "build: key header");
    T_EQ_STR(c.hdrs->next->next->data, "Accept: text/event-stream",
             "build: SSE accepted");
    curl_slist_free_all(c.hdrs);

    setup(&c, PROV_CHAT, "{\"model\":\"../x\",\"messages\":[{\"role\":"
          "\"user\",\"content\":\"hi\"}]}");
    T_EQ_INT(gemini_build(&c), -1, "build: model with / refused");

    setup(&c, PROV_EMBED, "{\"model\":\"text-embedding-004\",\"input\":"
          "[\"a\",\"b\"],\"dimensions\":4}");
    T_EQ_INT(gemini_build(&c), 0, "build: embeddings");
    T_EQ_STR(url.ptr, "http://gemini.test/v1beta/models/text-embedding-004:"
             "batchEmbedContents", "build: embeddings URL");
    T_EQ_STR(body.ptr, "{\"requests\":[{\"model\":\"models/text-embedding-"
             "004\",\"content\":{\"parts\":[{\"text\":\"a\"}]},"
             "\"outputDimensionality\":4},{\"model\":\"models/text-"
             "embedding-004\",\"content\":{\"parts\":[{\"text\":\"b\"}]},"
             "\"outputDimensionality\":4}]}", "build: embeddings body");
    curl_slist_free_all(c.hdrs);

    setup(&c, PROV_EMBED, "{\"model\":\"e\",\"input\":[[1,2,3]]}");
    T_EQ_INT(gemini_embed_body(&c), -1, "embeddings: token arrays refused");
}

static const char *parse(const char *reqj, const char *reply,
                         struct buf *out)
{
    struct provider_call c;

    setup(&c, PROV_CHAT, reqj);
    buf_reset(out);
    if (gemini_parse(&c, reply, strlen(reply), out) < 0)
        return "(parse failed)";
    return out->ptr;
}

/* "created" varies: compare from "model" on. */
static const char *from_model(const char *s)
{
    const char *p = s ? strstr(s, "\"model\"") : NULL;

    return p ? p : "(none)";
}

static void test_replies(void)
{
    struct buf out = BUF_INIT(1 << 20);
    const char *rq = "{\"model\":\"gemini-2.5-pro\",\"messages\":[]}";

    T_EQ_STR(from_model(parse(rq, "{\"candidates\":[{\"content\":{\"role\":"
        "\"model\",\"parts\":[{\"text\":\"thinking...\",\"thought\":true},"
        "{\"text\":\"Hello\"},{\"text\":\" there\"}]},\"finishReason\":"
        "\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":10,"
        "\"candidatesTokenCount\":4,\"thoughtsTokenCount\":6,"
        "\"cachedContentTokenCount\":3,\"totalTokenCount\":20},"
        "\"modelVersion\":\"gemini-2.5-pro-preview-06-05\"}", &out)),
        "\"model\":\"gemini-2.5-pro-preview-06-05\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hello there\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":10,"
        "\"total_tokens\":20,\"prompt_tokens_details\":{\"cached_tokens\":3}}}",
        "text reply: thoughts hidden but billed, cached, modelVersion");
    T_EQ_STR(ev.served_model, "gemini-2.5-pro-preview-06-05",
             "served model from modelVersion");
    T_OK(ev.has_usage, "usage marked as the provider's");

    T_EQ_STR(from_model(parse(rq, "{\"candidates\":[{\"content\":{\"parts\":"
        "[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":"
        "\"Paris\"}}}]},\"finishReason\":\"STOP\"}]}", &out)),
        "\"model\":\"gemini-2.5-pro\",\"choices\":[{\"index\":0,\"message\":"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
        "\"call_rid_0\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}],"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"tool_calls\""
        "}],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,"
        "\"total_tokens\":0,\"prompt_tokens_details\":{\"cached_tokens\":0}}}",
        "functionCall -> tool_calls, content null, finish tool_calls");
    T_OK(!ev.has_usage, "no usageMetadata: no usage");
    T_EQ_STR(ev.served_model, "gemini-2.5-pro", "served model defaults to "
             "the model asked");

    T_OK(strstr(parse(rq, "{\"candidates\":[{\"content\":{\"parts\":[{"
        "\"text\":\"Hel\"}]},\"finishReason\":\"MAX_TOKENS\"}]}", &out),
        "\"finish_reason\":\"length\"") != NULL, "MAX_TOKENS -> length");
    T_OK(strstr(parse(rq, "{\"candidates\":[{\"finishReason\":\"SAFETY\"}]}",
        &out), "\"finish_reason\":\"content_filter\"") != NULL,
        "SAFETY -> content_filter");
    T_OK(strstr(parse(rq, "{\"candidates\":[{\"finishReason\":"
        "\"RECITATION\"}]}", &out), "\"content_filter\"") != NULL,
        "RECITATION -> content_filter");
    T_OK(strstr(parse(rq, "{\"promptFeedback\":{\"blockReason\":"
        "\"PROHIBITED_CONTENT\"},\"usageMetadata\":{\"promptTokenCount\":9}}",
        &out), "\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
        "\"finish_reason\":\"content_filter\"") != NULL,
        "blocked prompt -> content_filter");
    T_EQ_INT(ev.prompt_tokens, 9, "blocked prompt still billed");
    T_EQ_STR(parse(rq, "<html>", &out), "(parse failed)",
             "unreadable reply");
    buf_release(&out);
}

static void test_embed_reply(void)
{
    struct provider_call c;
    struct buf out = BUF_INIT(1 << 20);
    const char *r = "{\"embeddings\":[{\"values\":[0.5,-0.25]},"
                    "{\"values\":[1e-3,2]}]}";

    setup(&c, PROV_EMBED, "{\"model\":\"text-embedding-004\",\"input\":"
          "[\"a\",\"b\"]}");
    T_EQ_INT(gemini_parse(&c, r, strlen(r), &out), 0, "embeddings reply");
    T_EQ_STR(out.ptr, "{\"object\":\"list\",\"data\":[{\"object\":"
             "\"embedding\",\"index\":0,\"embedding\":[0.5,-0.25]},"
             "{\"object\":\"embedding\",\"index\":1,\"embedding\":[1e-3,2]}],"
             "\"model\":\"text-embedding-004\",\"usage\":{\"prompt_tokens\":0,"
             "\"total_tokens\":0}}", "embeddings as OpenAI's list");
    T_OK(!ev.has_usage, "embeddings without usage: usage_source none");

    setup(&c, PROV_EMBED, "{\"model\":\"e\",\"input\":\"a\","
          "\"encoding_format\":\"base64\"}");
    buf_reset(&out);
    r = "{\"embeddings\":[{\"values\":[1.0,-2.0]}]}";
    gemini_parse(&c, r, strlen(r), &out);
    /* 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0 */
    T_OK(strstr(out.ptr, "\"embedding\":\"AACAPwAAAMA=\"") != NULL,
         "base64: little-endian float32");
    buf_release(&out);
}

struct sink_got {
    struct buf all;
    int chunks, usage_chunks;
};

static int sink_chunk(void *ctx, const char *json, size_t len,
                      int usage_only)
{
    struct sink_got *g = ctx;

    buf_add(&g->all, json, len);
    buf_addc(&g->all, '\n');
    g->chunks++;
    g->usage_chunks += usage_only;
    return 0;
}

/* Feeds s in pieces of step bytes; returns the stream's result. */
static int feed(struct provider_call *c, const char *s, size_t step,
                struct sink_got *g, int *done)
{
    struct chunk_sink sink = { sink_chunk, g };
    size_t n = strlen(s);

    buf_reset(&g->all);
    g->chunks = g->usage_chunks = 0;
    *done = 0;
    for (size_t i = 0; i < n; i += step)
        if (gemini_stream(c, s + i, n - i < step ? n - i : step, &sink,
                          done) < 0)
            return -1;
    return 0;
}

static void test_stream(void)
{
    struct provider_call c;
    struct sink_got g = { BUF_INIT(1 << 20), 0, 0 };
    int done;
    const char *s =
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\"Hello\"}]},\"index\":0}],\"usageMetadata\":"
        "{\"promptTokenCount\":7,\"totalTokenCount\":7},\"modelVersion\":"
        "\"gemini-2.5-flash-001\"}\r\n\r\n"
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\" world\"}]},\"index\":0}]}\r\n\r\n"
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\"!\"}]},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":"
        "3,\"thoughtsTokenCount\":2,\"totalTokenCount\":12}}\r\n\r\n";

    setup(&c, PROV_CHAT, "{\"model\":\"gemini-2.5-flash\",\"stream\":true,"
          "\"messages\":[]}");
    T_EQ_INT(feed(&c, s, 1, &g, &done), 0, "stream fed byte by byte");
    T_OK(done, "finishReason ends the stream");
    T_EQ_INT(g.chunks, 6, "role, 3 deltas, finish, usage");
    T_EQ_INT(g.usage_chunks, 1, "one usage chunk");
    T_OK(strstr(g.all.ptr, "\"delta\":{\"content\":\" world\"}") != NULL,
         "text delta relayed");
    T_OK(strstr(g.all.ptr, "\"model\":\"gemini-2.5-flash-001\"") != NULL,
         "chunks carry the served model");
    T_OK(strstr(g.all.ptr, "\"finish_reason\":\"stop\"") != NULL,
         "finish chunk");
    T_OK(strstr(g.all.ptr, "\"usage\":{\"prompt_tokens\":7,"
         "\"completion_tokens\":5,\"total_tokens\":12") != NULL,
         "usage: last seen, thoughts counted as output");
    T_OK(strstr(g.all.ptr, "chatcmpl-rid") != NULL, "chunk id from request");
    gemini_finish(&c);

    setup(&c, PROV_CHAT, "{\"model\":\"gemini-2.5-flash\",\"stream\":true,"
          "\"messages\":[]}");
    s = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
        "\"Hel\"}]}}],\"usageMetadata\":{\"promptTokenCount\":7,"
        "\"candidatesTokenCount\":1}}\r\n\r\n";
    T_EQ_INT(feed(&c, s, 150, &g, &done), 0, "truncated stream fed");
    T_OK(!done, "no finishReason: not done");
    T_EQ_INT(g.chunks, 2, "what came is relayed (role, text)");
    T_EQ_INT(ev.completion_tokens, 1, "partial usage kept");
    gemini_finish(&c);

    setup(&c, PROV_CHAT, "{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
    s = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
        "{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}]},"
        "\"finishReason\":\"STOP\"}]}\n\n";
    T_EQ_INT(feed(&c, s, 7, &g, &done), 0, "tool call stream");
    T_OK(strstr(g.all.ptr, "\"tool_calls\":[{\"index\":0,\"id\":"
         "\"call_rid_0\",\"type\":\"function\",\"function\":{\"name\":"
         "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]")
         != NULL, "functionCall -> one whole tool call delta");
    T_OK(strstr(g.all.ptr, "\"finish_reason\":\"tool_calls\"") != NULL,
         "finish tool_calls");
    T_EQ_INT(g.usage_chunks, 0, "no usage reported: no usage chunk");
    T_OK(done && !ev.has_usage, "done, usage_source none");
    gemini_finish(&c);

    setup(&c, PROV_CHAT, "{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
    s = "data: {\"error\":{\"code\":500,\"message\":\"boom\",\"status\":"
        "\"INTERNAL\"}}\n\n";
    T_EQ_INT(feed(&c, s, 100, &g, &done), -1, "error event stops");
    gemini_finish(&c);
    buf_release(&g.all);
}

static void test_errors(void)
{
    struct provider_call c;
    struct buf out = BUF_INIT(1 << 16);
    const char *e = "{\"error\":{\"code\":429,\"message\":\"Resource has "
                    "been exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}";

    setup(&c, PROV_CHAT, "{\"model\":\"m\",\"messages\":[]}");
    gemini_error(&c, 429, e, strlen(e), &out);
    T_EQ_STR(out.ptr, "{\"error\":{\"message\":\"Resource has been "
             "exhausted\",\"type\":\"rate_limit_error\",\"param\":null,"
             "\"code\":\"RESOURCE_EXHAUSTED\"}}", "Google error mapped");
    buf_reset(&out);
    e = "[{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":"
        "\"INVALID_ARGUMENT\"}}]";
    gemini_error(&c, 400, e, strlen(e), &out);
    T_OK(strstr(out.ptr, "\"code\":\"INVALID_ARGUMENT\"") != NULL,
         "array-wrapped error mapped");
    buf_reset(&out);
    e = "<!DOCTYPE html><title>Error 500</title>";
    gemini_error(&c, 500, e, strlen(e), &out);
    T_EQ_STR(out.ptr, "{\"error\":{\"message\":\"the upstream provider "
             "answered HTTP 500\",\"type\":\"server_error\",\"param\":null,"
             "\"code\":\"upstream_error\"}}", "HTML error wrapped");
    buf_reset(&out);
    e = "{\"error\":\"invalid_grant\",\"error_description\":\"Bad JWT\"}";
    gemini_error(&c, 400, e, strlen(e), &out);
    T_OK(strstr(out.ptr, "\"message\":\"Bad JWT\"") != NULL &&
         strstr(out.ptr, "\"code\":\"invalid_grant\"") != NULL,
         "OAuth error mapped");
    buf_release(&out);
}

int main(void)
{
    log_threshold = LOG_ERROR;
    buf_init(&url, 16384);
    buf_init(&body, 1 << 20);
    buf_init(&scratch, 1 << 20);
    sse_init(&sse, 1 << 20);
    T_OK(gemini_model_ok("gemini-2.5-flash") &&
         gemini_model_ok("claude-opus-4-1@20250805") &&
         !gemini_model_ok("a/b") && !gemini_model_ok("a:b") &&
         !gemini_model_ok(""), "model names checked for the URL path");
    test_request();
    test_tools_request();
    test_build_and_embed();
    test_replies();
    test_embed_reply();
    test_stream();
    test_errors();
    json_object_put(req);
    buf_release(&url);
    buf_release(&body);
    buf_release(&scratch);
    sse_release(&sse);
    return t_done();
}
