#include "circuit.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 512

struct slot {
    _Atomic uint64_t key;          /* FNV-1a of the backend name; 0 free */
    atomic_int fails;              /* consecutive */
    _Atomic int64_t open_until;    /* CLOCK_MONOTONIC ms; 0 closed */
    _Atomic int64_t hold_until;    /* Retry-After */
    _Atomic int64_t probe_at;      /* half-open probe taken at */
};

struct table {
    struct slot s[SLOTS];
};

static struct table local;
static struct table *tab = &local;

int circuit_init(const char *name)
{
    int fd;
    void *p;

    if (name == NULL)
        return 0;
    fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    if (fd < 0)
        return 0;
    if (ftruncate(fd, sizeof(struct table)) < 0) {   /* zero-filled */
        close(fd);
        return 0;
    }
    p = mmap(NULL, sizeof(struct table), PROT_READ | PROT_WRITE, MAP_SHARED,
             fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 0;
    tab = p;
    return 1;
}

static int64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h ? h : 1;
}

/* The backend's slot; create: claim one when absent. NULL: none. */
static struct slot *find(const char *be, int create)
{
    uint64_t h = fnv(be);

    for (unsigned i = 0; i < SLOTS; i++) {
        struct slot *s = &tab->s[(h + i) % SLOTS];
        uint64_t k = atomic_load(&s->key), zero = 0;

        if (k == h)
            return s;
        if (k == 0) {
            if (!create)
                return NULL;
            if (atomic_compare_exchange_strong(&s->key, &zero, h) ||
                zero == h)
                return s;
        }
    }
    return NULL;
}

enum circuit_state circuit_peek(const char *be)
{
    struct slot *s = find(be, 0);
    int64_t now = now_ms(), ou;

    if (s == NULL)
        return CB_CLOSED;
    if (atomic_load(&s->hold_until) > now)
        return CB_HELD;
    ou = atomic_load(&s->open_until);
    if (ou == 0)
        return CB_CLOSED;
    return ou > now ? CB_OPEN : CB_HALF_OPEN;
}

int circuit_allow(const char *be)
{
    struct slot *s;
    int64_t now, ou, pa;

    switch (circuit_peek(be)) {
    case CB_CLOSED:
        return 1;
    case CB_OPEN:
    case CB_HELD:
        return 0;
    case CB_HALF_OPEN:
        break;
    }
    s = find(be, 0);
    now = now_ms();
    ou = atomic_load(&s->open_until);
    pa = atomic_load(&s->probe_at);
    /* one probe at a time; a probe that never reported expires */
    (void)ou;
    if (pa != 0 && now - pa < 30000)
        return 0;
    return atomic_compare_exchange_strong(&s->probe_at, &pa, now);
}

void circuit_result(const char *be, int ok, int failures, long open_ms)
{
    struct slot *s;

    if (failures <= 0)
        return;
    s = find(be, !ok);
    if (s == NULL)
        return;
    if (ok) {
        if (atomic_load(&s->fails) != 0)
            atomic_store(&s->fails, 0);
        if (atomic_load(&s->open_until) != 0) {
            atomic_store(&s->open_until, 0);
            atomic_store(&s->probe_at, 0);
        }
        return;
    }
    if (atomic_fetch_add(&s->fails, 1) + 1 >= failures ||
        atomic_load(&s->open_until) != 0) {    /* a failed probe */
        atomic_store(&s->open_until, now_ms() + open_ms);
        atomic_store(&s->probe_at, 0);
    }
}

void circuit_hold(const char *be, long ms)
{
    struct slot *s = find(be, 1);

    if (s != NULL && ms > 0)
        atomic_store(&s->hold_until, now_ms() + ms);
}

/* --- per-process concurrency ------------------------------------------ */

struct conc {
    _Atomic uint64_t key;
    atomic_int inflight;
};

static struct conc conc[SLOTS];

static struct conc *conc_find(const char *be)
{
    uint64_t h = fnv(be);

    for (unsigned i = 0; i < SLOTS; i++) {
        struct conc *c = &conc[(h + i) % SLOTS];
        uint64_t k = atomic_load(&c->key), zero = 0;

        if (k == h || (k == 0 &&
                       (atomic_compare_exchange_strong(&c->key, &zero, h) ||
                        zero == h)))
            return c;
    }
    return NULL;
}

int circuit_enter(const char *be, int cap)
{
    struct conc *c;

    if (cap <= 0 || (c = conc_find(be)) == NULL)
        return 1;
    if (atomic_fetch_add(&c->inflight, 1) >= cap) {
        atomic_fetch_sub(&c->inflight, 1);
        return 0;
    }
    return 1;
}

void circuit_leave(const char *be, int cap)
{
    struct conc *c;

    if (cap > 0 && (c = conc_find(be)) != NULL)
        atomic_fetch_sub(&c->inflight, 1);
}
