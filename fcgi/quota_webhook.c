#include "quota_webhook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "quotacfg.h"
#include "xalloc.h"

#define QUEUE_MAX 64

struct hook_event {
    char *url, *body;            /* owned */
    long timeout_ms;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct hook_event queue[QUEUE_MAX];
static size_t head, count;
static int started;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static void deliver(CURL *c, const struct hook_event *e)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: "
                                             "application/json");
    long status = 0;
    CURLcode rc;

    h = curl_slist_append(h, "Expect:");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status < 200 || status > 299)
        log_warn(NULL, "quota threshold webhook failed: %s (status %ld)",
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "http", status);
    curl_slist_free_all(h);
}

static void *sender(void *arg)
{
    CURL *c = curl_easy_init();
    sigset_t all;

    (void)arg;
    sigfillset(&all);             /* signals belong to the main thread */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        struct hook_event e;

        pthread_mutex_lock(&mu);
        while (count == 0)
            pthread_cond_wait(&cv, &mu);
        e = queue[head];
        head = (head + 1) % QUEUE_MAX;
        count--;
        pthread_mutex_unlock(&mu);
        if (c != NULL)
            deliver(c, &e);
        free(e.url);
        free(e.body);
    }
    return NULL;
}

void quota_webhook_post(const struct quota_settings *q, const char *event,
                        size_t len)
{
    struct hook_event *e;
    pthread_t t;

    if (q->threshold_webhook == NULL)
        return;
    pthread_mutex_lock(&mu);
    if (!started) {
        pthread_attr_t a;

        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&t, &a, sender, NULL) == 0;
        pthread_attr_destroy(&a);
    }
    if (!started || count == QUEUE_MAX) {
        pthread_mutex_unlock(&mu);
        log_warn(NULL, "quota threshold webhook: %s; event dropped",
                 started ? "queue full" : "no sender thread");
        return;
    }
    e = &queue[(head + count) % QUEUE_MAX];
    e->url = xstrdup(q->threshold_webhook);
    e->body = xmalloc(len + 1);
    memcpy(e->body, event, len);
    e->body[len] = '\0';
    e->timeout_ms = q->threshold_webhook_timeout_ms;
    count++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}
