/* The usage record: one per request, settled once, then fed to the
 * ledger and the access log. */
#ifndef AIGW_USAGE_H
#define AIGW_USAGE_H

#include <stddef.h>
#include <stdint.h>

struct buf;

struct usage_event {
    const char *request_id;   /* borrowed pointers, valid until settled */
    int64_t ts_unix_us;
    char api_key_id[37];
    char user_id[129];
    char group_id[129];
    const char *route;
    const char *provider;
    const char *backend;
    char requested_model[129];
    char served_model[129];
    int http_status;
    int upstream_status;
    int64_t prompt_tokens, completion_tokens, total_tokens, cached_tokens;
    int has_usage;            /* usage came from the provider */
    long latency_ms;
    long ttft_ms;             /* -1 when not streamed */
    int stream;
    int partial;              /* ended before the provider finished */
    const char *error_type;   /* NULL on success */
    /* guardrails (metrics hook): enum guard_outcome (0 none, 1 masked,
     * 2 blocked) and what acted, "<set>:<request|response>:<check>" */
    int guard_outcome;
    char guardrail[96];
    /* observability (metrics.c, trace.c): not in the ledger's JSON */
    const char *operation;    /* "chat", "embeddings"; NULL: none */
    int64_t cost_pusd;        /* pico-USD at current prices; -1 unknown */
    char trace_id[33];        /* W3C trace context, lowercase hex */
    char span_id[17];         /* the gateway's span */
    char parent_span_id[17];  /* the caller's, "" when none */
    unsigned char trace_flags;
    int attempts;             /* upstream calls made (failover: > 1) */
    /* degraded before the wall (quota.c): what was done and why, e.g.
     * "limit=pro-tokens model=gpt-4o-mini"; "" when not (in the ledger) */
    char degraded[192];
};

void usage_event_init(struct usage_event *ev);
/* Appends the ledger's JSON form (one object, no newline): the spool line
 * format and the element format of aigw_ingest_usage(). */
void usage_event_json(const struct usage_event *ev, struct buf *out);
/* Appends the access-log line (one JSON object, no newline). */
void usage_event_log_json(const struct usage_event *ev, const char *method,
                          const char *path, struct buf *out);
/* Both of the above from one formatting pass: appends the ledger line to
 * ledger (when not NULL) and the access-log line to log. */
void usage_event_lines(const struct usage_event *ev, const char *method,
                       const char *path, struct buf *ledger,
                       struct buf *log);
/* Copies s into a fixed field, truncating safely. */
void usage_set(char *dst, size_t dstsz, const char *s);

#endif
