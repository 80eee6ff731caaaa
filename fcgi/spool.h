/* The append-only spool: usage lines (JSON, one per line) that could not be
 * written to PostgreSQL yet. Each process appends to its own file, holding
 * an flock on it; a file whose lock is free belongs to a process that is
 * gone and may be replayed by anyone. */
#ifndef AIGW_SPOOL_H
#define AIGW_SPOOL_H

#include <stddef.h>

/* Replays a batch of lines; returns 0 when all are durably stored. */
typedef int (*spool_sink_fn)(void *ctx, char **lines, size_t n);

int spool_open(const char *dir);     /* 0, or -1 (logged) */
void spool_close(void);
/* Appends lines and fsyncs. Returns 0, or -1 when usage could not be
 * stored anywhere (an alarm is logged). Thread-safe. */
int spool_append(char **lines, size_t n);
/* Whether any spool file holds lines (cheap: stat). */
int spool_pending(void);
/* Replays every spool file we can lock through sink in batches of `batch`
 * lines; a replayed file is emptied (ours) or removed (a dead process's).
 * Malformed lines go to rejected.jsonl. Returns lines replayed, or -1 when
 * the sink failed (what was not replayed stays spooled). */
long spool_replay(spool_sink_fn sink, void *ctx, size_t batch);

#endif
