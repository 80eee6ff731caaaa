#include "worker.h"

#include <curl/curl.h>
#include <string.h>

#include "config.h"
#include "ledger.h"
#include "upstream.h"

#define SSE_MAX_EVENT (8 << 20)

int worker_init(struct worker *w, int idx, const struct config *cfg)
{
    memset(w, 0, sizeof(*w));
    w->idx = idx;
    w->cfg = cfg;
    w->curl = curl_easy_init();
    if (w->curl == NULL || uuid7_init(&w->ids) < 0)
        return -1;
    upstream_setup(w->curl);
    db_session_init(&w->db, cfg, "aigw-fcgi");
    buf_init(&w->body, cfg->max_body_bytes);
    buf_init(&w->url, 16384);
    buf_init(&w->upbody, cfg->max_body_bytes * 2 + 65536);
    buf_init(&w->resp, (size_t)1 << 30);  /* per backend cap applies */
    buf_init(&w->out, (size_t)1 << 30);
    buf_init(&w->scratch, (size_t)1 << 30);
    buf_init(&w->ledger_line, LEDGER_LINE_MAX);
    buf_init(&w->log_line, (size_t)1 << 16);
    sse_init(&w->sse, SSE_MAX_EVENT);
    return 0;
}

void worker_release(struct worker *w)
{
    if (w == NULL)
        return;
    curl_easy_cleanup(w->curl);
    db_session_release(&w->db);
    buf_release(&w->body);
    buf_release(&w->url);
    buf_release(&w->upbody);
    buf_release(&w->resp);
    buf_release(&w->out);
    buf_release(&w->scratch);
    buf_release(&w->ledger_line);
    buf_release(&w->log_line);
    sse_release(&w->sse);
}
