/* Host-wide rate-limit counters in shared memory: a file (e.g.
 * <spool_dir>/ratelimit.shm) mapped MAP_SHARED by every worker process on
 * the host, so a per-minute limit holds across processes and threads.
 * Fixed windows: each slot packs (window index, count) in one 64-bit word
 * updated by compare-and-swap, so a take is exact and lock-free. Kept
 * apart from any other shared segment (metrics has its own). */
#ifndef AIGW_RATELIMIT_H
#define AIGW_RATELIMIT_H

#include <stdint.h>

/* Maps (creating or growing) the file. 0, or -1 (logged). */
int rl_open(const char *path);
void rl_close(void);
int rl_ready(void);

/* Takes n units from counter key in the window of window_s seconds that
 * holds now_s, if count + n <= limit. Returns 1 taken, 0 refused, -1 when
 * no counter is available (table full: allowed, logged once). *used gets
 * the count after the take (or the current count when refused) and
 * *win the window index it was counted in. */
int rl_take(uint64_t key, int64_t now_s, int64_t window_s, int64_t limit,
            int64_t n, int64_t *used, uint32_t *win);
/* Adds delta (may be negative; clamped at 0) to the counter if it is still
 * in window win (usage settled after the fact). */
void rl_adjust(uint64_t key, uint32_t win, int64_t delta);
/* The current count of key in its window holding now_s (0 if none). */
int64_t rl_peek(uint64_t key, int64_t now_s, int64_t window_s);

/* 64-bit FNV-1a, chained: h = rl_hash(h, s). Start with RL_HASH_INIT. */
#define RL_HASH_INIT 0xcbf29ce484222325ULL
uint64_t rl_hash(uint64_t h, const char *s);

#endif
