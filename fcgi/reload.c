#include "reload.h"

#include <pthread.h>
#include <stdlib.h>

#include "config.h"
#include "xalloc.h"

struct holder {
    struct config *cfg;
    long refs;               /* requests, + 1 while current */
    int boot;
    struct holder *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct holder *cur;   /* head of the live list */

void reload_init(struct config *boot)
{
    struct holder *h = xcalloc(1, sizeof(*h));

    h->cfg = boot;
    h->refs = 1;
    h->boot = 1;
    pthread_mutex_lock(&mu);
    h->next = cur;
    cur = h;
    pthread_mutex_unlock(&mu);
}

const struct config *reload_acquire(void)
{
    const struct config *c;

    pthread_mutex_lock(&mu);
    cur->refs++;
    c = cur->cfg;
    pthread_mutex_unlock(&mu);
    return c;
}

/* Unlinks and returns h when nothing uses it any more (mu held). */
static struct holder *unref(struct holder *h)
{
    if (--h->refs > 0 || h->boot)
        return NULL;
    for (struct holder **p = &cur; *p != NULL; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            break;
        }
    return h;
}

void reload_release(const struct config *cfg)
{
    struct holder *dead = NULL;

    pthread_mutex_lock(&mu);
    for (struct holder *h = cur; h != NULL; h = h->next)
        if (h->cfg == cfg) {
            dead = unref(h);
            break;
        }
    pthread_mutex_unlock(&mu);
    if (dead != NULL) {
        config_free(dead->cfg);
        free(dead);
    }
}

int reload_load(const char *path, char *err, size_t errsz)
{
    struct config *c = config_load(path, err, errsz);
    struct holder *h, *dead;

    if (c == NULL)
        return -1;
    h = xcalloc(1, sizeof(*h));
    h->cfg = c;
    h->refs = 1;
    pthread_mutex_lock(&mu);
    h->next = cur;
    cur = h;
    dead = unref(h->next);      /* the previous one is no longer current */
    pthread_mutex_unlock(&mu);
    if (dead != NULL) {
        config_free(dead->cfg);
        free(dead);
    }
    return 0;
}
