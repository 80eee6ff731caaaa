/* The usage ledger: request threads hand over one usage event each; a
 * writer thread inserts them into PostgreSQL in batches (batch_rows or
 * flush_ms, whichever comes first). While the database is unreachable the
 * events go to the spool and are replayed, idempotently by request_id,
 * once it is back. Submitting never waits for the database. */
#ifndef AIGW_LEDGER_H
#define AIGW_LEDGER_H

struct config;

#include <stddef.h>

/* the longest ledger line (one usage event's JSON) */
#define LEDGER_LINE_MAX ((size_t)1 << 20)

int ledger_start(const struct config *cfg);
/* Queues one usage event formatted by usage_event_lines() (or
 * usage_event_json()); json is copied. Never waits for the database. */
void ledger_submit_json(const char *json, size_t len);
/* Flushes what is queued (to PostgreSQL, else to the spool), then stops. */
void ledger_stop(void);
/* 1 while events are waiting in the spool for the database. */
int ledger_degraded(void);
/* 1 while neither PostgreSQL nor the spool can store usage: inference
 * requests are refused (fail closed) until one of them recovers. */
int ledger_failing(void);

#endif
