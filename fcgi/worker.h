/* Per-thread state: each serving thread owns its curl handle (keep-alive
 * to upstreams), its database session and its scratch buffers, so the
 * request path shares nothing but the caches. */
#ifndef AIGW_WORKER_H
#define AIGW_WORKER_H

#include "buf.h"
#include "db.h"
#include "sse.h"
#include "uuid7.h"

typedef void CURL;

struct worker {
    int idx;
    const struct config *cfg;
    CURL *curl;
    struct db_session db;
    struct uuid7_gen ids;
    struct buf body;        /* the client's request body */
    struct buf url;         /* upstream URL */
    struct buf upbody;      /* upstream request body */
    struct buf resp;        /* upstream response (not streamed) */
    struct buf out;         /* response scratch */
    struct buf scratch;     /* providers' scratch */
    struct buf ledger_line; /* the request's usage event, for the ledger */
    struct buf log_line;    /* and for the access log */
    struct sse_parser sse;
};

int worker_init(struct worker *w, int idx, const struct config *cfg);
void worker_release(struct worker *w);

#endif
