#include "auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "apikey.h"
#include "auth_jwt.h"
#include "authcfg.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "request.h"
#include "xalloc.h"

#define STMT_KEY 0

struct cache_entry {
    unsigned char hash[APIKEY_HASH_LEN];
    int used;
    long long fetched_ms;
    struct identity *id;    /* owned; large, so kept out of the table */
};

static const struct auth_settings *settings;

static struct {
    pthread_rwlock_t lock;
    struct cache_entry *slots;
    size_t mask, count, max;
    long long ttl_ms, stale_ms;
} cache = { .lock = PTHREAD_RWLOCK_INITIALIZER };

void auth_init(const struct config *cfg)
{
    size_t n = 64;

    settings = cfg->authz;
    while (n < cfg->auth_cache_max * 2)
        n *= 2;
    cache.slots = xcalloc(n, sizeof(*cache.slots));
    cache.mask = n - 1;
    cache.max = cfg->auth_cache_max;
    cache.ttl_ms = cfg->auth_cache_ttl_ms;
    /* a database outage keeps known keys working this much longer */
    cache.stale_ms = 10 * 60 * 1000;
}

static void cache_clear(void)
{
    for (size_t i = 0; i <= cache.mask; i++)
        free(cache.slots[i].id);
    memset(cache.slots, 0, (cache.mask + 1) * sizeof(*cache.slots));
    cache.count = 0;
}

void auth_shutdown(void)
{
    if (cache.slots != NULL)
        cache_clear();
    free(cache.slots);
    cache.slots = NULL;
}

/* The hash is uniformly random, so its first bytes index the table. */
static size_t slot_of(const unsigned char *h)
{
    uint64_t v;

    memcpy(&v, h, sizeof(v));
    return (size_t)v & cache.mask;
}

/* Caller holds the lock. Returns the slot holding h, or an empty one. */
static struct cache_entry *cache_find(const unsigned char *h)
{
    size_t i = slot_of(h);

    while (cache.slots[i].used && memcmp(cache.slots[i].hash, h,
                                         APIKEY_HASH_LEN) != 0)
        i = (i + 1) & cache.mask;
    return &cache.slots[i];
}

static void cache_put(const unsigned char *h, const struct identity *id)
{
    struct cache_entry *e;

    pthread_rwlock_wrlock(&cache.lock);
    if (cache.count >= cache.max) {
        /* full: start over rather than track recency on the hot path */
        cache_clear();
    }
    e = cache_find(h);
    if (!e->used) {
        e->used = 1;
        memcpy(e->hash, h, APIKEY_HASH_LEN);
        e->id = xmalloc(sizeof(*e->id));
        cache.count++;
    }
    e->fetched_ms = now_ms();
    *e->id = *id;
    e->id->claims = NULL;
    pthread_rwlock_unlock(&cache.lock);
}

/* Removes h (revoked or deleted) by rebuilding its probe run. */
static void cache_drop(const unsigned char *h)
{
    struct cache_entry *e;

    pthread_rwlock_wrlock(&cache.lock);
    e = cache_find(h);
    if (e->used) {
        size_t i = (size_t)(e - cache.slots);

        e->used = 0;
        free(e->id);
        e->id = NULL;
        cache.count--;
        for (i = (i + 1) & cache.mask; cache.slots[i].used;
             i = (i + 1) & cache.mask) {
            struct cache_entry moved = cache.slots[i];

            cache.slots[i].used = 0;
            cache.slots[i].id = NULL;
            *cache_find(moved.hash) = moved;
        }
    }
    pthread_rwlock_unlock(&cache.lock);
}

/* 1 fresh hit, 2 stale hit (usable only if the database is down), 0 miss */
static int cache_get(const unsigned char *h, struct identity *id)
{
    struct cache_entry *e;
    int rc = 0;

    pthread_rwlock_rdlock(&cache.lock);
    e = cache_find(h);
    if (e->used) {
        long long age = now_ms() - e->fetched_ms;

        if (age < cache.ttl_ms)
            rc = 1;
        else if (age < cache.ttl_ms + cache.stale_ms)
            rc = 2;
        if (rc)
            *id = *e->id;
    }
    pthread_rwlock_unlock(&cache.lock);
    return rc;
}

/* The key's admin flag, expiry and scopes (NULL: unrestricted). A scope
 * list too long for the identity restricts to nothing (fails closed). */
static void row_scopes(PGresult *res, struct identity *id)
{
    id->kind = ID_API_KEY;
    id->admin = PQgetvalue(res, 0, 3)[0] == 't';
    id->expires_ms = PQgetisnull(res, 0, 4) ? 0
                   : strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    id->model_scoped = !PQgetisnull(res, 0, 5);
    id->route_scoped = !PQgetisnull(res, 0, 6);
    if (id->model_scoped && (size_t)PQgetlength(res, 0, 5) <
                            sizeof(id->scope_models))
        usage_set(id->scope_models, sizeof(id->scope_models),
                  PQgetvalue(res, 0, 5));
    if (id->route_scoped && (size_t)PQgetlength(res, 0, 6) <
                            sizeof(id->scope_routes))
        usage_set(id->scope_routes, sizeof(id->scope_routes),
                  PQgetvalue(res, 0, 6));
    usage_set(id->plan, sizeof(id->plan), PQgetvalue(res, 0, 7));
}

/* 1 found, 0 not found, -1 database unavailable */
static int db_lookup(struct db_session *db, const unsigned char *h,
                     struct identity *id)
{
    const char *vals[1] = { (const char *)h };
    int lens[1] = { APIKEY_HASH_LEN }, fmts[1] = { 1 };
    PGresult *res;
    int rc = -1;

    if (db_get(db) == NULL ||
        db_prepare(db, STMT_KEY, "aigw_auth_key",
                   "SELECT id, user_id, group_id, is_admin, "
                   "(extract(epoch FROM expires_at) * 1000)::bigint, "
                   "array_to_string(models, E'\\n'), "
                   "array_to_string(routes, E'\\n'), "
                   "left(metadata ->> 'plan', 32) FROM api_keys "
                   "WHERE key_hash = $1 AND revoked_at IS NULL "
                   "AND (expires_at IS NULL OR expires_at > now())",
                   1) < 0) {
        db_failed(db);
        return -1;
    }
    res = PQexecPrepared(db->conn, "aigw_auth_key", 1, vals, lens, fmts, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        rc = PQntuples(res) == 1;
        if (rc) {
            usage_set(id->api_key_id, sizeof(id->api_key_id),
                      PQgetvalue(res, 0, 0));
            usage_set(id->user_id, sizeof(id->user_id), PQgetvalue(res, 0, 1));
            usage_set(id->group_id, sizeof(id->group_id),
                      PQgetvalue(res, 0, 2));
            row_scopes(res, id);
        }
    } else {
        log_warn(NULL, "api key lookup failed: %s", PQerrorMessage(db->conn));
        db_failed(db);
    }
    PQclear(res);
    return rc;
}

/* The presented secret: "Authorization: Bearer <key>" or "x-api-key". */
static const char *presented_key(const struct request *r, size_t *len)
{
    const char *k = NULL;

    if (r->authorization != NULL && *r->authorization) {
        if (strncasecmp(r->authorization, "Bearer ", 7) != 0)
            return "";
        k = r->authorization + 7;
        while (*k == ' ')
            k++;
    } else if (r->x_api_key != NULL) {
        k = r->x_api_key;
    }
    if (k != NULL)
        *len = strlen(k);
    return k;
}

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int auth_check(struct db_session *db, const struct request *r,
               struct identity *id)
{
    unsigned char h[APIKEY_HASH_LEN];
    size_t len = 0;
    const char *key = presented_key(r, &len);
    int hit, found;

    if (key == NULL || len == 0)
        return AUTH_MISSING;
    if (len > APIKEY_MAX_LEN)
        return AUTH_INVALID;
    apikey_hash(key, len, h);
    hit = cache_get(h, id);
    if (hit && id->expires_ms > 0 && wall_ms() >= id->expires_ms)
        return AUTH_INVALID;         /* expired while cached */
    if (hit == 1)
        return AUTH_OK;
    found = db_lookup(db, h, id);
    if (found < 0 && db->conn == NULL && db->retry_at_ms == 0)
        found = db_lookup(db, h, id);  /* the connection was stale */
    if (found == 1) {
        cache_put(h, id);
        return AUTH_OK;
    }
    if (found == 0) {
        if (hit)
            cache_drop(h);
        return AUTH_INVALID;
    }
    if (hit == 2) {
        log_warn(r->request_id, "database unavailable: serving cached key");
        return AUTH_OK;
    }
    return AUTH_UNAVAILABLE;
}

int auth_authenticate(struct db_session *db, const struct request *r,
                      int mode, struct identity *id)
{
    size_t len = 0;
    const char *tok, *why = NULL;
    int rc;

    memset(id, 0, sizeof(*id));
    if (mode == RA_OFF)
        return AUTH_OK;
    tok = presented_key(r, &len);
    if (tok == NULL || len == 0)
        return mode == RA_OPTIONAL && tok == NULL ? AUTH_OK : AUTH_MISSING;
    if (mode == RA_API_KEY ||
        (mode != RA_JWT && !auth_jwt_looks_like(tok, len)))
        return auth_check(db, r, id);
    rc = auth_jwt_check(settings ? settings->jwt : NULL, tok, len,
                        wall_ms() / 1000, id, &why);
    if (rc != AUTH_OK)
        log_info(r->request_id, "jwt rejected: %s", why);
    return rc;
}

void auth_identity_release(struct identity *id)
{
    if (id == NULL)
        return;
    json_object_put(id->claims);
    id->claims = NULL;
}

int auth_is_admin(const struct identity *id)
{
    return id != NULL && id->kind != ID_NONE && id->admin;
}
