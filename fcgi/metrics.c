#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "quota.h"
#include "usage.h"

#define MAGIC 0x6169677767776d31ull     /* "aigwgwm1" */
#define VERSION 2
#define NPROCS 256
#define NVAL 18                          /* 16 buckets, count, sum */
#define V_COUNT 16
#define V_SUM 17
#define LABELS_MAX 616
#define VALUE_MAX 100                    /* bytes of one label value */
#define MAX_PROBES 512

enum family {
    F_REQUESTS, F_TOKENS, F_TOKEN_USAGE, F_DURATION, F_TTFT, F_COST,
    F_UPSTREAM_ERRORS, F_ERRORS, F_GUARDRAILS, F_FAILOVERS, F_REJECTIONS,
    F_QUOTA, NFAM
};

/* K_QUOTA: a pair of gauges (v[Q_USED], v[Q_LIMIT]) per label set, set
 * (not added) at each settlement and rendered as three families. */
enum kind { K_COUNTER, K_HIST, K_QUOTA };
enum scale { S_INT, S_MS, S_PUSD };     /* how values are stored */
#define Q_USED 0
#define Q_LIMIT 1

struct family_def {
    const char *name;
    const char *help;
    enum kind kind;
    enum scale scale;
    int nb;
    const double *le;                    /* bucket bounds, in units */
};

static const double le_tokens[] = { 1, 4, 16, 64, 256, 1024, 4096, 16384,
                                    65536, 262144, 1048576, 4194304,
                                    16777216, 67108864 };
static const double le_duration[] = { 0.01, 0.02, 0.04, 0.08, 0.16, 0.32,
                                      0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                                      40.96, 81.92 };
static const double le_ttft[] = { 0.001, 0.005, 0.01, 0.02, 0.04, 0.06,
                                  0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                                  5.0, 7.5, 10.0 };

#define NB(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct family_def fams[NFAM] = {
    [F_REQUESTS] = { "aigw_requests_total",
        "Requests by route, provider, model and HTTP status.",
        K_COUNTER, S_INT, 0, NULL },
    [F_TOKENS] = { "tokens_consumed_total",
        "Tokens consumed by API key, user, group, model and type "
        "(input, output).", K_COUNTER, S_INT, 0, NULL },
    [F_TOKEN_USAGE] = { "gen_ai_client_token_usage",
        "Tokens used per request (OpenTelemetry GenAI).",
        K_HIST, S_INT, NB(le_tokens), le_tokens },
    [F_DURATION] = { "gen_ai_server_request_duration_seconds",
        "Request duration in seconds (OpenTelemetry GenAI).",
        K_HIST, S_MS, NB(le_duration), le_duration },
    [F_TTFT] = { "gen_ai_server_time_to_first_token_seconds",
        "Time to the first streamed token in seconds (OpenTelemetry "
        "GenAI).", K_HIST, S_MS, NB(le_ttft), le_ttft },
    [F_COST] = { "aigw_cost_usd_total",
        "Cost in USD at the prices in effect, by group and model.",
        K_COUNTER, S_PUSD, 0, NULL },
    [F_UPSTREAM_ERRORS] = { "aigw_upstream_errors_total",
        "Failed provider exchanges by provider, backend and error type.",
        K_COUNTER, S_INT, 0, NULL },
    [F_ERRORS] = { "aigw_request_errors_total",
        "Requests that ended in an error, by route, status and error "
        "type (rate-limit and guardrail rejections included).",
        K_COUNTER, S_INT, 0, NULL },
    [F_GUARDRAILS] = { "aigw_guardrail_actions_total",
        "Guardrail masks and blocks by route and the rule that acted "
        "(set:phase:check).", K_COUNTER, S_INT, 0, NULL },
    [F_FAILOVERS] = { "aigw_failovers_total",
        "Requests that needed more than one upstream attempt, by route "
        "and the backend that finally answered.", K_COUNTER, S_INT, 0,
        NULL },
    [F_REJECTIONS] = { "aigw_rate_limit_rejections_total",
        "Requests refused with 429 by route and code (rate_limit_exceeded, "
        "quota_exceeded, too_many_failed_attempts, ...).", K_COUNTER, S_INT,
        0, NULL },
    [F_QUOTA] = { "aigw_quota",
        "Quota balances as of the last settled request.", K_QUOTA, S_INT, 0,
        NULL },
};

enum { ST_EMPTY, ST_CLAIMING, ST_READY };

struct series {
    _Atomic uint32_t state;
    uint16_t family;
    uint16_t len;
    uint64_t hash;
    _Atomic uint64_t v[NVAL];
    char labels[LABELS_MAX];
};

struct proc {
    _Atomic int32_t pid;
    _Atomic int32_t threads;
    _Atomic int32_t busy;
    _Atomic int32_t ledger_queued;       /* events waiting for the writer */
    _Atomic int32_t ledger_state;        /* LEDGER_* bits */
    int32_t pad;
};

#define LEDGER_SPOOLING 1
#define LEDGER_FAILING 2

struct hdr {
    uint64_t magic;
    uint32_t version, nslots, label_cap, nprocs;
    uint64_t size;
    _Atomic uint32_t fam_count[NFAM];
    _Atomic uint64_t overflowed[NFAM];
    _Atomic uint64_t all_busy;           /* a process's last thread taken */
    _Atomic uint64_t ledger_spooled;     /* usage events written to spool */
    struct proc procs[NPROCS];
    struct series overflow[NFAM];
    struct series slots[];
};

static struct hdr *shm;
static struct proc *me;
static char spool_dir[4096];      /* for aigw_ledger_spool_bytes */

int metrics_enabled(void)
{
    return shm != NULL;
}

static size_t shm_size(uint32_t nslots)
{
    return sizeof(struct hdr) + (size_t)nslots * sizeof(struct series);
}

static int hdr_ok(const struct hdr *h, uint32_t nslots, uint32_t cap)
{
    return h->magic == MAGIC && h->version == VERSION &&
           h->nslots == nslots && h->label_cap == cap &&
           h->nprocs == NPROCS && h->size == shm_size(nslots);
}

/* Opens path, sized and initialised under an exclusive flock, so the
 * first process creates it and the others map what it made. A segment of
 * another layout (an upgrade, other limits) is replaced by a new file:
 * processes still mapping the old one keep their inode. */
static struct hdr *map_file(const char *path, uint32_t nslots, uint32_t cap,
                            int retry)
{
    size_t size = shm_size(nslots);
    struct hdr *h = NULL;
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return NULL;
    if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0)
        goto out;
    if (st.st_size != 0 && (size_t)st.st_size != size) {
        if (retry && unlink(path) == 0) {
            flock(fd, LOCK_UN);
            close(fd);
            return map_file(path, nslots, cap, 0);
        }
        goto out;
    }
    /* blocks reserved up front: a sparse file on a full disk or tmpfs
     * would raise SIGBUS at the first touch of a page */
    if (st.st_size == 0 && (errno = posix_fallocate(fd, 0, (off_t)size))) {
        int e = errno;

        if (ftruncate(fd, 0) == 0)
            errno = e;
        goto out;
    }
    h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        h = NULL;
        goto out;
    }
    if (st.st_size == 0) {
        h->version = VERSION;
        h->nslots = nslots;
        h->label_cap = cap;
        h->nprocs = NPROCS;
        h->size = size;
        for (int f = 0; f < NFAM; f++) {
            h->overflow[f].family = (uint16_t)f;
            strcpy(h->overflow[f].labels, "overflow=\"true\"");
            h->overflow[f].len = (uint16_t)strlen(h->overflow[f].labels);
            atomic_store(&h->overflow[f].state, ST_READY);
        }
        h->magic = MAGIC;
    } else if (!hdr_ok(h, nslots, cap)) {
        munmap(h, size);
        h = NULL;
        if (retry && unlink(path) == 0) {
            flock(fd, LOCK_UN);
            close(fd);
            return map_file(path, nslots, cap, 0);
        }
    }
out:
    /* explicitly: the mapping holds the open file, and with it the lock */
    flock(fd, LOCK_UN);
    close(fd);
    return h;
}

static int pid_alive(int32_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

/* A process-table slot: free, or left by a process that is gone. */
static struct proc *claim_proc(int threads)
{
    int32_t self = (int32_t)getpid();

    for (int i = 0; i < NPROCS; i++) {
        struct proc *p = &shm->procs[i];
        int32_t cur = atomic_load(&p->pid);

        if (cur == self ||
            ((cur == 0 || !pid_alive(cur)) &&
             atomic_compare_exchange_strong(&p->pid, &cur, self))) {
            atomic_store(&p->threads, threads);
            atomic_store(&p->busy, 0);
            atomic_store(&p->ledger_queued, 0);
            atomic_store(&p->ledger_state, 0);
            return p;
        }
    }
    return NULL;
}

int metrics_init(const struct config *cfg, int threads)
{
    char path[4096];

    if (!cfg->obs.metrics)
        return 0;
    if (cfg->obs.metrics_shm != NULL)
        snprintf(path, sizeof(path), "%s", cfg->obs.metrics_shm);
    else
        snprintf(path, sizeof(path), "%s/aigw-metrics.shm", cfg->spool_dir);
    snprintf(spool_dir, sizeof(spool_dir), "%s", cfg->spool_dir);
    shm = map_file(path, (uint32_t)cfg->obs.max_series,
                   (uint32_t)cfg->obs.max_label_sets, 1);
    if (shm == NULL) {
        log_error(NULL, "metrics: cannot map %s: %s; serving without "
                  "metrics", path, strerror(errno));
        return -1;
    }
    me = claim_proc(threads);
    if (me == NULL)
        log_warn(NULL, "metrics: process table full; this process's "
                 "threads are not in the saturation gauges");
    quota_usage_hook = metrics_quota;
    return 0;
}

void metrics_request_begin(void)
{
    /* the last free thread taken: connections arriving now wait in the
     * web server's queue (or the socket backlog) until one finishes */
    if (me != NULL &&
        atomic_fetch_add_explicit(&me->busy, 1, memory_order_relaxed) + 1 >=
            atomic_load_explicit(&me->threads, memory_order_relaxed))
        atomic_fetch_add_explicit(&shm->all_busy, 1, memory_order_relaxed);
}

void metrics_request_end(void)
{
    if (me != NULL)
        atomic_fetch_sub_explicit(&me->busy, 1, memory_order_relaxed);
}

/* --- label sets --------------------------------------------------------- */

struct lset {
    char s[LABELS_MAX];
    size_t n;
};

static void lput(struct lset *l, const char *p, size_t n)
{
    if (l->n + n < sizeof(l->s)) {
        memcpy(l->s + l->n, p, n);
        l->n += n;
    }
}

/* Length of the valid UTF-8 sequence at p (max n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t k = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2
             : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;

    if (k == 0 || k > n || (k == 2 && p[0] < 0xC2))
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

/* Appends name="value": escaped per the text format, at most VALUE_MAX
 * bytes cut on a character boundary, invalid UTF-8 and controls as '?'. */
static void label(struct lset *l, const char *name, const char *v)
{
    const unsigned char *p = (const unsigned char *)(v ? v : "");
    size_t left = strlen((const char *)p), used = 0;

    if (l->n > 0)
        lput(l, ",", 1);
    lput(l, name, strlen(name));
    lput(l, "=\"", 2);
    while (left > 0) {
        size_t k = utf8_len(p, left);

        if (used + (k ? k : 1) > VALUE_MAX)
            break;
        if (k == 0 || (k == 1 && *p < 0x20)) {
            lput(l, *p == '\n' ? "\\n" : "?", *p == '\n' ? 2 : 1);
            k = 1;
        } else if (*p == '\\' || *p == '"') {
            lput(l, "\\", 1);
            lput(l, (const char *)p, 1);
        } else {
            lput(l, (const char *)p, k);
        }
        p += k;
        left -= k;
        used += k;
    }
    lput(l, "\"", 1);
}

static uint64_t fnv(int f, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)f;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int same(struct series *s, int f, uint64_t h, const struct lset *l)
{
    return s->family == f && s->hash == h && s->len == l->n &&
           memcmp(s->labels, l->s, l->n) == 0;
}

/* Waits for a slot another thread is filling in; 0 if it never ends (its
 * writer died): the slot is then treated as someone else's series. */
static int wait_ready(struct series *s)
{
    for (int i = 0; i < 100000; i++) {
        if (atomic_load_explicit(&s->state, memory_order_acquire) ==
            ST_READY)
            return 1;
        sched_yield();
    }
    return 0;
}

static struct series *overflow(int f)
{
    atomic_fetch_add_explicit(&shm->overflowed[f], 1, memory_order_relaxed);
    return &shm->overflow[f];
}

static struct series *find(int f, const struct lset *l)
{
    uint64_t h = fnv(f, l->s, l->n);
    uint32_t n = shm->nslots;

    for (uint32_t i = 0; i < n && i < MAX_PROBES; i++) {
        struct series *s = &shm->slots[(h + i) % n];
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);

        if (st == ST_EMPTY) {
            if (atomic_fetch_add(&shm->fam_count[f], 1) >= shm->label_cap) {
                atomic_fetch_sub(&shm->fam_count[f], 1);
                return overflow(f);
            }
            if (atomic_compare_exchange_strong(&s->state, &st,
                                               ST_CLAIMING)) {
                s->family = (uint16_t)f;
                s->hash = h;
                s->len = (uint16_t)l->n;
                memcpy(s->labels, l->s, l->n);
                atomic_store_explicit(&s->state, ST_READY,
                                      memory_order_release);
                return s;
            }
            atomic_fetch_sub(&shm->fam_count[f], 1);
        }
        if (st == ST_CLAIMING || st == ST_EMPTY) {
            if (!wait_ready(s))
                continue;
        }
        if (same(s, f, h, l))
            return s;
    }
    return overflow(f);
}

static void add(struct series *s, int i, uint64_t n)
{
    atomic_fetch_add_explicit(&s->v[i], n, memory_order_relaxed);
}

static void count(int f, const struct lset *l, uint64_t n)
{
    add(find(f, l), 0, n);
}

/* v: the observation in the family's stored unit (tokens, ms). */
static void observe(int f, const struct lset *l, uint64_t v)
{
    const struct family_def *d = &fams[f];
    struct series *s = find(f, l);
    double x = d->scale == S_MS ? (double)v / 1000.0 : (double)v;
    int b = 0;

    while (b < d->nb && x > d->le[b])
        b++;
    if (b < d->nb)
        add(s, b, 1);
    add(s, V_COUNT, 1);
    add(s, V_SUM, v);
}

/* --- feeding ------------------------------------------------------------ */

static const char *str(const char *s)
{
    return s ? s : "";
}

static void feed_tokens(const struct usage_event *ev, const char *model)
{
    static const char *const type[2] = { "input", "output" };
    const int64_t n[2] = { ev->prompt_tokens, ev->completion_tokens };
    struct lset l;

    for (int i = 0; i < 2; i++) {
        if (n[i] <= 0)
            continue;
        l.n = 0;
        label(&l, "api_key_id", ev->api_key_id);
        label(&l, "user_id", ev->user_id);
        label(&l, "group_id", ev->group_id);
        label(&l, "model", model);
        label(&l, "type", type[i]);
        count(F_TOKENS, &l, (uint64_t)n[i]);
        l.n = 0;
        label(&l, "gen_ai_operation_name", str(ev->operation));
        label(&l, "gen_ai_provider_name", str(ev->provider));
        label(&l, "gen_ai_request_model", ev->requested_model);
        label(&l, "gen_ai_response_model", model);
        label(&l, "gen_ai_token_type", type[i]);
        observe(F_TOKEN_USAGE, &l, (uint64_t)n[i]);
    }
    if (ev->cost_pusd > 0) {
        l.n = 0;
        label(&l, "group_id", ev->group_id);
        label(&l, "model", model);
        count(F_COST, &l, (uint64_t)ev->cost_pusd);
    }
}

static void feed_errors(const struct usage_event *ev, const char *status)
{
    struct lset l;

    if (ev->error_type == NULL && ev->http_status < 400)
        return;
    l.n = 0;
    label(&l, "route", str(ev->route));
    label(&l, "status", status);
    label(&l, "error_type", ev->error_type ? ev->error_type : "http_error");
    count(F_ERRORS, &l, 1);
    if (ev->http_status == 429) {
        l.n = 0;
        label(&l, "route", str(ev->route));
        label(&l, "code", ev->error_type ? ev->error_type : "");
        count(F_REJECTIONS, &l, 1);
    }
    if (ev->error_type != NULL && ev->provider != NULL &&
        strncmp(ev->error_type, "upstream_", 9) == 0) {
        l.n = 0;
        label(&l, "provider", ev->provider);
        label(&l, "backend", str(ev->backend));
        label(&l, "error_type", ev->error_type);
        count(F_UPSTREAM_ERRORS, &l, 1);
    }
}

void metrics_observe(const struct usage_event *ev)
{
    /* a model label only once a backend accepted the name: a client's
     * unknown model names are not label values */
    const char *model = ev->backend == NULL ? ""
                      : ev->served_model[0] ? ev->served_model
                                            : ev->requested_model;
    char status[16];
    struct lset l;

    if (shm == NULL)
        return;
    snprintf(status, sizeof(status), "%d", ev->http_status);
    l.n = 0;
    label(&l, "route", str(ev->route));
    label(&l, "provider", str(ev->provider));
    label(&l, "model", ev->backend ? ev->requested_model : "");
    label(&l, "status", status);
    count(F_REQUESTS, &l, 1);
    feed_errors(ev, status);
    if (ev->guard_outcome != 0) {
        l.n = 0;
        label(&l, "route", str(ev->route));
        label(&l, "action", ev->guard_outcome == 2 ? "blocked" : "masked");
        label(&l, "guardrail", ev->guardrail);
        count(F_GUARDRAILS, &l, 1);
    }
    if (ev->attempts > 1) {
        l.n = 0;
        label(&l, "route", str(ev->route));
        label(&l, "backend", str(ev->backend));
        count(F_FAILOVERS, &l, (uint64_t)(ev->attempts - 1));
    }
    if (ev->operation == NULL || ev->backend == NULL)
        return;
    /* an authenticated caller: an API key, or a JWT's user */
    if (ev->api_key_id[0] != '\0' || ev->user_id[0] != '\0')
        feed_tokens(ev, model);
    l.n = 0;
    label(&l, "gen_ai_operation_name", ev->operation);
    label(&l, "gen_ai_provider_name", str(ev->provider));
    label(&l, "gen_ai_request_model", ev->requested_model);
    label(&l, "error_type", ev->error_type ? ev->error_type : "");
    observe(F_DURATION, &l, (uint64_t)(ev->latency_ms > 0 ? ev->latency_ms
                                                          : 0));
    if (ev->stream && ev->ttft_ms >= 0) {
        l.n = 0;
        label(&l, "gen_ai_operation_name", ev->operation);
        label(&l, "gen_ai_provider_name", str(ev->provider));
        label(&l, "gen_ai_request_model", ev->requested_model);
        observe(F_TTFT, &l, (uint64_t)ev->ttft_ms);
    }
}

void metrics_quota(const char *subject_kind, const char *subject,
                   const char *model, const char *unit, const char *period,
                   int64_t used, int64_t limit)
{
    struct series *s;
    struct lset l;

    if (shm == NULL)
        return;
    l.n = 0;
    label(&l, "subject_kind", subject_kind);
    label(&l, "subject", subject);
    label(&l, "model", model ? model : "*");
    label(&l, "unit", unit);
    label(&l, "period", period);
    s = find(F_QUOTA, &l);
    if (s == &shm->overflow[F_QUOTA])
        return;            /* gauges of unrelated subjects do not sum */
    /* last settlement wins: a balance only has one current value */
    atomic_store_explicit(&s->v[Q_USED], (uint64_t)used,
                          memory_order_relaxed);
    atomic_store_explicit(&s->v[Q_LIMIT], (uint64_t)limit,
                          memory_order_relaxed);
}

void metrics_ledger_state(size_t queued, int spooling, int failing)
{
    if (me == NULL)
        return;
    atomic_store_explicit(&me->ledger_queued,
                          (int32_t)(queued > INT32_MAX ? INT32_MAX : queued),
                          memory_order_relaxed);
    atomic_store_explicit(&me->ledger_state,
                          (spooling ? LEDGER_SPOOLING : 0) |
                              (failing ? LEDGER_FAILING : 0),
                          memory_order_relaxed);
}

void metrics_ledger_spooled(size_t n)
{
    if (shm != NULL)
        atomic_fetch_add_explicit(&shm->ledger_spooled, n,
                                  memory_order_relaxed);
}

/* --- exposition --------------------------------------------------------- */

static void put_value(struct buf *o, enum scale sc, uint64_t v)
{
    if (sc == S_MS)
        buf_addf(o, "%llu.%03llu", (unsigned long long)(v / 1000),
                 (unsigned long long)(v % 1000));
    else if (sc == S_PUSD)
        buf_addf(o, "%llu.%012llu", (unsigned long long)(v / 1000000000000ull),
                 (unsigned long long)(v % 1000000000000ull));
    else
        buf_addf(o, "%llu", (unsigned long long)v);
}

static void put_series(struct buf *o, const struct family_def *d,
                       struct series *s)
{
    uint64_t v[NVAL], cum = 0;

    for (int i = 0; i < NVAL; i++)
        v[i] = atomic_load_explicit(&s->v[i], memory_order_relaxed);
    if (d->kind == K_COUNTER) {
        buf_addf(o, "%s{%.*s} ", d->name, (int)s->len, s->labels);
        put_value(o, d->scale, v[0]);
        buf_addc(o, '\n');
        return;
    }
    for (int b = 0; b < d->nb; b++) {
        cum += v[b];
        buf_addf(o, "%s_bucket{%.*s,le=\"%.15g\"} %llu\n", d->name, (int)s->len,
                 s->labels, d->le[b], (unsigned long long)cum);
    }
    /* count read last: never below the buckets' sum */
    if (v[V_COUNT] < cum)
        v[V_COUNT] = cum;
    buf_addf(o, "%s_bucket{%.*s,le=\"+Inf\"} %llu\n", d->name, (int)s->len,
             s->labels, (unsigned long long)v[V_COUNT]);
    buf_addf(o, "%s_sum{%.*s} ", d->name, (int)s->len, s->labels);
    put_value(o, d->scale, v[V_SUM]);
    buf_addf(o, "\n%s_count{%.*s} %llu\n", d->name, (int)s->len, s->labels,
             (unsigned long long)v[V_COUNT]);
}

static void put_gauge(struct buf *o, const char *name, struct series *s,
                      int which)
{
    int64_t used = (int64_t)atomic_load(&s->v[Q_USED]);
    int64_t limit = (int64_t)atomic_load(&s->v[Q_LIMIT]);

    buf_addf(o, "%s{%.*s} ", name, (int)s->len, s->labels);
    if (which == Q_USED)
        buf_addf(o, "%lld\n", (long long)used);
    else if (which == Q_LIMIT)
        buf_addf(o, "%lld\n", (long long)limit);
    else if (limit > 0)
        buf_addf(o, "%.6f\n", (double)used / (double)limit);
    else
        buf_adds(o, used > 0 ? "+Inf\n" : "0\n");
}

/* The quota family as three gauges (used, limit, used / limit); its
 * overflow series is not shown: balances of different subjects do not
 * add up (aigw_metrics_overflow_total counts what it turned away). */
static void render_quota(struct buf *o, int f)
{
    static const struct { const char *name, *help; } g[3] = {
        { "aigw_quota_used", "Usage counted against a quota in its current "
          "period (last settled request), in the quota's unit." },
        { "aigw_quota_limit", "A quota's allowance for its current period "
          "(limit plus this period's adjustment)." },
        { "aigw_quota_used_ratio", "aigw_quota_used / aigw_quota_limit "
          "(+Inf when the allowance is 0 and something was used)." },
    };

    for (int k = 0; k < 3; k++) {
        buf_addf(o, "# HELP %s %s\n# TYPE %s gauge\n", g[k].name, g[k].help,
                 g[k].name);
        for (uint32_t i = 0; i < shm->nslots; i++) {
            struct series *s = &shm->slots[i];

            if (atomic_load_explicit(&s->state, memory_order_acquire) ==
                    ST_READY && s->family == f)
                put_gauge(o, g[k].name, s, k);
        }
    }
}

static void render_family(struct buf *o, int f)
{
    const struct family_def *d = &fams[f];
    struct series *ov = &shm->overflow[f];

    if (d->kind == K_QUOTA) {
        render_quota(o, f);
        return;
    }
    buf_addf(o, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
             d->kind == K_COUNTER ? "counter" : "histogram");
    for (uint32_t i = 0; i < shm->nslots; i++) {
        struct series *s = &shm->slots[i];

        if (atomic_load_explicit(&s->state, memory_order_acquire) ==
                ST_READY && s->family == f)
            put_series(o, d, s);
    }
    if (atomic_load(&shm->overflowed[f]) > 0)
        put_series(o, d, ov);
}

/* Bytes of usage waiting in this host's spool files for the database. */
static long long spool_bytes(void)
{
    long long total = 0;
    DIR *d = spool_dir[0] ? opendir(spool_dir) : NULL;
    struct dirent *de;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char p[4096 + 256];
        struct stat st;

        if (strncmp(de->d_name, "spool-", 6) != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", spool_dir, de->d_name);
        if (stat(p, &st) == 0)
            total += st.st_size;
    }
    closedir(d);
    return total;
}

static void render_ledger(struct buf *o, long queued, int state)
{
    buf_addf(o,
             "# HELP aigw_ledger_queued_events Usage events queued in worker "
             "memory for the ledger writers.\n"
             "# TYPE aigw_ledger_queued_events gauge\n"
             "aigw_ledger_queued_events %ld\n"
             "# HELP aigw_ledger_spooling 1 while some process spools usage "
             "(PostgreSQL unreachable or slow; replayed later).\n"
             "# TYPE aigw_ledger_spooling gauge\naigw_ledger_spooling %d\n"
             "# HELP aigw_ledger_failing 1 while some process can store usage "
             "neither in PostgreSQL nor in the spool (inference refused).\n"
             "# TYPE aigw_ledger_failing gauge\naigw_ledger_failing %d\n"
             "# HELP aigw_ledger_spooled_events_total Usage events written to "
             "the spool instead of PostgreSQL.\n"
             "# TYPE aigw_ledger_spooled_events_total counter\n"
             "aigw_ledger_spooled_events_total %llu\n"
             "# HELP aigw_ledger_spool_bytes Bytes in this host's spool files "
             "waiting for replay.\n"
             "# TYPE aigw_ledger_spool_bytes gauge\n"
             "aigw_ledger_spool_bytes %lld\n",
             queued, !!(state & LEDGER_SPOOLING), !!(state & LEDGER_FAILING),
             (unsigned long long)atomic_load(&shm->ledger_spooled),
             spool_bytes());
}

/* Per worker process: busy and serving threads, by pid. */
static void render_per_proc(struct buf *o)
{
    static const char *const what[2] = { "threads_busy", "threads" };

    for (int k = 0; k < 2; k++) {
        buf_addf(o, "# HELP aigw_worker_process_%s %s per worker process.\n"
                 "# TYPE aigw_worker_process_%s gauge\n", what[k],
                 k == 0 ? "Busy serving threads" : "Serving threads",
                 what[k]);
        for (int i = 0; i < NPROCS; i++) {
            struct proc *p = &shm->procs[i];
            int32_t pid = atomic_load(&p->pid);

            if (pid != 0 && pid_alive(pid))
                buf_addf(o, "aigw_worker_process_%s{pid=\"%d\"} %d\n",
                         what[k], (int)pid,
                         (int)atomic_load(k == 0 ? &p->busy : &p->threads));
        }
    }
}

static void render_procs(struct buf *o)
{
    long procs = 0, threads = 0, busy = 0, queued = 0;
    int state = 0;

    for (int i = 0; i < NPROCS; i++) {
        struct proc *p = &shm->procs[i];
        int32_t pid = atomic_load(&p->pid);

        if (pid == 0 || !pid_alive(pid))
            continue;
        procs++;
        threads += atomic_load(&p->threads);
        busy += atomic_load(&p->busy);
        queued += atomic_load(&p->ledger_queued);
        state |= atomic_load(&p->ledger_state);
    }
    buf_addf(o,
             "# HELP aigw_requests_in_flight Requests being served on this "
             "host.\n# TYPE aigw_requests_in_flight gauge\n"
             "aigw_requests_in_flight %ld\n"
             "# HELP aigw_worker_processes Live aigw-fcgi processes on this "
             "host.\n# TYPE aigw_worker_processes gauge\n"
             "aigw_worker_processes %ld\n"
             "# HELP aigw_worker_threads Serving threads on this host.\n"
             "# TYPE aigw_worker_threads gauge\naigw_worker_threads %ld\n"
             "# HELP aigw_worker_threads_busy Serving threads busy with a "
             "request (saturation: busy / threads).\n"
             "# TYPE aigw_worker_threads_busy gauge\n"
             "aigw_worker_threads_busy %ld\n"
             "# HELP aigw_worker_all_busy_total Requests that took a worker "
             "process's last free thread (connections arriving then wait in "
             "the web server's queue).\n"
             "# TYPE aigw_worker_all_busy_total counter\n"
             "aigw_worker_all_busy_total %llu\n",
             busy, procs, threads, busy,
             (unsigned long long)atomic_load(&shm->all_busy));
    render_per_proc(o);
    render_ledger(o, queued, state);
}

static void render_self(struct buf *o)
{
    buf_adds(o, "# HELP aigw_metrics_series Label sets in use per metric "
             "family.\n# TYPE aigw_metrics_series gauge\n");
    for (int f = 0; f < NFAM; f++)
        buf_addf(o, "aigw_metrics_series{family=\"%s\"} %u\n", fams[f].name,
                 atomic_load(&shm->fam_count[f]));
    buf_adds(o, "# HELP aigw_metrics_overflow_total Observations that went "
             "to a family's overflow series (label set cap reached).\n"
             "# TYPE aigw_metrics_overflow_total counter\n");
    for (int f = 0; f < NFAM; f++)
        buf_addf(o, "aigw_metrics_overflow_total{family=\"%s\"} %llu\n",
                 fams[f].name,
                 (unsigned long long)atomic_load(&shm->overflowed[f]));
}

void metrics_render(struct buf *out)
{
    if (shm == NULL)
        return;
    for (int f = 0; f < NFAM; f++)
        render_family(out, f);
    render_procs(out);
    render_self(out);
}
