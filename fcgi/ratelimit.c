#include "ratelimit.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "shmfile.h"

#define RL_SLOTS 65536u           /* a power of two */
#define RL_PROBES 64u
#define RL_MAGIC 0x61696777726c3031ULL   /* "aigwrl01" */

struct rl_slot {
    _Atomic uint64_t key;         /* 0: free */
    _Atomic uint64_t state;       /* window index << 32 | count */
};

struct rl_shm {
    _Atomic uint64_t magic;
    uint64_t pad[7];
    struct rl_slot slot[RL_SLOTS];
};

static struct rl_shm *shm;
static atomic_int full_logged;

static int rl_current(const void *p, void *arg)
{
    (void)arg;
    return atomic_load(&((const struct rl_shm *)p)->magic) == RL_MAGIC;
}

static void rl_init(void *p, void *arg)
{
    (void)arg;                            /* zero-filled slots are valid */
    atomic_store(&((struct rl_shm *)p)->magic, RL_MAGIC);
}

int rl_open(const char *path)
{
    void *p = shmfile_map(path, sizeof(struct rl_shm), rl_current, rl_init,
                          NULL);

    if (p == NULL) {
        log_error(NULL, "ratelimit: cannot map %s: %s", path,
                  strerror(errno));
        return -1;
    }
    shm = p;
    return 0;
}

void rl_close(void)
{
    if (shm != NULL)
        munmap(shm, sizeof(*shm));
    shm = NULL;
}

int rl_ready(void)
{
    return shm != NULL;
}

uint64_t rl_hash(uint64_t h, const char *s)
{
    for (; s != NULL && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff;                       /* field separator */
    h *= 0x100000001b3ULL;
    return h;
}

static struct rl_slot *find(uint64_t key, int create)
{
    if (key == 0)
        key = 1;
    for (uint32_t i = 0; i < RL_PROBES; i++) {
        struct rl_slot *s = &shm->slot[(key + i) & (RL_SLOTS - 1)];
        uint64_t k = atomic_load(&s->key), zero = 0;

        if (k == key)
            return s;
        if (k == 0) {
            if (!create)
                return NULL;
            if (atomic_compare_exchange_strong(&s->key, &zero, key) ||
                zero == key)
                return s;
        }
    }
    return NULL;
}

int rl_take(uint64_t key, int64_t now_s, int64_t window_s, int64_t limit,
            int64_t n, int64_t *used, uint32_t *win)
{
    uint32_t w = (uint32_t)(now_s / (window_s > 0 ? window_s : 1));
    struct rl_slot *s = shm ? find(key, 1) : NULL;
    uint64_t v, nv;
    int64_t cnt;

    *used = 0;
    *win = w;
    if (s == NULL) {
        if (shm != NULL && !atomic_exchange(&full_logged, 1))
            log_warn(NULL, "ratelimit: counter table full; allowing");
        return -1;
    }
    if (n < 0)
        n = 0;
    v = atomic_load(&s->state);
    do {
        cnt = (uint32_t)(v >> 32) == w ? (int64_t)(v & 0xffffffffu) : 0;
        if (cnt + n > limit || cnt + n > 0xffffffffLL) {
            *used = cnt;
            return 0;
        }
        nv = (uint64_t)w << 32 | (uint64_t)(cnt + n);
    } while (!atomic_compare_exchange_weak(&s->state, &v, nv));
    *used = cnt + n;
    return 1;
}

void rl_adjust(uint64_t key, uint32_t win, int64_t delta)
{
    struct rl_slot *s = shm && delta != 0 ? find(key, 0) : NULL;
    uint64_t v, nv;
    int64_t cnt;

    if (s == NULL)
        return;
    v = atomic_load(&s->state);
    do {
        if ((uint32_t)(v >> 32) != win)
            return;                   /* the window has moved on */
        cnt = (int64_t)(v & 0xffffffffu) + delta;
        if (cnt < 0)
            cnt = 0;
        if (cnt > 0xffffffffLL)
            cnt = 0xffffffffLL;
        nv = (uint64_t)win << 32 | (uint64_t)cnt;
    } while (!atomic_compare_exchange_weak(&s->state, &v, nv));
}

int64_t rl_peek(uint64_t key, int64_t now_s, int64_t window_s)
{
    uint32_t w = (uint32_t)(now_s / (window_s > 0 ? window_s : 1));
    struct rl_slot *s = shm ? find(key, 0) : NULL;
    uint64_t v;

    if (s == NULL)
        return 0;
    v = atomic_load(&s->state);
    return (uint32_t)(v >> 32) == w ? (int64_t)(v & 0xffffffffu) : 0;
}
