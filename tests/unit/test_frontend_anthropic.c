/* The Anthropic Messages API frontend: request translation to the unified
 * shape, replies, stream events and errors back, on fixed inputs. */
#include "../../fcgi/frontend_anthropic.c"

#include "t.h"

/* --- helpers ---------------------------------------------------------- */

static char why[ANT_WHY_MAX];

/* The unified request for an Anthropic one, as compact JSON ("" when
 * refused, the message in why). */
static const char *unify(const char *anthropic)
{
    static char out[8192];
    json_object *in = json_tokener_parse(anthropic), *u;

    why[0] = out[0] = '\0';
    u = ant_request(in, why);
    if (u != NULL)
        snprintf(out, sizeof(out), "%s", json_object_to_json_string_ext(u,
                 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(u);
    json_object_put(in);
    return out;
}

/* Member path of a JSON text, e.g. "messages.1.tool_calls.0.id", as
 * compact JSON (strings unquoted). */
static const char *at(const char *json, const char *path)
{
    static char out[4096];
    json_object *root = json_tokener_parse(json), *o = root;
    char p[256], *save = NULL, *k;
    int found = root != NULL;

    out[0] = '\0';
    snprintf(p, sizeof(p), "%s", path);
    for (k = strtok_r(p, ".", &save); k && found;
         k = strtok_r(NULL, ".", &save))
        if (json_object_is_type(o, json_type_array))
            found = (o = json_object_array_get_idx(o, (size_t)atoi(k))) !=
                    NULL;
        else
            found = json_object_object_get_ex(o, k, &o);
    if (found && o == NULL)
        snprintf(out, sizeof(out), "null");
    else if (found)
        snprintf(out, sizeof(out), "%s", json_object_is_type(o,
                 json_type_string) ? json_object_get_string(o)
                 : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    else if (root != NULL)
        snprintf(out, sizeof(out), "(absent)");
    json_object_put(root);
    return out;
}

#define BASE "\"model\":\"m\",\"max_tokens\":64"

/* --- request ----------------------------------------------------------- */

static void test_request_basics(void)
{
    const char *u;

    u = unify("{" BASE ",\"system\":\"Be brief.\",\"messages\":[{\"role\":"
              "\"user\",\"content\":\"hi\"}],\"stop_sequences\":[\"END\"],"
              "\"temperature\":0.5,\"top_p\":0.9,\"top_k\":5,\"metadata\":"
              "{\"user_id\":\"u-1\"}}");
    T_EQ_STR(at(u, "messages.0"), "{\"role\":\"system\",\"content\":"
             "\"Be brief.\"}", "system string -> system message");
    T_EQ_STR(at(u, "messages.1"), "{\"role\":\"user\",\"content\":\"hi\"}",
             "string content kept");
    T_EQ_STR(at(u, "stop"), "[\"END\"]", "stop_sequences -> stop");
    T_EQ_STR(at(u, "temperature"), "0.5", "temperature");
    T_EQ_STR(at(u, "top_p"), "0.9", "top_p");
    T_EQ_STR(at(u, "top_k"), "(absent)", "top_k dropped");
    T_EQ_STR(at(u, "max_tokens"), "64", "max_tokens");
    T_EQ_STR(at(u, "user"), "u-1", "metadata.user_id -> user");
    T_EQ_STR(at(u, "stream"), "(absent)", "no stream by default");

    u = unify("{" BASE ",\"stream\":true,\"system\":[{\"type\":\"text\","
              "\"text\":\"A\"},{\"type\":\"text\",\"text\":\"B\"}],"
              "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    T_EQ_STR(at(u, "messages.0.content"), "AB", "system blocks joined");
    T_EQ_STR(at(u, "stream"), "true", "stream");
    T_EQ_STR(at(u, "stream_options"), "{\"include_usage\":true}",
             "stream asks for usage");
}

static void test_request_blocks(void)
{
    const char *u;

    u = unify("{" BASE ",\"messages\":[{\"role\":\"user\",\"content\":["
              "{\"type\":\"text\",\"text\":\"look\"},{\"type\":\"image\","
              "\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
              "\"data\":\"iVBOR\"}},{\"type\":\"image\",\"source\":{\"type\":"
              "\"url\",\"url\":\"https://x/y.png\"}}]}]}");
    T_EQ_STR(at(u, "messages.0.content.0"), "{\"type\":\"text\",\"text\":"
             "\"look\"}", "text block -> text part");
    T_EQ_STR(at(u, "messages.0.content.1.image_url.url"),
             "data:image/png;base64,iVBOR", "base64 image -> data: URL");
    T_EQ_STR(at(u, "messages.0.content.2.image_url.url"), "https://x/y.png",
             "url image -> image_url");

    u = unify("{" BASE ",\"messages\":[{\"role\":\"user\",\"content\":"
              "\"weather?\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
              "\"thinking\",\"thinking\":\"hm\",\"signature\":\"s\"},"
              "{\"type\":\"text\",\"text\":\"Checking.\"},{\"type\":"
              "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
              "\"input\":{\"city\":\"Paris\"}}]},{\"role\":\"user\","
              "\"content\":[{\"type\":\"text\",\"text\":\"and?\"},{\"type\":"
              "\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":[{"
              "\"type\":\"text\",\"text\":\"18C\"}]}]}]}");
    T_EQ_STR(at(u, "messages.1.content"), "Checking.",
             "assistant text (thinking dropped)");
    T_EQ_STR(at(u, "messages.1.tool_calls.0"), "{\"id\":\"toolu_1\","
             "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
             "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}",
             "tool_use -> tool_calls");
    T_EQ_STR(at(u, "messages.2"), "{\"role\":\"tool\",\"tool_call_id\":"
             "\"toolu_1\",\"content\":\"18C\"}",
             "tool_result -> tool message, first");
    T_EQ_STR(at(u, "messages.3.content.0.text"), "and?",
             "the rest of the user turn after it");

    u = unify("{" BASE ",\"messages\":[{\"role\":\"assistant\",\"content\":"
              "[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":"
              "{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
              "\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"ok\"}]}]}");
    T_EQ_STR(at(u, "messages.0.content"), "null",
             "tool calls only: content null");
    T_EQ_STR(at(u, "messages.1.content"), "ok", "tool_result string");
    T_EQ_STR(at(u, "messages.2"), "(absent)",
             "no empty user message after tool results");
}

static void test_request_tools(void)
{
    const char *u;
    const char *tools = ",\"tools\":[{\"name\":\"get_weather\","
                        "\"description\":\"Weather\",\"input_schema\":"
                        "{\"type\":\"object\"}}],\"messages\":[{\"role\":"
                        "\"user\",\"content\":\"x\"}]";
    char b[1024];

    snprintf(b, sizeof(b), "{" BASE "%s,\"tool_choice\":{\"type\":\"auto\"}}",
             tools);
    u = unify(b);
    T_EQ_STR(at(u, "tools.0"), "{\"type\":\"function\",\"function\":{\"name\":"
             "\"get_weather\",\"description\":\"Weather\",\"parameters\":{"
             "\"type\":\"object\"}}}", "tools -> function tools");
    T_EQ_STR(at(u, "tool_choice"), "auto", "tool_choice auto");
    snprintf(b, sizeof(b), "{" BASE "%s,\"tool_choice\":{\"type\":\"any\","
             "\"disable_parallel_tool_use\":true}}", tools);
    u = unify(b);
    T_EQ_STR(at(u, "tool_choice"), "required", "tool_choice any -> required");
    T_EQ_STR(at(u, "parallel_tool_calls"), "false",
             "disable_parallel_tool_use -> parallel_tool_calls false");
    snprintf(b, sizeof(b), "{" BASE "%s,\"tool_choice\":{\"type\":\"tool\","
             "\"name\":\"get_weather\"}}", tools);
    T_EQ_STR(at(unify(b), "tool_choice"), "{\"type\":\"function\","
             "\"function\":{\"name\":\"get_weather\"}}", "tool_choice tool");
    snprintf(b, sizeof(b), "{" BASE "%s,\"tool_choice\":{\"type\":\"none\"}}",
             tools);
    T_EQ_STR(at(unify(b), "tool_choice"), "none", "tool_choice none");
    snprintf(b, sizeof(b), "{" BASE "%s,\"tool_choice\":{\"type\":\"x\"}}",
             tools);
    T_EQ_STR(unify(b), "", "tool_choice unknown refused");
    T_OK(strstr(why, "tool_choice.type") != NULL, "... with the field");
}

static void test_request_errors(void)
{
    static const struct {
        const char *body, *why;
    } cases[] = {
        { "[]", "JSON object" },
        { "{\"max_tokens\":5,\"messages\":[]}", "model: Field required" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
          "\"x\"}]}", "max_tokens" },
        { "{" BASE ",\"max_tokens\":0,\"messages\":[{\"role\":\"user\","
          "\"content\":\"x\"}]}", "max_tokens" },
        { "{" BASE ",\"messages\":[]}", "messages: a non-empty array" },
        { "{" BASE ",\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
          "messages.0.role" },
        { "{" BASE ",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
          "messages.0.content" },
        { "{" BASE ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
          "\"document\"}]}]}", "block type `document`" },
        { "{" BASE ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
          "\"image\",\"source\":{\"type\":\"file\"}}]}]}",
          "messages.0.content.0.source" },
        { "{" BASE ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
          "\"tool_result\"}]}]}", "tool_use_id" },
        { "{" BASE ",\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
          "\"w\"}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
          "tool type `web_search_20250305`" },
        { "{" BASE ",\"tools\":[{\"name\":\"f\"}],\"messages\":[{\"role\":"
          "\"user\",\"content\":\"x\"}]}", "input_schema" },
        { "{" BASE ",\"temperature\":\"hot\",\"messages\":[{\"role\":"
          "\"user\",\"content\":\"x\"}]}", "temperature" },
        { "{" BASE ",\"system\":5,\"messages\":[{\"role\":\"user\","
          "\"content\":\"x\"}]}", "system" },
    };
    char name[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *u = unify(cases[i].body);

        snprintf(name, sizeof(name), "refused: %s", cases[i].why);
        T_OK(*u == '\0' && strstr(why, cases[i].why) != NULL, name);
        if (*u != '\0' || strstr(why, cases[i].why) == NULL)
            printf("#   why: %s\n", why);
    }
}

/* --- the whole parse() with a request ---------------------------------- */

struct sent {
    struct buf b;
};

static int sent_write(void *ctx, const char *p, size_t n)
{
    buf_add(&((struct sent *)ctx)->b, p, n);
    return 0;
}

static int sent_flush(void *ctx)
{
    (void)ctx;
    return 0;
}

static void request_init(struct request *r, struct sent *s, const char *body)
{
    memset(r, 0, sizeof(*r));
    buf_init(&s->b, 1 << 20);
    r->body = body;
    r->body_len = strlen(body);
    r->io = (struct req_io){ sent_write, sent_flush, s };
    snprintf(r->request_id, sizeof(r->request_id),
             "01234567-89ab-7cde-8f01-23456789abcd");
    usage_event_init(&r->ev);
}

static void test_parse(void)
{
    struct request r;
    struct sent s;
    struct chat_params p;
    json_object *u = NULL;
    const char *body;

    request_init(&r, &s, "{" BASE ",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}]}");
    T_OK(ant_parse_req(&r, PROV_CHAT, &u, &p) == 0, "parse: ok");
    T_EQ_STR(p.model, "m", "parse: model");
    T_OK(p.client_usage == 1, "parse: the frontend always sees usage");
    T_OK(s.b.len == 0, "parse: nothing sent");
    json_object_put(u);
    buf_release(&s.b);

    request_init(&r, &s, "{\"model\":\"m\",\"messages\":[]}");
    T_OK(ant_parse_req(&r, PROV_CHAT, &u, &p) < 0 && u == NULL,
         "parse: bad request refused");
    T_OK(strstr(s.b.ptr, "Status: 400") != NULL, "parse: 400 sent");
    body = strstr(s.b.ptr, "\r\n\r\n");
    T_EQ_STR(at(body ? body + 4 : "{}", "type"), "error",
             "parse: Anthropic error shape");
    T_EQ_STR(at(body ? body + 4 : "{}", "error.type"),
             "invalid_request_error", "parse: invalid_request_error");
    T_EQ_STR(at(body ? body + 4 : "{}", "request_id"), r.request_id,
             "parse: request_id in the error");
    T_EQ_INT(r.ev.http_status, 400, "parse: status recorded");
    buf_release(&s.b);

    request_init(&r, &s, "{\"model\":");
    T_OK(ant_parse_req(&r, PROV_CHAT, &u, &p) < 0, "parse: bad JSON");
    T_OK(strstr(s.b.ptr, "not valid JSON") != NULL, "parse: says so");
    buf_release(&s.b);

    request_init(&r, &s, "{\"model\":\"\",\"max_tokens\":5,\"messages\":["
                 "{\"role\":\"user\",\"content\":\"x\"}]}");
    T_OK(ant_parse_req(&r, PROV_CHAT, &u, &p) < 0,
         "parse: chat_validate applies (empty model)");
    json_object_put(u);
    buf_release(&s.b);
}

/* --- replies and errors ----------------------------------------------- */

static void test_reply(void)
{
    struct buf b = BUF_INIT(1 << 20);
    const char *c =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":"
        "\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{"
        "\"role\":\"assistant\",\"content\":\"Let me look.\",\"tool_calls\":"
        "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":20,"
        "\"completion_tokens\":9,\"total_tokens\":29,"
        "\"prompt_tokens_details\":{\"cached_tokens\":4}}}";

    T_OK(ant_message(&b, c, strlen(c), "0123-45", "asked") == 0,
         "reply: translated");
    T_EQ_STR(at(b.ptr, "id"), "msg_012345", "reply: msg_ id");
    T_EQ_STR(at(b.ptr, "type"), "message", "reply: type message");
    T_EQ_STR(at(b.ptr, "role"), "assistant", "reply: role");
    T_EQ_STR(at(b.ptr, "model"), "gpt-4o-2024-08-06", "reply: served model");
    T_EQ_STR(at(b.ptr, "content.0"), "{\"type\":\"text\",\"text\":"
             "\"Let me look.\"}", "reply: text block");
    T_EQ_STR(at(b.ptr, "content.1"), "{\"type\":\"tool_use\",\"id\":"
             "\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":"
             "\"Paris\"}}", "reply: tool_use block with parsed input");
    T_EQ_STR(at(b.ptr, "stop_reason"), "tool_use", "reply: stop_reason");
    T_EQ_STR(at(b.ptr, "stop_sequence"), "null", "reply: stop_sequence");
    T_EQ_STR(at(b.ptr, "usage"), "{\"input_tokens\":16,"
             "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":4,"
             "\"output_tokens\":9}", "reply: usage (cached apart)");
    buf_reset(&b);

    c = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
        "\"x\"},\"finish_reason\":\"length\"}]}";
    T_OK(ant_message(&b, c, strlen(c), "r", "asked") == 0, "reply: minimal");
    T_EQ_STR(at(b.ptr, "model"), "asked", "reply: requested model fallback");
    T_EQ_STR(at(b.ptr, "stop_reason"), "max_tokens", "reply: length");
    T_EQ_STR(at(b.ptr, "usage.output_tokens"), "0", "reply: no usage: 0");
    buf_reset(&b);
    T_OK(ant_message(&b, "{}", 2, "r", "m") < 0, "reply: no choices: -1");
    T_OK(ant_message(&b, "<x>", 3, "r", "m") < 0, "reply: garbage: -1");

    T_EQ_STR(stop_reason("stop"), "end_turn", "stop -> end_turn");
    T_EQ_STR(stop_reason("content_filter"), "refusal",
             "content_filter -> refusal");
    T_EQ_STR(ant_error_type(404), "not_found_error", "404 type");
    T_EQ_STR(ant_error_type(429), "rate_limit_error", "429 type");
    T_EQ_STR(ant_error_type(401), "authentication_error", "401 type");
    T_EQ_STR(ant_error_type(529), "overloaded_error", "529 type");
    T_EQ_STR(ant_error_type(502), "api_error", "502 type");
    T_EQ_STR(ant_error_type(422), "invalid_request_error", "422 type");
    buf_release(&b);
}

static void test_error_out(void)
{
    struct request r;
    struct sent s;
    struct relay x = { .r = &r };
    const char *e = "{\"error\":{\"message\":\"slow down\",\"type\":"
                    "\"rate_limit_error\",\"param\":null,\"code\":\"x\"}}";
    const char *body;

    request_init(&r, &s, "");
    ant_error_out(&x, 429, e, strlen(e), "Retry-After: 7\r\n");
    T_OK(strstr(s.b.ptr, "Status: 429") != NULL, "error: status kept");
    T_OK(strstr(s.b.ptr, "Retry-After: 7\r\n") != NULL,
         "error: Retry-After passed on");
    body = strstr(s.b.ptr, "\r\n\r\n");
    T_EQ_STR(at(body ? body + 4 : "{}", "error.message"), "slow down",
             "error: message kept");
    T_EQ_STR(at(body ? body + 4 : "{}", "error.type"), "rate_limit_error",
             "error: Anthropic type");
    buf_release(&s.b);
}

/* --- streams --------------------------------------------------------- */

/* The event names of a translated stream, space-separated. */
static const char *names(const struct buf *ev)
{
    static char out[2048];
    const char *p = ev->ptr ? ev->ptr : "";
    size_t n = 0;

    out[0] = '\0';
    while ((p = strstr(p, "event: ")) != NULL) {
        size_t l = strcspn(p + 7, "\n");

        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%.*s",
                              n ? " " : "", (int)l, p + 7);
        p += 7;
    }
    return out;
}

static void feed(struct ant_stream *s, const char *json)
{
    ant_stream_chunk(s, json, strlen(json));
}

#define CH(delta, finish)                                                 \
    "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":"       \
    "\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{" delta "},"          \
    "\"finish_reason\":" finish "}]}"

static void stream_init(struct ant_stream *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "msg_1");
    snprintf(s->request_id, sizeof(s->request_id), "rid");
    snprintf(s->model, sizeof(s->model), "asked");
    buf_init(&s->ev, 1 << 20);
}

static void test_stream(void)
{
    struct ant_stream s;
    const char *usage = "{\"id\":\"c\",\"choices\":[],\"usage\":{"
                        "\"prompt_tokens\":12,\"completion_tokens\":7,"
                        "\"total_tokens\":19}}";

    stream_init(&s);
    feed(&s, CH("\"role\":\"assistant\",\"content\":\"\"", "null"));
    T_EQ_STR(names(&s.ev), "message_start ping",
             "stream: message_start first, no empty block");
    T_EQ_STR(at(strstr(s.ev.ptr, "data: ") + 6, "message.model"), "gpt-x",
             "stream: served model in message_start");
    buf_reset(&s.ev);
    feed(&s, CH("\"content\":\"Hel\"", "null"));
    feed(&s, CH("\"content\":\"lo\"", "null"));
    T_EQ_STR(names(&s.ev), "content_block_start content_block_delta "
             "content_block_delta", "stream: one text block");
    T_OK(strstr(s.ev.ptr, "{\"type\":\"text_delta\",\"text\":\"lo\"}") !=
         NULL, "stream: text_delta");
    buf_reset(&s.ev);
    feed(&s, CH("\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":"
                "\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
                "\"\"}}]", "null"));
    feed(&s, CH("\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
                "\"{\\\"a\\\":1}\"}}]", "null"));
    feed(&s, CH("\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"function\""
                ":{\"name\":\"g\",\"arguments\":\"{}\"}}]", "null"));
    T_EQ_STR(names(&s.ev), "content_block_stop content_block_start "
             "content_block_delta content_block_stop content_block_start "
             "content_block_delta", "stream: text closed, two tool blocks");
    T_OK(strstr(s.ev.ptr, "\"index\":1,\"content_block\":{\"type\":"
                "\"tool_use\",\"id\":\"call_1\",\"name\":\"f\",\"input\":{}}")
         != NULL, "stream: tool_use block start");
    T_OK(strstr(s.ev.ptr, "{\"type\":\"input_json_delta\",\"partial_json\":"
                "\"{\\\"a\\\":1}\"}") != NULL, "stream: input_json_delta");
    buf_reset(&s.ev);
    feed(&s, CH("", "\"tool_calls\""));
    feed(&s, usage);
    T_EQ_STR(names(&s.ev), "content_block_stop",
             "stream: finish closes the block; usage waits");
    buf_reset(&s.ev);
    ant_stream_end(&s, NULL);
    T_EQ_STR(names(&s.ev), "message_delta message_stop", "stream: the end");
    T_EQ_STR(at(strstr(s.ev.ptr, "data: ") + 6, "delta.stop_reason"),
             "tool_use", "stream: stop_reason");
    T_EQ_STR(at(strstr(s.ev.ptr, "data: ") + 6, "usage.output_tokens"), "7",
             "stream: output tokens");
    T_EQ_STR(at(strstr(s.ev.ptr, "data: ") + 6, "usage.input_tokens"), "12",
             "stream: input tokens");
    buf_release(&s.ev);

    stream_init(&s);
    feed(&s, CH("\"content\":\"x\"", "null"));
    buf_reset(&s.ev);
    ant_stream_end(&s, "upstream_truncated");
    T_EQ_STR(names(&s.ev), "error", "stream: broken -> error event");
    T_EQ_STR(at(strstr(s.ev.ptr, "data: ") + 6, "error.type"), "api_error",
             "stream: error type");
    T_OK(strstr(s.ev.ptr, "upstream_truncated") != NULL,
         "stream: error names the cause");
    buf_release(&s.ev);

    stream_init(&s);
    ant_stream_end(&s, NULL);
    T_EQ_STR(names(&s.ev), "message_start ping message_delta message_stop",
             "stream: empty stream still a whole message");
    T_OK(strstr(s.ev.ptr, "\"usage\":{\"output_tokens\":0}") != NULL,
         "stream: no usage -> output_tokens 0");
    T_OK(ant_stream_chunk(&s, "{", 1) < 0, "stream: unreadable chunk: -1");
    buf_release(&s.ev);
}

int main(void)
{
    test_request_basics();
    test_request_blocks();
    test_request_tools();
    test_request_errors();
    test_parse();
    test_reply();
    test_error_out();
    test_stream();
    return t_done();
}
