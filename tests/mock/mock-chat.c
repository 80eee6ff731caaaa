/*
 * Chat completions (plain and streamed, in OpenAI's wire format),
 * embeddings, and fault injection chosen by the requested model name.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>

#include "mock.h"

#define BIG_WORD ((size_t)1 << 20)
#define HANG_MS 120000

enum fault {
    F_NONE, F_ERROR, F_SLOW, F_HANG, F_TRUNCATE, F_NOUSAGE, F_DRIP, F_CRLF,
    F_BIGLINE, F_RESET, F_429_DATE
};

struct chat {
    struct conn *c;
    const struct req *r;
    struct json_req j;
    enum fault fault;
    int arg;
    unsigned long long id;
    long long created;
    int chunks;
    int delay_ms;
    unsigned long long prompt;
    const char *eol;        /* SSE line ending */
    int usage_null;         /* chunks carry "usage":null */
    int usage_chunk;        /* a final chunk carries the usage */
};

static atomic_ullong next_id = 1;

/* Value of the decimal string s if all digits and <= max, else -1. */
static int parse_uint(const char *s, int max)
{
    long v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    return (int)v;
}

static enum fault parse_fault(const char *m, int *arg)
{
    static const struct {
        const char *name;
        enum fault f;
    } plain[] = {
        { "mock-hang", F_HANG }, { "mock-truncate", F_TRUNCATE },
        { "mock-nousage", F_NOUSAGE }, { "mock-drip", F_DRIP },
        { "mock-crlf", F_CRLF }, { "mock-bigline", F_BIGLINE },
        { "mock-reset", F_RESET }, { "mock-429-date", F_429_DATE },
    };
    size_t i;

    if (strncmp(m, "mock-", 5) != 0)
        return F_NONE;
    if (strncmp(m, "mock-error-", 11) == 0) {
        *arg = parse_uint(m + 11, 599);
        return *arg >= 400 ? F_ERROR : F_NONE;
    }
    if (strncmp(m, "mock-slow-", 10) == 0) {
        *arg = parse_uint(m + 10, 3600000);
        return *arg >= 0 ? F_SLOW : F_NONE;
    }
    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (strcmp(m, plain[i].name) == 0)
            return plain[i].f;
    return F_NONE;
}

/* Parses the body; on failure replies 400 and returns -1. */
static int chat_init(struct chat *ch, struct conn *c, const struct req *r)
{
    memset(ch, 0, sizeof(*ch));
    ch->c = c;
    ch->r = r;
    if (json_scan_req(r->body, r->body_len, &ch->j) < 0) {
        http_error(c, r, 400, "invalid_request_error", NULL,
                   "We could not parse the JSON body of your request. "
                   "(HINT: This likely means you aren't using your HTTP "
                   "library correctly.)");
        return -1;
    }
    if (!ch->j.has_model) {
        http_error(c, r, 400, "invalid_request_error", NULL,
                   "you must provide a model parameter");
        return -1;
    }
    ch->fault = parse_fault(ch->j.model_dec, &ch->arg);
    ch->prompt = r->body_len / 4 ? r->body_len / 4 : 1;
    ch->chunks = mock_opts.chunks;
    ch->delay_ms = mock_opts.chunk_delay_ms;
    ch->eol = ch->fault == F_CRLF ? "\r\n" : "\n";
    return 0;
}

/* Handles the faults shared with embeddings; 1 if the reply is done. */
static int common_fault(struct chat *ch)
{
    char msg[64], code[16];

    switch (ch->fault) {
    case F_ERROR:
        snprintf(msg, sizeof(msg), "mock upstream error %d", ch->arg);
        snprintf(code, sizeof(code), "mock_%d", ch->arg);
        http_error(ch->c, ch->r, ch->arg, ch->arg < 500 ?
                   "invalid_request_error" : "server_error", code, msg);
        return 1;
    case F_SLOW:
        if (mock_nap(ch->arg) == 0)
            return 0;
        ch->c->dead = 1;
        return 1;
    case F_HANG:
        mock_nap_conn(ch->c->fd, HANG_MS);
        ch->c->close = 1;
        return 1;
    case F_RESET: {     /* the connection is reset before any reply */
        struct linger l = { 1, 0 };

        setsockopt(ch->c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        ch->c->dead = 1;
        return 1;
    }
    case F_429_DATE: {  /* 429 with Retry-After as an HTTP-date, 2 s on */
        char hdr[80];
        time_t t = time(NULL) + 2;
        struct buf *b = &ch->c->aux;

        strftime(hdr, sizeof(hdr), "Retry-After: %a, %d %b %Y %H:%M:%S "
                 "GMT\r\n", gmtime(&t));
        b->len = 0;
        buf_puts(b, "{\"error\":{\"message\":\"mock rate limit\","
                    "\"type\":\"requests\",\"param\":null,"
                    "\"code\":\"rate_limit_exceeded\"}}");
        http_reply(ch->c, ch->r, 429, "application/json", hdr, b);
        return 1;
    }
    default:
        return 0;
    }
}

static void put_model(struct buf *b, const struct chat *ch)
{
    buf_putc(b, '"');
    buf_put(b, ch->j.model, ch->j.model_len);
    buf_putc(b, '"');
}

/* Appends word i of the reply: "mock<i>", 1 MiB long for mock-bigline. */
static void put_word(struct buf *b, const struct chat *ch, int i)
{
    size_t start = b->len;
    int big = ch->chunks > 1 ? 1 : 0;

    buf_puts(b, "mock");
    buf_put_u64(b, (unsigned)i);
    if (ch->fault == F_BIGLINE && i == big)
        buf_fill(b, 'x', BIG_WORD - (b->len - start));
}

static void put_usage(struct buf *b, const struct chat *ch)
{
    buf_puts(b, "\"usage\":{\"prompt_tokens\":");
    buf_put_u64(b, ch->prompt);
    buf_puts(b, ",\"completion_tokens\":");
    buf_put_u64(b, (unsigned)ch->chunks);
    buf_puts(b, ",\"total_tokens\":");
    buf_put_u64(b, ch->prompt + (unsigned)ch->chunks);
    buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":0,"
                "\"audio_tokens\":0},\"completion_tokens_details\":"
                "{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                "\"accepted_prediction_tokens\":0,"
                "\"rejected_prediction_tokens\":0}}");
}

/* {"id":..,"object":<object>,"created":..,"model":..,"system_fingerprint" */
static void put_envelope(struct buf *b, const struct chat *ch,
                         const char *object)
{
    buf_puts(b, "{\"id\":\"chatcmpl-mock");
    buf_put_u64(b, ch->id);
    buf_puts(b, "\",\"object\":\"");
    buf_puts(b, object);
    buf_puts(b, "\",\"created\":");
    buf_put_u64(b, (unsigned long long)ch->created);
    buf_puts(b, ",\"model\":");
    put_model(b, ch);
    buf_puts(b, ",\"system_fingerprint\":\"fp_mock\"");
}

static void plain_body(struct buf *b, const struct chat *ch)
{
    int i;

    put_envelope(b, ch, "chat.completion");
    buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                "\"assistant\",\"content\":\"");
    for (i = 0; i < ch->chunks; i++) {
        if (i)
            buf_putc(b, ' ');
        put_word(b, ch, i);
    }
    buf_puts(b, "\",\"refusal\":null},\"logprobs\":null,"
                "\"finish_reason\":\"stop\"}]");
    if (ch->fault != F_NOUSAGE) {
        buf_putc(b, ',');
        put_usage(b, ch);
    }
    buf_putc(b, '}');
}

/* mock-truncate: promise 1000 bytes, send 20, hang up. */
static void send_truncated(struct chat *ch, const struct buf *b)
{
    struct conn *c = ch->c;
    size_t n = b->len < 20 ? b->len : 20;

    c->out.len = 0;
    buf_puts(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                      "\r\nContent-Length: 1000\r\n\r\n");
    buf_put(&c->out, b->p, n);
    if (!c->out.oom)
        conn_write(c, c->out.p, c->out.len);
    c->out.len = 0;
    c->close = 1;
}

static void chat_plain(struct chat *ch)
{
    struct buf *b = &ch->c->body;

    b->len = 0;
    plain_body(b, ch);
    if (ch->fault == F_TRUNCATE)
        send_truncated(ch, b);
    else
        http_reply(ch->c, ch->r, 200, "application/json", NULL, b);
}

enum ev { EV_ROLE, EV_CONTENT, EV_FINISH, EV_USAGE };

static void put_choices(struct buf *b, const struct chat *ch, enum ev ev,
                        int i)
{
    if (ev == EV_USAGE) {
        buf_puts(b, ",\"choices\":[],");
        put_usage(b, ch);
        return;
    }
    buf_puts(b, ",\"choices\":[{\"index\":0,\"delta\":{");
    if (ev == EV_ROLE) {
        buf_puts(b, "\"role\":\"assistant\",\"content\":\"\","
                    "\"refusal\":null");
    } else if (ev == EV_CONTENT) {
        buf_puts(b, "\"content\":\"");
        put_word(b, ch, i);
        buf_puts(b, i + 1 < ch->chunks ? " \"" : "\"");
    }
    buf_puts(b, ev == EV_FINISH ? "},\"logprobs\":null,\"finish_reason\":"
                                  "\"stop\"}]"
                                : "},\"logprobs\":null,\"finish_reason\":"
                                  "null}]");
    if (ch->usage_null)
        buf_puts(b, ",\"usage\":null");
}

/* Sends one "data: {...}" event; -1 once the connection is gone. */
static int send_event(struct chat *ch, enum ev ev, int i)
{
    struct buf *b = &ch->c->body;

    b->len = 0;
    if (ch->fault == F_CRLF && ev == EV_FINISH)
        buf_puts(b, ": keep-alive\r\n");
    buf_puts(b, "data: ");
    put_envelope(b, ch, "chat.completion.chunk");
    put_choices(b, ch, ev, i);
    buf_putc(b, '}');
    buf_puts(b, ch->eol);
    buf_puts(b, ch->eol);
    if (b->oom)
        ch->c->dead = 1;
    else
        http_stream_send(ch->c, b->p, b->len);
    return ch->c->dead ? -1 : 0;
}

static void send_done(struct chat *ch)
{
    struct buf *b = &ch->c->body;

    b->len = 0;
    buf_puts(b, "data: [DONE]");
    buf_puts(b, ch->eol);
    buf_puts(b, ch->eol);
    http_stream_send(ch->c, b->p, b->len);
    http_stream_end(ch->c);
}

static int send_contents(struct chat *ch)
{
    int i;

    for (i = 0; i < ch->chunks; i++) {
        if (i && ch->delay_ms > 0 && mock_nap(ch->delay_ms) < 0) {
            ch->c->dead = 1;
            return -1;
        }
        if (send_event(ch, EV_CONTENT, i) < 0)
            return -1;
        if (ch->fault == F_TRUNCATE && i == 1)
            break;
    }
    if (ch->fault != F_TRUNCATE)
        return 0;
    ch->c->close = 1;
    return -1;
}

static void chat_stream(struct chat *ch)
{
    ch->usage_chunk = ch->j.include_usage && ch->fault != F_NOUSAGE;
    ch->usage_null = ch->usage_chunk;
    http_stream_begin(ch->c, ch->r);
    if (ch->fault == F_CRLF)
        http_stream_send(ch->c, ": keep-alive\r\n\r\n", 16);
    if (send_event(ch, EV_ROLE, 0) < 0 || send_contents(ch) < 0 ||
        send_event(ch, EV_FINISH, 0) < 0)
        return;
    if (ch->usage_chunk && send_event(ch, EV_USAGE, 0) < 0)
        return;
    send_done(ch);
}

void chat_handle(struct conn *c, struct req *r)
{
    struct chat ch;

    if (chat_init(&ch, c, r) < 0 || common_fault(&ch))
        return;
    if (ch.fault == F_DRIP) {
        ch.chunks = 10;
        ch.delay_ms = 200;
    }
    ch.id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    ch.created = (long long)time(NULL);
    if (ch.fault != F_TRUNCATE)
        stats_add(0, ch.prompt, (unsigned)ch.chunks);
    if (ch.j.stream)
        chat_stream(&ch);
    else
        chat_plain(&ch);
}

void embed_handle(struct conn *c, struct req *r)
{
    struct chat ch;
    struct buf *b = &c->body;

    if (chat_init(&ch, c, r) < 0 || common_fault(&ch))
        return;
    stats_add(0, ch.prompt, 0);
    b->len = 0;
    buf_puts(b, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
                "\"index\":0,\"embedding\":[0.1,0.2,0.3]}],\"model\":");
    put_model(b, &ch);
    buf_puts(b, ",\"usage\":{\"prompt_tokens\":");
    buf_put_u64(b, ch.prompt);
    buf_puts(b, ",\"total_tokens\":");
    buf_put_u64(b, ch.prompt);
    buf_puts(b, "}}");
    http_reply(c, r, 200, "application/json", NULL, b);
}
