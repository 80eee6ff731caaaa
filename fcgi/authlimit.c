#include "authlimit.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define SLOTS 4096          /* a power of two; collisions share a count */

static struct slot {
    uint64_t key;
    long long start_ms;
    long count;
} slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;     /* FNV-1a */

    for (; s != NULL && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h | 1;
}

int authlimit_blocked(const char *addr, long max, long window_ms)
{
    uint64_t k = hash(addr);
    struct slot *s = &slots[k & (SLOTS - 1)];
    int blocked;

    if (max <= 0)
        return 0;
    pthread_mutex_lock(&lock);
    blocked = s->key == k && mono_ms() - s->start_ms < window_ms &&
              s->count >= max;
    pthread_mutex_unlock(&lock);
    return blocked;
}

void authlimit_fail(const char *addr, long window_ms)
{
    uint64_t k = hash(addr);
    struct slot *s = &slots[k & (SLOTS - 1)];
    long long now = mono_ms();

    pthread_mutex_lock(&lock);
    if (s->key != k || now - s->start_ms >= window_ms) {
        s->key = k;
        s->start_ms = now;
        s->count = 0;
    }
    s->count++;
    pthread_mutex_unlock(&lock);
}
