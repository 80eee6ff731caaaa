/* API-key authentication: the presented key is hashed (SHA-256) before any
 * lookup; results are cached in-process for auth.cache_ttl_ms, which bounds
 * how long a revoked key keeps working. */
#ifndef AIGW_AUTH_H
#define AIGW_AUTH_H

struct config;
struct db_session;
struct request;

struct identity {
    char api_key_id[37];
    char user_id[129];
    char group_id[129];
};

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING = -1,      /* no credential presented */
    AUTH_INVALID = -2,      /* unknown, revoked or malformed */
    AUTH_UNAVAILABLE = -3,  /* database down and nothing cached */
};

void auth_init(const struct config *cfg);
void auth_shutdown(void);
int auth_check(struct db_session *db, const struct request *r,
               struct identity *id);

#endif
