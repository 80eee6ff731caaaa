/* aigw-fcgi: the FastCGI entry. Only this file touches libfcgi: it fills a
 * `struct request` per accepted request and runs the gateway on it from a
 * pool of threads (or one thread, for one-request-per-process servers). */
#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "gateway.h"
#include "ledger.h"
#include "log.h"
#include "logsink.h"
#include "metrics.h"
#include "circuit.h"
#include "failover.h"
#include "quota.h"
#include "reload.h"
#include "request.h"
#include "trace.h"
#include "worker.h"

#define DRAIN_SECONDS 30
#define IO_CHUNK (1 << 20)
#define LISTEN_FD 0             /* FastCGI: the listen socket is stdin */

static const struct config *cfg;
static atomic_int stopping;
static atomic_int active;
/* process lifetime; threads still blocked in accept() use them at exit */
static struct worker *workers;
static pthread_t *threads;

/* Idle threads wait for a connection in epoll_wait() on one epoll set,
 * which wakes the thread that started waiting last (accept() would go
 * round-robin over all of them): the threads that just served a request
 * serve the next ones, with their stacks, curl handles and buffers still
 * in the CPU caches. The listen socket is armed for one wake-up at a time
 * and re-armed once the woken thread has its connection (FCGX_Accept_r
 * returns after reading the params, which the web server sends with the
 * connection). -1: plain blocking accept(). */
static int accept_ep = -1;

static void accept_init(void)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
    int fl = fcntl(LISTEN_FD, F_GETFL);

    accept_ep = epoll_create1(EPOLL_CLOEXEC);
    if (accept_ep < 0 || fl < 0 ||
        fcntl(LISTEN_FD, F_SETFL, fl | O_NONBLOCK) < 0 ||
        epoll_ctl(accept_ep, EPOLL_CTL_ADD, LISTEN_FD, &ev) < 0) {
        if (fl >= 0)
            fcntl(LISTEN_FD, F_SETFL, fl);
        if (accept_ep >= 0)
            close(accept_ep);
        accept_ep = -1;
        log_warn(NULL, "epoll on the listen socket: %s; using accept()",
                 strerror(errno));
    }
}

static int accept_next(FCGX_Request *fr)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
    int rc;

    if (accept_ep < 0)
        return FCGX_Accept_r(fr);
    do {
        int n = epoll_wait(accept_ep, &ev, 1, -1);

        if (n < 0 && errno != EINTR)
            return -1;
        if (n <= 0)
            continue;
        rc = FCGX_Accept_r(fr);       /* the socket is non-blocking */
        ev.events = EPOLLIN | EPOLLONESHOT;
        if (epoll_ctl(accept_ep, EPOLL_CTL_MOD, LISTEN_FD, &ev) < 0)
            return -1;
    } while (rc == -EAGAIN || rc == -EWOULDBLOCK);
    return rc;
}

static int io_write(void *ctx, const char *p, size_t n)
{
    FCGX_Request *fr = ctx;

    while (n > 0) {
        int k = n > IO_CHUNK ? IO_CHUNK : (int)n;

        if (FCGX_PutStr(p, k, fr->out) != k)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int io_flush(void *ctx)
{
    FCGX_Request *fr = ctx;

    return FCGX_FFlush(fr->out) == 0 ? 0 : -1;
}

/* Sends the rest of the output and FCGI_END_REQUEST, as FCGX_Finish_r()
 * would, but keeps the request (its params) until FCGX_Finish_r(). */
static void io_finish(void *ctx)
{
    FCGX_Request *fr = ctx;

    FCGX_FClose(fr->err);
    FCGX_FClose(fr->out);
}

/* Reads the body into w->body, bounded by max_body_bytes. */
static enum body_state read_body(struct worker *w, FCGX_Request *fr)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
    char chunk[65536], *end;
    unsigned long long want;
    size_t got = 0;

    buf_reset(&w->body);
    if (cl == NULL || *cl == '\0')
        return BODY_OK;
    errno = 0;
    want = strtoull(cl, &end, 10);
    if (errno != 0 || *end != '\0' || *cl == '-')
        return BODY_BAD_LENGTH;
    if (want > w->cfg->max_body_bytes)
        return BODY_TOO_LARGE;
    /* max_body_bytes is reloadable: the buffers follow the current
     * config's limit */
    w->body.max = w->cfg->max_body_bytes;
    w->upbody.max = w->cfg->max_body_bytes * 2 + 65536;
    while (got < want) {
        size_t k = want - got > sizeof(chunk) ? sizeof(chunk) : want - got;
        int n = FCGX_GetStr(chunk, (int)k, fr->in);

        if (n <= 0)
            return BODY_SHORT;
        buf_add(&w->body, chunk, (size_t)n);
        got += (size_t)n;
    }
    return BODY_OK;
}

static void handle(struct worker *w, FCGX_Request *fr)
{
    struct request r;
    struct timespec now;
    const char *q;

    memset(&r, 0, sizeof(r));
    usage_event_init(&r.ev);
    clock_gettime(CLOCK_MONOTONIC, &r.t_start);
    clock_gettime(CLOCK_REALTIME, &now);
    r.start_unix_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    r.ev.ts_unix_us = r.start_unix_us;
    uuid7_make(&w->ids, r.start_unix_us / 1000, r.request_id);
    r.w = w;
    r.io.write = io_write;
    r.io.flush = io_flush;
    r.io_finish = io_finish;
    r.io.ctx = fr;
    r.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
    r.path = FCGX_GetParam("REQUEST_URI", fr->envp);
    if (r.method == NULL)
        r.method = "GET";
    if (r.path == NULL)
        r.path = FCGX_GetParam("SCRIPT_NAME", fr->envp);
    if (r.path == NULL)
        r.path = "/";
    q = strchr(r.path, '?');
    r.path_len = q ? (size_t)(q - r.path) : strlen(r.path);
    r.content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
    r.authorization = FCGX_GetParam("HTTP_AUTHORIZATION", fr->envp);
    r.x_api_key = FCGX_GetParam("HTTP_X_API_KEY", fr->envp);
    r.remote_addr = FCGX_GetParam("REMOTE_ADDR", fr->envp);
    r.traceparent = FCGX_GetParam("HTTP_TRACEPARENT", fr->envp);
    r.host = FCGX_GetParam("HTTP_HOST", fr->envp);       /* routing */
    r.query = q ? q + 1 : FCGX_GetParam("QUERY_STRING", fr->envp);
    r.env = fr->envp;
    r.body_state = read_body(w, fr);
    r.body = w->body.ptr ? w->body.ptr : "";
    r.body_len = w->body.len;
    gateway_handle(w->cfg, &r);
}

static void *serve(void *arg)
{
    struct worker *w = arg;
    FCGX_Request fr;

    if (FCGX_InitRequest(&fr, 0, 0) != 0)
        return NULL;
    while (accept_next(&fr) == 0) {
        const struct config *rc = reload_acquire();   /* hot reload */

        atomic_fetch_add(&active, 1);
        w->cfg = rc;
        handle(w, &fr);
        w->cfg = cfg;
        reload_release(rc);
        FCGX_Finish_r(&fr);
        atomic_fetch_sub(&active, 1);
        if (atomic_load(&stopping))
            break;
    }
    FCGX_Free(&fr, 1);
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: aigw-fcgi [--config FILE] [--check]\n"
        "\n"
        "The aigw FastCGI worker. A web server (lighttpd mod_fastcgi,\n"
        "Apache mod_fcgid, nginx with spawn-fcgi) starts it with the\n"
        "FastCGI listen socket on standard input.\n"
        "\n"
        "  --config FILE  configuration (default: $AIGW_CONFIG, else\n"
        "                 /etc/aigw/aigw.json)\n"
        "  --check        load and validate the configuration, then exit\n"
        "  --check-config FILE  the same for FILE\n"
        "  --help         this text\n"
        "\n"
        "Signals: TERM/INT drain in-flight requests, flush usage, exit;\n"
        "HUP reopens the log and reloads the configuration. The file is\n"
        "also reloaded when it changes (checked every reload.watch_ms,\n"
        "default 1000; 0: SIGHUP only). An invalid file keeps the running\n"
        "configuration; settings only a restart applies are named in a\n"
        "warning.\n");
}

/* Blocks the signals every thread inherits; main waits for them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* What identifies the file's version: a rewrite in place changes its
 * mtime (ns) or size, a rename over it (editors, ConfigMaps) its inode. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

static void file_id_of(const char *path, struct file_id *id)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if (stat(path, &st) == 0)
        *id = (struct file_id){ st.st_dev, st.st_ino, st.st_size,
                                st.st_mtim };
}

static int file_id_same(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Loads path again (SIGHUP or a file change): new requests get it,
 * in-flight ones finish on theirs; an invalid file keeps the running one.
 * Settings only a restart applies are named in a warning. */
static void reload(const char *path, const char *why)
{
    const struct config *now;
    char err[512], changed[512];

    if (reload_load(path, err, sizeof(err)) < 0) {
        log_error(NULL, "%s: configuration not reloaded, the running one "
                  "stays: %s", why, err);
        return;
    }
    now = reload_acquire();
    log_threshold = now->log_level;
    if (config_restart_changes(cfg, now, changed, sizeof(changed)) > 0)
        log_warn(NULL, "%s: changed settings that need a restart of the "
                 "workers to take effect (they keep their start-up "
                 "values until then): %s", why, changed);
    reload_release(now);
    log_info(NULL, "%s: configuration reloaded from %s", why, path);
}

/* Waits for TERM/INT (returned); reloads on HUP and, every
 * reload.watch_ms, when the file changed. */
static int wait_for_stop(const sigset_t *set, const char *path)
{
    struct file_id seen, cur;
    int sig;

    file_id_of(path, &seen);
    for (;;) {
        const struct config *c = reload_acquire();
        long watch_ms = c->reload_watch_ms;
        struct timespec ts = { watch_ms / 1000, watch_ms % 1000 * 1000000 };

        reload_release(c);
        sig = watch_ms > 0 ? sigtimedwait(set, NULL, &ts)
                           : (sigwait(set, &sig) == 0 ? sig : -1);
        if (sig < 0) {          /* the watch's tick (or EINTR) */
            file_id_of(path, &cur);
            if (watch_ms > 0 && cur.ino != 0 && !file_id_same(&cur, &seen)) {
                seen = cur;
                reload(path, "config file changed");
            }
            continue;
        }
        if (sig == SIGHUP) {
            if (cfg->log_file != NULL && log_open_file(cfg->log_file) < 0)
                log_error(NULL, "cannot reopen %s", cfg->log_file);
            file_id_of(path, &seen);
            reload(path, "SIGHUP");
            continue;
        }
        return sig;
    }
}

static void drain(void)
{
    for (int i = 0; i < DRAIN_SECONDS * 10 && atomic_load(&active) > 0; i++)
        usleep(100000);
}

int main(int argc, char **argv)
{
    const char *path = getenv("AIGW_CONFIG");
    int check = 0, sig;
    char err[512];
    sigset_t set;
    struct config *c;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--check-config") == 0 && i + 1 < argc) {
            path = argv[++i];
            check = 1;
        }
        else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL)
        path = "/etc/aigw/aigw.json";
    c = config_load(path, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "aigw-fcgi: %s\n", err);
        config_explain(path, err, stderr);     /* the line, a caret */
        return 1;
    }
    cfg = c;
    log_threshold = cfg->log_level;
    if (!check && cfg->log_file != NULL && log_open_file(cfg->log_file) < 0) {
        fprintf(stderr, "aigw-fcgi: cannot open log file %s\n",
                cfg->log_file);
        return 1;
    }
    if (!check && cfg->obs.syslog) {
        logsink_syslog_open(cfg->obs.syslog_ident, cfg->obs.syslog_facility);
        log_use_syslog();
    }
    if (check) {
        printf("%s: ok (%zu backends, %zu routes)\n", path, cfg->n_backends,
               cfg->n_routes);
        config_free(c);
        return 0;
    }
    if (FCGX_IsCGI()) {
        fprintf(stderr, "aigw-fcgi: standard input is not a FastCGI "
                "socket; start it from a web server or spawn-fcgi\n");
        config_free(c);
        return 2;
    }
    block_signals(&set);
    curl_global_init(CURL_GLOBAL_ALL);
    FCGX_Init();
    auth_init(cfg);
    /* observability: the host's metrics segment, the span exporter */
    metrics_init(cfg, cfg->threads);
    if (trace_start(cfg) < 0)
        log_error(NULL, "traces: exporter thread did not start");
    reload_init(c);
    if (ledger_start(cfg) < 0) {
        log_error(NULL, "usage ledger could not start; refusing to serve "
                  "requests whose usage could be lost");
        return 1;
    }
    /* after ledger_start: the state file lives in the spool directory */
    if (!circuit_init(cfg->routing->shm_name))
        log_info(NULL, "circuit breaker state is per process");
    workers = calloc((size_t)cfg->threads, sizeof(*workers));
    threads = calloc((size_t)cfg->threads, sizeof(*threads));
    accept_init();
    for (int i = 0; i < cfg->threads; i++) {
        if (worker_init(&workers[i], i, cfg) < 0 ||
            pthread_create(&threads[i], NULL, serve, &workers[i]) != 0) {
            log_error(NULL, "cannot start worker thread %d", i);
            return 1;
        }
    }
    log_info(NULL, "aigw-fcgi %d serving with %d threads (%s)", (int)getpid(),
             cfg->threads, path);
    sig = wait_for_stop(&set, path);
    atomic_store(&stopping, 1);
    FCGX_ShutdownPending();
    log_info(NULL, "signal %d: draining %d in-flight requests", sig,
             atomic_load(&active));
    drain();
    quota_stop();             /* unused quota leases back to PostgreSQL */
    ledger_stop();
    trace_stop();
    log_info(NULL, "aigw-fcgi %d stopped", (int)getpid());
    /* threads blocked in accept() are not joined: the process ends here */
    _exit(0);
}
