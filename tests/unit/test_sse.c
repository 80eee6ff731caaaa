#include "../../fcgi/sse.c"
#include "t.h"

struct got {
    int n;
    char ev[8][64];
    char data[8][256];
};

static int collect(void *ctx, const char *event, const char *data,
                   size_t len)
{
    struct got *g = ctx;

    if (g->n < 8) {
        snprintf(g->ev[g->n], sizeof(g->ev[0]), "%s", event);
        snprintf(g->data[g->n], sizeof(g->data[0]), "%.*s", (int)len, data);
    }
    g->n++;
    return 0;
}

static void feed_bytewise(struct sse_parser *p, const char *s, struct got *g)
{
    for (size_t i = 0; s[i]; i++)
        sse_feed(p, s + i, 1, collect, g);
}

int main(void)
{
    struct sse_parser p;
    struct got g;
    const char *s;
    char big[5000];

    sse_init(&p, 1 << 20);
    memset(&g, 0, sizeof(g));
    s = "data: {\"a\":1}\n\ndata: [DONE]\n\n";
    sse_feed(&p, s, strlen(s), collect, &g);
    T_EQ_INT(g.n, 2, "two LF events");
    T_EQ_STR(g.data[0], "{\"a\":1}", "first data");
    T_EQ_STR(g.data[1], "[DONE]", "done marker");

    sse_reset(&p);
    memset(&g, 0, sizeof(g));
    s = ": keep-alive\r\nevent: message_start\r\ndata: x\r\ndata: y\r\n\r\n"
        "data:z\r\r";
    feed_bytewise(&p, s, &g);
    T_EQ_INT(g.n, 2, "CRLF and CR events fed one byte at a time");
    T_EQ_STR(g.ev[0], "message_start", "event type kept");
    T_EQ_STR(g.data[0], "x\ny", "multi-line data joined with LF");
    T_EQ_STR(g.data[1], "z", "no space after colon");
    T_EQ_STR(g.ev[1], "", "event type reset between events");

    sse_reset(&p);
    memset(&g, 0, sizeof(g));
    s = "id: 1\nretry: 10\n\ndata: only\n";
    sse_feed(&p, s, strlen(s), collect, &g);
    T_EQ_INT(g.n, 0, "event without data not dispatched; open event held");
    sse_feed(&p, "\n", 1, collect, &g);
    T_EQ_INT(g.n, 1, "completed by the blank line");

    sse_release(&p);
    sse_init(&p, 1024);
    memset(&g, 0, sizeof(g));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    T_OK(sse_feed(&p, "data: ", 6, collect, &g) == 0, "prefix accepted");
    T_EQ_INT(sse_feed(&p, big, strlen(big), collect, &g), GW_ETOOBIG,
             "a line over the cap is refused, memory bounded");
    sse_release(&p);
    return t_done();
}
