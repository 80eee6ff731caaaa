#include "circuit.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shmfile.h"

#define SLOTS 512
#define WBUCKETS 10                /* the error-rate window's slices */

/* One slice of the sliding window: the calls that ended in it. */
struct wbucket {
    /* one word, so that a slice's counts and its epoch change together
     * (a reader never sees a new epoch with the last lap's counts):
     * epoch (now / slice width, low 32 bits; 0 unused) << 32 | ok << 16 |
     * fail, the counts saturating at 65535 */
    _Atomic uint64_t v;
};

struct slot {
    _Atomic uint64_t key;          /* FNV-1a of the backend name; 0 free */
    atomic_int fails;              /* consecutive */
    _Atomic int64_t open_until;    /* CLOCK_MONOTONIC ms; 0 closed */
    _Atomic int64_t hold_until;    /* Retry-After */
    _Atomic int64_t probe_at;      /* half-open probe taken at */
    atomic_int ejections;          /* in a row: the backoff's exponent */
    _Atomic int64_t closed_at;     /* when a probe last closed it */
    struct wbucket w[WBUCKETS];
};

/* The times in the slots are CLOCK_MONOTONIC, which starts over at boot,
 * while the file outlives a reboot: boot_id says which boot wrote them. */
struct table {
    char boot_id[40];
    struct slot s[SLOTS];
};

static struct table local;
static struct table *tab = &local;

/* This boot's id; "" when the kernel does not say. */
static void read_boot_id(char id[40])
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

    memset(id, 0, 40);
    if (f == NULL)
        return;
    if (fgets(id, 40, f) == NULL)
        id[0] = '\0';
    fclose(f);
}

static int same_boot(const void *p, void *boot)
{
    const struct table *t = p;

    return ((char *)boot)[0] != '\0' &&
           memcmp(t->boot_id, boot, sizeof(t->boot_id)) == 0;
}

static void set_boot(void *p, void *boot)
{
    memcpy(((struct table *)p)->boot_id, boot, 40);
}

int circuit_init(const char *path)
{
    char boot[40];
    void *p;

    if (path == NULL)
        return 0;
    read_boot_id(boot);
    /* times of another boot are cleared */
    p = shmfile_map(path, sizeof(struct table), same_boot, set_boot, boot);
    if (p == NULL)
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

/* Counts one outcome in the window's current slice; a slice from an
 * earlier lap is reset first (a count racing the reset may be lost: the
 * rate is an estimate). */
static void window_add(struct slot *s, long window_ms, int ok, int64_t now)
{
    int64_t width = window_ms / WBUCKETS > 0 ? window_ms / WBUCKETS : 1;
    int64_t ep = now / width + 1;
    struct wbucket *b = &s->w[ep % WBUCKETS];
    uint32_t e = (uint32_t)ep;
    uint64_t old = atomic_load(&b->v), nv;

    do {
        unsigned n_ok = (unsigned)(old >> 16) & 0xffff;
        unsigned n_fail = (unsigned)old & 0xffff;

        if ((uint32_t)(old >> 32) != e)
            n_ok = n_fail = 0;             /* the slice's previous lap */
        if (ok && n_ok < 0xffff)
            n_ok++;
        else if (!ok && n_fail < 0xffff)
            n_fail++;
        nv = (uint64_t)e << 32 | (uint64_t)n_ok << 16 | n_fail;
    } while (!atomic_compare_exchange_weak(&b->v, &old, nv));
}

/* The window's totals. */
static void window_sum(struct slot *s, long window_ms, int64_t now,
                       int *fails, int *total)
{
    int64_t width = window_ms / WBUCKETS > 0 ? window_ms / WBUCKETS : 1;
    uint32_t ep = (uint32_t)(now / width + 1);

    *fails = *total = 0;
    for (int i = 0; i < WBUCKETS; i++) {
        uint64_t v = atomic_load(&s->w[i].v);
        uint32_t e = (uint32_t)(v >> 32);

        if (e != 0 && (uint32_t)(ep - e) < WBUCKETS) {
            int f = (int)(v & 0xffff);

            *fails += f;
            *total += f + (int)((v >> 16) & 0xffff);
        }
    }
}

static void window_clear(struct slot *s)
{
    for (int i = 0; i < WBUCKETS; i++)
        atomic_store(&s->w[i].v, 0);
}

/* Opens the circuit: open_ms doubled per ejection in a row, capped; the
 * row starts over once the backend has stayed closed for max_open_ms.
 * fresh: it was closed (not a failed probe). */
static long eject(struct slot *s, const struct circuit_policy *p,
                  int64_t now, int fresh, struct circuit_ejection *out)
{
    int64_t closed = atomic_load(&s->closed_at);
    long ms = p->open_ms;
    int n;

    if (fresh && closed != 0 && now - closed > p->max_open_ms)
        atomic_store(&s->ejections, 0);
    n = atomic_fetch_add(&s->ejections, 1) + 1;
    for (int i = 1; i < n && ms < p->max_open_ms; i++)
        ms *= 2;
    if (ms > p->max_open_ms)
        ms = p->max_open_ms > p->open_ms ? p->max_open_ms : p->open_ms;
    atomic_store(&s->probe_at, 0);
    atomic_store(&s->fails, 0);
    window_clear(s);           /* the probe starts a fresh window */
    atomic_store(&s->open_until, now + ms);
    out->ms = ms;
    out->count = n;
    return ms;
}

/* Claims the closed -> open transition: one of racing failures ejects. */
static int claim_open(struct slot *s)
{
    int64_t zero = 0;

    return atomic_compare_exchange_strong(&s->open_until, &zero,
                                          INT64_MAX);
}

static long result_at(struct slot *s, int ok, const struct circuit_policy *p,
                      int64_t now, struct circuit_ejection *out)
{
    int64_t ou = atomic_load(&s->open_until);
    int fails, total;

    if (ok) {
        if (atomic_load(&s->fails) != 0)
            atomic_store(&s->fails, 0);
        if (ou != 0 && ou <= now) {        /* the probe succeeded */
            atomic_store(&s->open_until, 0);
            atomic_store(&s->probe_at, 0);
            atomic_store(&s->closed_at, now);
        } else if (p->error_rate_pct > 0 && ou == 0) {
            window_add(s, p->window_ms, 1, now);
        }
        return 0;
    }
    if (ou != 0) {     /* a failed probe ejects again; calls that were in
                          flight when it was ejected do not count */
        if (ou > now || atomic_load(&s->probe_at) == 0)
            return 0;
        out->fails = out->total = 1;
        return eject(s, p, now, 0, out);
    }
    fails = atomic_fetch_add(&s->fails, 1) + 1;
    if (p->failures > 0 && fails >= p->failures) {
        if (!claim_open(s))
            return 0;
        out->fails = out->total = fails;
        return eject(s, p, now, 1, out);
    }
    if (p->error_rate_pct <= 0)
        return 0;
    window_add(s, p->window_ms, 0, now);
    window_sum(s, p->window_ms, now, &fails, &total);
    if (total < p->min_requests ||
        (long)fails * 100 < (long)p->error_rate_pct * total ||
        !claim_open(s))
        return 0;
    out->by_rate = 1;
    out->fails = fails;
    out->total = total;
    return eject(s, p, now, 1, out);
}

long circuit_result(const char *be, int ok, const struct circuit_policy *p,
                    struct circuit_ejection *out)
{
    struct circuit_ejection dummy;
    struct slot *s;

    if (out == NULL)
        out = &dummy;
    memset(out, 0, sizeof(*out));
    if (p == NULL || (p->failures <= 0 && p->error_rate_pct <= 0))
        return 0;
    s = find(be, !ok || p->error_rate_pct > 0);
    if (s == NULL)
        return 0;
    return result_at(s, ok, p, now_ms(), out);
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
