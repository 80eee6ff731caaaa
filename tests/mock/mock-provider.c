/*
 * mock-provider: a mock OpenAI-compatible LLM provider for aigw's tests and
 * benchmarks.  Listens on 127.0.0.1 with one thread per connection and
 * HTTP/1.1 keep-alive; see usage() and mock.h.  This file holds the command
 * line, the listener, connection threads, sleeping, and clean shutdown on
 * SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mock.h"

#define THREAD_STACK ((size_t)256 << 10)
#define DRAIN_SECONDS 5

struct mock_opts mock_opts = { 0, 0, 0, 5, NULL };

static int stop_pipe[2] = { -1, -1 };
static atomic_int stopping;
static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cv = PTHREAD_COND_INITIALIZER;
static struct conn *conns;
static int nconns;

static void usage(FILE *f)
{
    fputs("usage: mock-provider --port N [--latency-ms N] "
          "[--chunk-delay-ms N]\n"
          "                     [--chunks N] [--require-key KEY]\n"
          "Mock OpenAI-compatible provider on 127.0.0.1:N.\n"
          "  --latency-ms N      sleep N ms before each API response\n"
          "  --chunk-delay-ms N  sleep N ms between streamed content chunks\n"
          "  --chunks N          content chunks (= completion tokens), "
          "default 5\n"
          "  --require-key KEY   demand 'Authorization: Bearer KEY'\n"
          "Endpoints: POST */chat/completions, POST */embeddings, "
          "GET */models,\n"
          "GET /__health, GET /__stats, POST /__reset, GET /__last.\n"
          "Faults by model: mock-error-<code>, mock-slow-<ms>, mock-hang,\n"
          "mock-truncate, mock-reset, mock-429-date, mock-nousage,\n"
          "mock-drip, mock-crlf, mock-bigline.\n", f);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Discards input on fd; 1 if the peer has hung up. */
static int drain(int fd)
{
    char scratch[4096];
    ssize_t n = read(fd, scratch, sizeof(scratch));

    return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
}

int mock_nap_conn(int fd, int ms)
{
    struct pollfd p[2] = { { stop_pipe[0], POLLIN, 0 }, { fd, POLLIN, 0 } };
    long long end = now_ms() + ms, left;
    int n;

    while ((left = end - now_ms()) > 0) {
        n = poll(p, fd >= 0 ? 2 : 1, (int)left);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n <= 0)
            continue;
        if (p[0].revents)
            return -1;
        if (p[1].revents && drain(fd))
            return 1;
    }
    return 0;
}

int mock_nap(int ms)
{
    return mock_nap_conn(-1, ms) < 0 ? -1 : 0;
}

static void conn_link(struct conn *c)
{
    pthread_mutex_lock(&conns_mu);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    nconns++;
    pthread_mutex_unlock(&conns_mu);
}

static void conn_unlink(struct conn *c)
{
    pthread_mutex_lock(&conns_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (--nconns == 0)
        pthread_cond_signal(&conns_cv);
    pthread_mutex_unlock(&conns_mu);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;

    conn_serve(c);
    conn_unlink(c);
    close(c->fd);
    free(c);
    return NULL;
}

static void spawn(int fd, const pthread_attr_t *attr)
{
    struct conn *c = calloc(1, sizeof(*c));
    pthread_t t;
    int one = 1;

    if (!c) {
        close(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    conn_link(c);
    if (pthread_create(&t, attr, conn_main, c) != 0) {
        conn_unlink(c);
        close(fd);
        free(c);
    }
}

static void accept_loop(int lfd)
{
    struct pollfd p[2] = { { lfd, POLLIN, 0 }, { stop_pipe[0], POLLIN, 0 } };
    pthread_attr_t attr;
    int fd;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    while (!atomic_load(&stopping)) {
        if (poll(p, 2, -1) < 0 || p[1].revents)
            continue;
        fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            spawn(fd, &attr);
        else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
            mock_nap(100);
    }
    pthread_attr_destroy(&attr);
}

/* Wakes every connection and waits for their threads; 0 if all ended. */
static int drain_conns(void)
{
    struct timespec dl;
    struct conn *c;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += DRAIN_SECONDS;
    pthread_mutex_lock(&conns_mu);
    for (c = conns; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (nconns > 0 && rc == 0)
        rc = pthread_cond_timedwait(&conns_cv, &conns_mu, &dl);
    rc = nconns > 0 ? -1 : 0;
    pthread_mutex_unlock(&conns_mu);
    return rc;
}

static void *signal_main(void *arg)
{
    const sigset_t *set = arg;
    int sig = 0;

    sigwait(set, &sig);
    atomic_store(&stopping, 1);
    if (write(stop_pipe[1], "x", 1) < 0)
        perror("mock-provider: write");
    return NULL;
}

static int listen_on(int port)
{
    struct sockaddr_in a;
    int fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int parse_num(const char *s, int min, int max, int *out)
{
    char *end;
    long v;

    if (!s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_opt(const char *name, const char *val)
{
    struct {
        const char *name;
        int *dst;
        int max;
    } nums[] = {
        { "--port", &mock_opts.port, 65535 },
        { "--latency-ms", &mock_opts.latency_ms, 3600000 },
        { "--chunk-delay-ms", &mock_opts.chunk_delay_ms, 600000 },
        { "--chunks", &mock_opts.chunks, 1000000 },
    };
    size_t i;

    if (strcmp(name, "--require-key") == 0) {
        mock_opts.require_key = val;
        return val && *val ? 0 : -1;
    }
    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (strcmp(name, nums[i].name) == 0)
            return parse_num(val, 0, nums[i].max, nums[i].dst);
    return -1;
}

/* 0 to run, 1 to exit successfully (help), -1 on a usage error. */
static int parse_args(int argc, char **argv)
{
    int i, port = 0;

    for (i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (parse_opt(argv[i], i + 1 < argc ? argv[i + 1] : NULL) < 0) {
            fprintf(stderr, "mock-provider: bad option or value: %s\n",
                    argv[i]);
            return -1;
        }
        port |= strcmp(argv[i], "--port") == 0;
    }
    if (!port)
        fputs("mock-provider: --port is required\n", stderr);
    return port ? 0 : -1;
}

static int bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t n = sizeof(a);

    if (getsockname(fd, (struct sockaddr *)&a, &n) < 0)
        return -1;
    return ntohs(a.sin_port);
}

static int run(int lfd, sigset_t *set)
{
    pthread_t sig_thread;

    if (pthread_create(&sig_thread, NULL, signal_main, set) != 0)
        return -1;
    fprintf(stderr, "mock-provider: listening on 127.0.0.1:%d\n",
            bound_port(lfd));
    accept_loop(lfd);
    pthread_join(sig_thread, NULL);
    close(lfd);
    if (drain_conns() < 0)
        return 0;
    api_cleanup();
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    return 0;
}

int main(int argc, char **argv)
{
    sigset_t set;
    int rc, lfd;

    rc = parse_args(argc, argv);
    if (rc != 0) {
        usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (pipe(stop_pipe) < 0) {
        perror("mock-provider: pipe");
        return 1;
    }
    lfd = listen_on(mock_opts.port);
    if (lfd < 0) {
        fprintf(stderr, "mock-provider: cannot listen on 127.0.0.1:%d: %s\n",
                mock_opts.port, strerror(errno));
        return 1;
    }
    rc = run(lfd, &set);
    if (rc < 0)
        fputs("mock-provider: cannot start\n", stderr);
    return rc < 0 ? 1 : 0;
}
