#include "../../fcgi/providers/anthropic.c"
#include "t.h"

/* A call with its per-thread buffers, as the relay sets it up. */
struct fixture {
    struct provider_call c;
    struct usage_event ev;
    struct sse_parser sse;
    struct buf scratch, url, body;
    json_object *req;
};

static void fx_init(struct fixture *f, const char *req_json, int stream)
{
    memset(f, 0, sizeof(*f));
    usage_event_init(&f->ev);
    sse_init(&f->sse, 1 << 20);
    buf_init(&f->scratch, 1 << 20);
    buf_init(&f->url, 4096);
    buf_init(&f->body, 1 << 20);
    f->req = jparse(req_json, strlen(req_json), NULL);
    f->c = (struct provider_call){
        .op = PROV_CHAT, .req = f->req,
        .model = jget_str(f->req, "model"), .stream = stream,
        .request_id = "0190-test", .ev = &f->ev, .sse = &f->sse,
        .scratch = &f->scratch, .url = &f->url, .body = &f->body,
    };
}

static void fx_release(struct fixture *f)
{
    anthropic_finish(&f->c);
    sse_release(&f->sse);
    buf_release(&f->scratch);
    buf_release(&f->url);
    buf_release(&f->body);
    json_object_put(f->req);
}

/* The translated body as JSON (caller puts), or NULL. */
static json_object *translate(struct fixture *f, const char *version)
{
    buf_reset(&f->body);
    if (anthropic_messages_body(&f->c, version, 4096, &f->body) < 0)
        return NULL;
    return jparse(f->body.ptr, f->body.len, NULL);
}

/* The value at a json-c path such as "messages[1].content[0].type", as
 * compact JSON text (strings unquoted), in a static buffer. */
static const char *at(json_object *o, const char *path)
{
    static char out[4096];
    char key[128];
    const char *p = path;

    while (o != NULL && *p) {
        size_t n = strcspn(p, ".[");

        if (n > 0) {
            snprintf(key, sizeof(key), "%.*s", (int)n, p);
            if (!json_object_object_get_ex(o, key, &o))
                return "(absent)";
            p += n;
        } else if (*p == '[') {
            o = json_object_array_get_idx(o, (size_t)strtoul(p + 1, NULL,
                                                             10));
            p = strchr(p, ']') + 1;
        } else {
            p++;
        }
    }
    if (o == NULL)
        return "null";
    snprintf(out, sizeof(out), "%s", json_object_is_type(o, json_type_string)
             ? json_object_get_string(o)
             : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE));
    return out;
}

static void test_request(void)
{
    struct fixture f;
    json_object *b;

    fx_init(&f, "{\"model\":\"claude-x\",\"messages\":["
            "{\"role\":\"system\",\"content\":\"Be brief.\"},"
            "{\"role\":\"user\",\"content\":\"Hi\"},"
            "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
            "\"look\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"data:image/png;base64,iVBORw0\"}},{\"type\":\"image_url\","
            "\"image_url\":{\"url\":\"https://x.test/a.jpg\"}}]}],"
            "\"temperature\":0.5,\"top_p\":0.9,\"max_tokens\":77,"
            "\"stop\":\"END\",\"user\":\"u1\",\"stream_options\":{}}", 1);
    b = translate(&f, NULL);
    T_OK(b != NULL, "plain request translates");
    T_EQ_STR(at(b, "model"), "claude-x", "model kept");
    T_EQ_STR(at(b, "system"), "Be brief.", "one system message: a string");
    T_EQ_STR(at(b, "messages[0].role"), "user", "first turn user");
    T_EQ_INT(json_object_array_length(json_object_object_get(b,
             "messages")), 1, "consecutive user messages merged");
    T_EQ_STR(at(b, "messages[0].content"),
             "[{\"type\":\"text\",\"text\":\"Hi\"},{\"type\":\"text\","
             "\"text\":\"look\"},{\"type\":\"image\",\"source\":{\"type\":"
             "\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0\"}},"
             "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
             "\"https://x.test/a.jpg\"}}]",
             "text parts and images as content blocks");
    T_EQ_STR(at(b, "max_tokens"), "77", "max_tokens");
    T_EQ_STR(at(b, "temperature"), "0.5", "temperature");
    T_EQ_STR(at(b, "top_p"), "0.9", "top_p");
    T_EQ_STR(at(b, "stop_sequences"), "[\"END\"]", "stop string to array");
    T_EQ_STR(at(b, "metadata.user_id"), "u1", "user to metadata.user_id");
    T_EQ_STR(at(b, "stream"), "true", "stream");
    T_EQ_STR(at(b, "stream_options"), "(absent)", "no OpenAI-only fields");
    json_object_put(b);

    b = translate(&f, "vertex-2023-10-16");
    T_EQ_STR(at(b, "anthropic_version"), "vertex-2023-10-16",
             "Vertex: version in the body");
    T_EQ_STR(at(b, "model"), "(absent)", "Vertex: no model in the body");
    json_object_put(b);
    fx_release(&f);
}

static void test_request_tools(void)
{
    struct fixture f;
    json_object *b;

    fx_init(&f, "{\"model\":\"m\",\"messages\":["
            "{\"role\":\"developer\",\"content\":\"A\"},"
            "{\"role\":\"system\",\"content\":[{\"type\":\"text\","
            "\"text\":\"B\"}]},"
            "{\"role\":\"user\",\"content\":\"weather?\"},"
            "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
            "{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":"
            "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
            "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":"
            "\"get_time\",\"arguments\":\"\"}}]},"
            "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":"
            "\"sunny\"},"
            "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":"
            "[{\"type\":\"text\",\"text\":\"noon\"}]}],"
            "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
            "\"get_weather\",\"description\":\"Weather\",\"parameters\":"
            "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
            "\"string\"}}}}},{\"type\":\"function\",\"function\":{\"name\":"
            "\"get_time\"}}],\"tool_choice\":\"required\","
            "\"max_completion_tokens\":9,\"stop\":[\"x\",\"y\"]}", 0);
    b = translate(&f, NULL);
    T_OK(b != NULL, "tool request translates");
    T_EQ_STR(at(b, "system"), "[{\"type\":\"text\",\"text\":\"A\"},"
             "{\"type\":\"text\",\"text\":\"B\"}]",
             "several system messages: text blocks");
    T_EQ_STR(at(b, "messages[1].content"),
             "[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
             "\"get_weather\",\"input\":{\"city\":\"Paris\"}},{\"type\":"
             "\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_time\","
             "\"input\":{}}]", "assistant tool_calls to tool_use blocks");
    T_EQ_STR(at(b, "messages[2].role"), "user", "tool results: user turn");
    T_EQ_STR(at(b, "messages[2].content"),
             "[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
             "\"content\":\"sunny\"},{\"type\":\"tool_result\","
             "\"tool_use_id\":\"toolu_2\",\"content\":\"noon\"}]",
             "consecutive tool results merged into one user turn");
    T_EQ_STR(at(b, "tools[0]"), "{\"name\":\"get_weather\",\"description\":"
             "\"Weather\",\"input_schema\":{\"type\":\"object\","
             "\"properties\":{\"city\":{\"type\":\"string\"}}}}",
             "tool definition");
    T_EQ_STR(at(b, "tools[1].input_schema"),
             "{\"type\":\"object\",\"properties\":{}}",
             "a tool without parameters gets an empty schema");
    T_EQ_STR(at(b, "tool_choice"), "{\"type\":\"any\"}", "required: any");
    T_EQ_STR(at(b, "max_tokens"), "9", "max_completion_tokens wins");
    T_EQ_STR(at(b, "stop_sequences"), "[\"x\",\"y\"]", "stop array");
    json_object_put(b);
    fx_release(&f);
}

static const char *choice_of(const char *tc, const char *extra)
{
    static char out[256];
    char req[512];
    struct fixture f;
    json_object *b;

    snprintf(req, sizeof(req), "{\"model\":\"m\",\"messages\":[{\"role\":"
             "\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\","
             "\"function\":{\"name\":\"f\"}}],\"tool_choice\":%s%s}", tc,
             extra);
    fx_init(&f, req, 0);
    b = translate(&f, NULL);
    snprintf(out, sizeof(out), "%s", b ? at(b, "tool_choice")
                                       : f.scratch.ptr);
    json_object_put(b);
    fx_release(&f);
    return out;
}

static void test_tool_choice(void)
{
    T_EQ_STR(choice_of("\"auto\"", ""), "{\"type\":\"auto\"}", "auto");
    T_EQ_STR(choice_of("\"none\"", ""), "{\"type\":\"none\"}", "none");
    T_EQ_STR(choice_of("{\"type\":\"function\",\"function\":{\"name\":"
                       "\"f\"}}", ""),
             "{\"type\":\"tool\",\"name\":\"f\"}", "named function: tool");
    T_EQ_STR(choice_of("null", ",\"parallel_tool_calls\":false"),
             "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}",
             "parallel_tool_calls false");
    T_OK(strstr(choice_of("\"sometimes\"", ""), "tool_choice must") != NULL,
         "unknown tool_choice refused with a message");
}

static void test_request_errors(void)
{
    static const struct {
        const char *req, *why, *name;
    } cases[] = {
        { "[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\","
          "\"function\":{\"name\":\"f\",\"arguments\":\"[1\"}}]}]",
          "arguments must be a JSON object", "bad tool arguments" },
        { "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
          "\"image_url\":{\"url\":\"ftp://x/y.png\"}}]}]",
          "https:// or data:", "image URL scheme" },
        { "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
          "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]",
          "base64", "data URL not base64" },
        { "[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]",
          "text or image_url", "unsupported part" },
        { "[{\"role\":\"function\",\"content\":\"x\"}]", "roles must be",
          "unknown role" },
        { "[{\"role\":\"tool\",\"content\":\"x\"}]", "tool_call_id",
          "tool message without id" },
    };
    char req[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        json_object *b;

        snprintf(req, sizeof(req), "{\"model\":\"m\",\"messages\":%s}",
                 cases[i].req);
        fx_init(&f, req, 0);
        b = translate(&f, NULL);
        T_OK(b == NULL && f.scratch.ptr != NULL &&
             strstr(f.scratch.ptr, cases[i].why) != NULL, cases[i].name);
        json_object_put(b);
        fx_release(&f);
    }
}

static void test_parse(void)
{
    struct fixture f;
    struct buf out = BUF_INIT(1 << 20);
    json_object *o;
    const char *text =
        "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-x-20250929\",\"content\":[{\"type\":\"text\","
        "\"text\":\"Hello\"},{\"type\":\"text\",\"text\":\" there\"}],"
        "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{"
        "\"input_tokens\":10,\"cache_creation_input_tokens\":2,"
        "\"cache_read_input_tokens\":8,\"output_tokens\":5}}";
    const char *tool =
        "{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\","
        "\"model\":\"claude-x\",\"content\":[{\"type\":\"tool_use\",\"id\":"
        "\"toolu_9\",\"name\":\"get_weather\",\"input\":{\"city\":"
        "\"Paris\"}}],\"stop_reason\":\"tool_use\",\"usage\":{"
        "\"input_tokens\":3,\"output_tokens\":4}}";

    fx_init(&f, "{\"model\":\"claude-x\",\"messages\":[]}", 0);
    T_EQ_INT(anthropic_parse(&f.c, text, strlen(text), &out), 0,
             "text reply parsed");
    o = jparse(out.ptr, out.len, NULL);
    T_EQ_STR(at(o, "object"), "chat.completion", "chat.completion");
    T_EQ_STR(at(o, "choices[0].message.content"), "Hello there",
             "text blocks joined");
    T_EQ_STR(at(o, "choices[0].finish_reason"), "stop", "end_turn: stop");
    T_EQ_STR(at(o, "model"), "claude-x-20250929", "reply's model");
    T_EQ_STR(at(o, "usage"), "{\"prompt_tokens\":20,\"completion_tokens\":5,"
             "\"total_tokens\":25,\"prompt_tokens_details\":{"
             "\"cached_tokens\":8}}", "cache tokens count as prompt");
    T_EQ_STR(f.ev.served_model, "claude-x-20250929", "served model set");
    T_OK(f.ev.has_usage, "usage marked as the provider's");
    json_object_put(o);

    buf_reset(&out);
    usage_event_init(&f.ev);
    T_EQ_INT(anthropic_parse(&f.c, tool, strlen(tool), &out), 0,
             "tool reply parsed");
    o = jparse(out.ptr, out.len, NULL);
    T_EQ_STR(at(o, "choices[0].message.content"), "null",
             "no text: content null");
    T_EQ_STR(at(o, "choices[0].message.tool_calls"),
             "[{\"id\":\"toolu_9\",\"type\":\"function\",\"function\":{"
             "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
             "\\\"Paris\\\"}\"}}]", "tool_use to tool_calls");
    T_EQ_STR(at(o, "choices[0].finish_reason"), "tool_calls",
             "tool_use: tool_calls");
    json_object_put(o);

    buf_reset(&out);
    T_EQ_INT(anthropic_parse(&f.c, "<html>", 6, &out), -1,
             "unreadable reply refused");
    T_EQ_STR(finish_reason("max_tokens"), "length", "max_tokens: length");
    T_EQ_STR(finish_reason("stop_sequence"), "stop", "stop_sequence: stop");
    T_EQ_STR(finish_reason("refusal"), "content_filter",
             "refusal: content_filter");
    buf_release(&out);
    fx_release(&f);
}

/* Collects the chunks a stream emits. */
struct sink_log {
    struct buf all;
    int n, usage_chunks;
};

static int log_chunk(void *ctx, const char *json, size_t len,
                     int usage_only)
{
    struct sink_log *l = ctx;

    buf_add(&l->all, json, len);
    buf_addc(&l->all, '\n');
    l->n++;
    l->usage_chunks += usage_only;
    return 0;
}

#define EV(name, data) "event: " name "\ndata: " data "\n\n"

static const char stream_tool[] =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":"
       "\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
       "\"model\":\"claude-x-1\",\"stop_reason\":null,\"usage\":{"
       "\"input_tokens\":10,\"cache_read_input_tokens\":4,"
       "\"cache_creation_input_tokens\":1,\"output_tokens\":1}}}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
       "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
    EV("ping", "{\"type\": \"ping\"}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check.\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("content_block_start", "{\"type\":\"content_block_start\",\"index\":1,"
       "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_7\","
       "\"name\":\"get_weather\",\"input\":{}}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
       "\"{\\\"city\\\": \"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":1,"
       "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
       "\"\\\"Paris\\\"}\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"
       "\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{"
       "\"output_tokens\":42}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");

static void test_stream(void)
{
    struct fixture f;
    struct sink_log l = { BUF_INIT(1 << 20), 0, 0 };
    struct chunk_sink sink = { log_chunk, &l };
    int done = 0, rc = 0;

    fx_init(&f, "{\"model\":\"claude-x\",\"messages\":[]}", 1);
    for (size_t i = 0; i < sizeof(stream_tool) - 1 && rc == 0; i++)
        rc = anthropic_stream(&f.c, stream_tool + i, 1, &sink, &done);
    T_EQ_INT(rc, 0, "stream fed one byte at a time");
    T_EQ_INT(done, 1, "message_stop ends the stream");
    T_EQ_INT(l.n, 7, "role, text, 3 tool deltas, finish, usage chunks");
    T_OK(strstr(l.all.ptr, "\"delta\":{\"role\":\"assistant\","
                "\"content\":\"\"}") != NULL, "role chunk first");
    T_OK(strstr(l.all.ptr, "\"model\":\"claude-x-1\"") != NULL,
         "chunks carry the served model");
    T_OK(strstr(l.all.ptr, "\"content\":\"Let me check.\"") != NULL,
         "text delta");
    T_OK(strstr(l.all.ptr, "\"tool_calls\":[{\"index\":0,\"id\":\"toolu_7\","
                "\"type\":\"function\",\"function\":{\"name\":"
                "\"get_weather\",\"arguments\":\"\"}}]") != NULL,
         "tool call opens with id and name at tool index 0");
    T_OK(strstr(l.all.ptr, "{\"index\":0,\"function\":{\"arguments\":"
                "\"{\\\"city\\\": \"}}") != NULL, "arguments delta");
    T_OK(strstr(l.all.ptr, "\"finish_reason\":\"tool_calls\"") != NULL,
         "finish tool_calls");
    T_EQ_INT(l.usage_chunks, 1, "one usage chunk");
    T_OK(strstr(l.all.ptr, "\"usage\":{\"prompt_tokens\":15,"
                "\"completion_tokens\":42,\"total_tokens\":57,"
                "\"prompt_tokens_details\":{\"cached_tokens\":4}}") != NULL,
         "usage: input + cache, cumulative output");
    T_EQ_STR(f.ev.served_model, "claude-x-1", "served model from the stream");
    buf_release(&l.all);
    fx_release(&f);
}

static void test_stream_error(void)
{
    struct fixture f;
    struct sink_log l = { BUF_INIT(1 << 20), 0, 0 };
    struct chunk_sink sink = { log_chunk, &l };
    int done = 0;
    const char *s =
        EV("message_start", "{\"type\":\"message_start\",\"message\":{"
           "\"id\":\"msg_1\",\"model\":\"c\",\"usage\":{\"input_tokens\":7,"
           "\"output_tokens\":1}}}")
        EV("content_block_delta", "{\"type\":\"content_block_delta\","
           "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}")
        EV("error", "{\"type\":\"error\",\"error\":{\"type\":"
           "\"overloaded_error\",\"message\":\"Overloaded\"}}");

    fx_init(&f, "{\"model\":\"claude-x\",\"messages\":[]}", 1);
    T_EQ_INT(anthropic_stream(&f.c, s, strlen(s), &sink, &done), -1,
             "error event breaks the stream");
    T_EQ_INT(done, 0, "not done");
    T_EQ_INT(f.ev.prompt_tokens, 7, "usage known so far recorded");
    T_OK(f.ev.has_usage, "usage is the provider's");
    T_EQ_INT(l.usage_chunks, 0, "no usage chunk");
    fx_release(&f);

    fx_init(&f, "{\"model\":\"claude-x\",\"messages\":[]}", 1);
    s = EV("message_start", "{\"type\":\"message_start\",\"message\":{"
           "\"id\":\"msg_1\",\"model\":\"c\"}}")
        EV("message_delta", "{\"type\":\"message_delta\",\"delta\":{"
           "\"stop_reason\":\"max_tokens\"}}")
        EV("message_stop", "{\"type\":\"message_stop\"}");
    l.n = l.usage_chunks = 0;
    buf_reset(&l.all);
    T_EQ_INT(anthropic_stream(&f.c, s, strlen(s), &sink, &done), 0,
             "stream without usage");
    T_EQ_INT(done, 1, "done");
    T_OK(strstr(l.all.ptr, "\"finish_reason\":\"length\"") != NULL,
         "max_tokens: length");
    T_EQ_INT(l.usage_chunks, 0, "no usage reported: no usage chunk");
    T_OK(!f.ev.has_usage, "no usage: the event says so");
    T_EQ_INT(anthropic_stream(&f.c, "data: garbage\n\n", 15, &sink, &done),
             0, "events after message_stop ignored");
    buf_release(&l.all);
    fx_release(&f);
}

static void test_error(void)
{
    struct buf out = BUF_INIT(4096);
    const char *e = "{\"type\":\"error\",\"error\":{\"type\":"
                    "\"overloaded_error\",\"message\":\"Overloaded\"},"
                    "\"request_id\":\"req_1\"}";

    anthropic_error(NULL, 529, e, strlen(e), &out);
    T_EQ_STR(out.ptr, "{\"error\":{\"message\":\"Overloaded\",\"type\":"
             "\"server_error\",\"param\":null,\"code\":\"overloaded_error\"}}",
             "Anthropic error mapped, its type as code");
    buf_reset(&out);
    e = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
        "\"message\":\"slow down\"}}";
    anthropic_error(NULL, 429, e, strlen(e), &out);
    T_OK(strstr(out.ptr, "\"type\":\"rate_limit_error\",\"param\":null,"
                "\"code\":\"rate_limit_error\"") != NULL, "429 mapped");
    buf_reset(&out);
    anthropic_error(NULL, 502, "<html>bad gateway</html>", 24, &out);
    T_EQ_STR(out.ptr, "{\"error\":{\"message\":\"the upstream provider "
             "answered HTTP 502\",\"type\":\"server_error\",\"param\":null,"
             "\"code\":\"upstream_error\"}}", "HTML body wrapped");
    buf_release(&out);
}

static void test_init(void)
{
    struct backend be;
    struct anthropic_conf *cf;
    json_object *o;
    char err[256];
    const char *conf = "{\"anthropic_version\":\"2024-01-01\","
                       "\"default_max_tokens\":123}";

    memset(&be, 0, sizeof(be));
    o = json_object_new_object();
    T_EQ_INT(anthropic_init(&be, o, err, sizeof(err)), 0, "init defaults");
    cf = be.pstate;
    T_EQ_STR(be.base_url, "https://api.anthropic.com", "default base_url");
    T_EQ_STR(cf->version, "2023-06-01", "default anthropic_version");
    T_EQ_INT(cf->default_max_tokens, 4096, "default default_max_tokens");
    anthropic_destroy(&be);
    free(be.base_url);
    json_object_put(o);

    memset(&be, 0, sizeof(be));
    o = jparse(conf, strlen(conf), NULL);
    T_EQ_INT(anthropic_init(&be, o, err, sizeof(err)), 0, "init settings");
    cf = be.pstate;
    T_EQ_STR(cf->version, "2024-01-01", "anthropic_version read");
    T_EQ_INT(cf->default_max_tokens, 123, "default_max_tokens read");
    anthropic_destroy(&be);
    free(be.base_url);
    json_object_put(o);

    memset(&be, 0, sizeof(be));
    conf = "{\"anthropic_version\":\"a\\r\\nX: y\"}";
    o = jparse(conf, strlen(conf), NULL);
    T_EQ_INT(anthropic_init(&be, o, err, sizeof(err)), -1,
             "header injection in anthropic_version refused");
    anthropic_destroy(&be);
    free(be.base_url);
    json_object_put(o);
}

static void test_build(void)
{
    struct fixture f;
    struct backend be;
    json_object *o = json_object_new_object();
    char err[256];
    char secret[] = "sk-ant-secret";
    int key = 0, ver = 0;

    memset(&be, 0, sizeof(be));
    anthropic_init(&be, o, err, sizeof(err));
    be.api_key = secret;
    fx_init(&f, "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"hi\"}]}", 1);
    f.c.be = &be;
    T_EQ_INT(anthropic_build(&f.c), 0, "build");
    T_EQ_STR(f.url.ptr, "https://api.anthropic.com/v1/messages", "url");
    for (struct curl_slist *h = f.c.hdrs; h != NULL; h = h->next) {
        key += strcmp(h->data, "x-api-key: sk-ant-secret") == 0;
        ver += strcmp(h->data, "anthropic-version: 2023-06-01") == 0;
    }
    T_OK(key == 1 && ver == 1, "x-api-key and anthropic-version headers");
    T_OK(strstr(f.body.ptr, "\"max_tokens\":4096") != NULL,
         "default max_tokens");
    curl_slist_free_all(f.c.hdrs);
    f.c.op = PROV_EMBED;
    f.c.hdrs = NULL;
    T_EQ_INT(anthropic_build(&f.c), -1, "embeddings refused");
    fx_release(&f);
    anthropic_destroy(&be);
    free(be.base_url);
    json_object_put(o);
}

int main(void)
{
    test_request();
    test_request_tools();
    test_tool_choice();
    test_request_errors();
    test_parse();
    test_stream();
    test_stream_error();
    test_error();
    test_init();
    test_build();
    return t_done();
}
