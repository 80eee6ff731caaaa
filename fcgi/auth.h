/* Authentication: API keys and JWTs into one identity.
 *
 * API keys: the presented key is hashed (SHA-256) before any lookup, so a
 * lookup is by the hash (constant time in the key's bytes); results are
 * cached in-process for auth.cache_ttl_ms, which bounds how long a revoked
 * key keeps working. JWTs: see auth_jwt.h. */
#ifndef AIGW_AUTH_H
#define AIGW_AUTH_H

struct config;
struct db_session;
struct json_object;
struct request;

enum identity_kind { ID_NONE = 0, ID_API_KEY, ID_JWT };

struct identity {
    char api_key_id[37];    /* "" for JWTs */
    char user_id[129];
    char group_id[129];     /* the accounting group */
    int kind;
    int admin;              /* admin key, or the JWT's admin claim */
    long long expires_ms;   /* key expiry (wall clock ms); 0: none */
    int model_scoped;       /* the key may use only scope_models */
    int route_scoped;       /* the key may use only scope_routes */
    char scope_models[1024];  /* '\n'-separated names or globs */
    char scope_routes[256];   /* '\n'-separated route names */
    char plan[33];            /* key metadata "plan" (plan.h); "" none */
    struct json_object *claims;  /* JWT claims; owned; NULL for keys */
    const char *group_claim;     /* JWT: the claim listing the caller's
                                    groups (config's; borrowed) */
};

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING = -1,      /* no credential presented */
    AUTH_INVALID = -2,      /* unknown, revoked or malformed */
    AUTH_UNAVAILABLE = -3,  /* database down and nothing cached */
    AUTH_BAD_TOKEN = -4,    /* a JWT that failed verification */
};

/* How a route authenticates (routes[].auth). */
enum route_auth {
    RA_API_KEY = 0,         /* "api_key" (default) */
    RA_JWT,                 /* "jwt" */
    RA_EITHER,              /* "either": an API key or a JWT */
    RA_OPTIONAL,            /* "optional": either, or anonymous */
    RA_OFF,                 /* "off": anonymous; credentials ignored */
};

void auth_init(const struct config *cfg);
void auth_shutdown(void);
/* API keys only (the historical entry point). */
int auth_check(struct db_session *db, const struct request *r,
               struct identity *id);
/* By the route's mode: API key, JWT or either. id is zeroed first; call
 * auth_identity_release() afterwards in every case. */
int auth_authenticate(struct db_session *db, const struct request *r,
                      int mode, struct identity *id);
void auth_identity_release(struct identity *id);
/* Whether id holds the admin role (for admin endpoints). */
int auth_is_admin(const struct identity *id);

#endif
