#include "auth_jwt.h"

#include <json-c/json.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "jsonutil.h"
#include "jwks.h"
#include "usage.h"
#include "xalloc.h"

#define JWT_DEFAULT_ALGS (JWA_RS256 | JWA_RS384 | JWA_RS512 | JWA_ES256 | \
                          JWA_ES384 | JWA_ES512)

struct jwt_settings {
    unsigned algs;              /* the allowlist */
    char *issuer;               /* NULL: not checked */
    char **audience;            /* any of these; NULL: not checked */
    size_t n_audience;
    long leeway_s;
    int require_exp;
    long max_token_bytes;
    struct jwks_source *jwks;   /* NULL when only an HS secret is set */
    struct jwk hs;              /* the HS secret; hs.pem NULL when none */
    char *user_claim, *group_claim, *account_group_claim;
    char *admin_claim, *admin_value;
};

static int str_list(json_object *v, char ***out, size_t *n)
{
    if (json_object_is_type(v, json_type_string)) {
        *out = xcalloc(1, sizeof(char *));
        (*out)[0] = xstrdup(json_object_get_string(v));
        *n = 1;
        return 0;
    }
    if (!json_object_is_type(v, json_type_array) ||
        json_object_array_length(v) == 0)
        return -1;
    *n = json_object_array_length(v);
    *out = xcalloc(*n, sizeof(char *));
    for (size_t i = 0; i < *n; i++) {
        json_object *s = json_object_array_get_idx(v, i);

        if (!json_object_is_type(s, json_type_string))
            return -1;
        (*out)[i] = xstrdup(json_object_get_string(s));
    }
    return 0;
}

static int load_algs(struct jwt_settings *js, json_object *o, char *err,
                     size_t errsz)
{
    json_object *v;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;

    js->algs = JWT_DEFAULT_ALGS;
    if (!json_object_object_get_ex(o, "algorithms", &v))
        return 0;
    if (str_list(v, &names, &n) < 0) {
        snprintf(err, errsz, "identity.jwt.algorithms: must be a list of "
                 "algorithm names");
        rc = -1;
    }
    js->algs = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned a = jwa_from_name(names[i]);

        if (a == 0) {
            snprintf(err, errsz, "identity.jwt.algorithms: \"%s\" is not "
                     "supported (none never is)", names[i]);
            rc = -1;
        }
        js->algs |= a;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int load_keys(struct jwt_settings *js, json_object *o, char *err,
                     size_t errsz)
{
    char e[256], *file = NULL, *url = NULL, *secret = NULL;
    const char *inline_json = NULL;
    long refresh = 300, refetch = 30000, stale = 86400, timeout = 3000;
    json_object *v;
    int rc = -1, sources;

    if (json_object_object_get_ex(o, "jwks", &v))
        inline_json = json_object_to_json_string_ext(v,
                                                     JSON_C_TO_STRING_PLAIN);
    if (config_opt_str(o, "jwks_file", &file, e, sizeof(e)) < 0 ||
        config_opt_str(o, "jwks_url", &url, e, sizeof(e)) < 0 ||
        config_opt_str(o, "hs_secret", &secret, e, sizeof(e)) < 0 ||
        config_opt_long(o, "jwks_refresh_s", 1, 86400 * 7, &refresh, e,
                        sizeof(e)) < 0 ||
        config_opt_long(o, "jwks_refetch_min_ms", 0, 3600000, &refetch, e,
                        sizeof(e)) < 0 ||
        config_opt_long(o, "jwks_max_stale_s", 1, 86400 * 30, &stale, e,
                        sizeof(e)) < 0 ||
        config_opt_long(o, "jwks_timeout_ms", 100, 60000, &timeout, e,
                        sizeof(e)) < 0) {
        snprintf(err, errsz, "identity.jwt.%s", e);
        goto out;
    }
    sources = (inline_json != NULL) + (file != NULL) + (url != NULL);
    if (sources > 1 || (sources == 0 && secret == NULL)) {
        snprintf(err, errsz, "identity.jwt: exactly one of jwks, jwks_file "
                 "or jwks_url is required (or hs_secret)");
        goto out;
    }
    if (secret != NULL) {
        if (strlen(secret) < 32) {
            snprintf(err, errsz, "identity.jwt.hs_secret: at least 32 "
                     "bytes");
            goto out;
        }
        js->hs.pem_len = strlen(secret);
        js->hs.pem = secret;
        js->hs.algs = JWA_HS_ALL & js->algs;
        secret = NULL;
        if (js->hs.algs == 0) {
            snprintf(err, errsz, "identity.jwt.hs_secret: list HS256, HS384 "
                     "or HS512 in algorithms to use it");
            goto out;
        }
    } else if (js->algs & JWA_HS_ALL) {
        snprintf(err, errsz, "identity.jwt.algorithms: HS* needs hs_secret");
        goto out;
    }
    if (sources == 1) {
        js->jwks = jwks_source_new(inline_json, file, url, refresh * 1000,
                                   refetch, stale * 1000, timeout, e,
                                   sizeof(e));
        if (js->jwks == NULL) {
            snprintf(err, errsz, "identity.jwt: %s", e);
            goto out;
        }
    }
    rc = 0;
out:
    free(file);
    free(url);
    free(secret);
    return rc;
}

static int load_claims(struct jwt_settings *js, json_object *o, char *err,
                       size_t errsz)
{
    char e[256];
    json_object *v;

    js->user_claim = xstrdup("sub");
    if (config_opt_str(o, "issuer", &js->issuer, e, sizeof(e)) < 0 ||
        config_opt_str(o, "user_claim", &js->user_claim, e, sizeof(e)) < 0 ||
        config_opt_str(o, "group_claim", &js->group_claim, e,
                       sizeof(e)) < 0 ||
        config_opt_str(o, "account_group_claim", &js->account_group_claim, e,
                       sizeof(e)) < 0 ||
        config_opt_str(o, "admin_claim", &js->admin_claim, e,
                       sizeof(e)) < 0 ||
        config_opt_str(o, "admin_value", &js->admin_value, e,
                       sizeof(e)) < 0 ||
        config_opt_long(o, "leeway_s", 0, 3600, &js->leeway_s, e,
                        sizeof(e)) < 0 ||
        config_opt_long(o, "max_token_bytes", 256, 65536,
                        &js->max_token_bytes, e, sizeof(e)) < 0) {
        snprintf(err, errsz, "identity.jwt.%s", e);
        return -1;
    }
    if (json_object_object_get_ex(o, "audience", &v) &&
        str_list(v, &js->audience, &js->n_audience) < 0) {
        snprintf(err, errsz, "identity.jwt.audience: a string or a list");
        return -1;
    }
    if (json_object_object_get_ex(o, "require_exp", &v))
        js->require_exp = json_object_get_boolean(v);
    if ((js->admin_claim == NULL) != (js->admin_value == NULL)) {
        snprintf(err, errsz, "identity.jwt: admin_claim and admin_value go "
                 "together");
        return -1;
    }
    return 0;
}

struct jwt_settings *jwt_settings_load(json_object *o, char *err,
                                       size_t errsz)
{
    struct jwt_settings *js = xcalloc(1, sizeof(*js));

    js->leeway_s = 30;
    js->require_exp = 1;
    js->max_token_bytes = 8192;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "identity.jwt: must be an object");
        goto fail;
    }
    if (load_algs(js, o, err, errsz) < 0 || load_claims(js, o, err,
                                                        errsz) < 0 ||
        load_keys(js, o, err, errsz) < 0)
        goto fail;
    return js;
fail:
    jwt_settings_free(js);
    return NULL;
}

void jwt_settings_free(struct jwt_settings *js)
{
    if (js == NULL)
        return;
    free(js->issuer);
    for (size_t i = 0; i < js->n_audience; i++)
        free(js->audience[i]);
    free(js->audience);
    jwks_source_free(js->jwks);
    if (js->hs.pem != NULL)
        memset(js->hs.pem, 0, js->hs.pem_len);
    free(js->hs.pem);
    free(js->user_claim);
    free(js->group_claim);
    free(js->account_group_claim);
    free(js->admin_claim);
    free(js->admin_value);
    free(js);
}

/* --- verification ------------------------------------------------------ */

int auth_jwt_looks_like(const char *tok, size_t len)
{
    size_t dots = 0;

    if (len < 5 || strncmp(tok, "eyJ", 3) != 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        dots += tok[i] == '.';
    return dots == 2;
}

/* Decodes one segment into a JSON object (caller puts) or NULL. */
static json_object *segment_json(const char *s, size_t len)
{
    unsigned char *raw = xmalloc(len * 3 / 4 + 3);
    long n = b64url_decode(s, len, raw);
    json_object *o = NULL;

    if (n > 0)
        o = jparse((const char *)raw, (size_t)n, NULL);
    free(raw);
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

struct verify {
    const char *tok;
    unsigned alg;
};

/* libjwt verifies tok with k (the algorithm was checked against k). */
static int try_key(const struct jwk *k, void *ud)
{
    struct verify *v = ud;
    jwt_t *j = NULL;
    int ok;

    ok = jwt_decode(&j, v->tok, (const unsigned char *)k->pem,
                    (int)k->pem_len) == 0 && j != NULL &&
         jwa_from_name(jwt_alg_str(jwt_get_alg(j))) == v->alg;
    jwt_free(j);
    return ok;
}

static int num_claim(json_object *c, const char *k, long long *out)
{
    json_object *v;

    if (!json_object_object_get_ex(c, k, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int) &&
        !json_object_is_type(v, json_type_double))
        return -1;
    *out = (long long)json_object_get_double(v);
    return 1;
}

static int aud_ok(const struct jwt_settings *js, json_object *c)
{
    json_object *v;
    size_t n;

    if (js->n_audience == 0)
        return 1;
    if (!json_object_object_get_ex(c, "aud", &v))
        return 0;
    n = json_object_is_type(v, json_type_array)
        ? json_object_array_length(v) : 1;
    for (size_t i = 0; i < n && i < 64; i++) {
        json_object *a = json_object_is_type(v, json_type_array)
                         ? json_object_array_get_idx(v, i) : v;

        if (!json_object_is_type(a, json_type_string))
            continue;
        for (size_t k = 0; k < js->n_audience; k++)
            if (strcmp(json_object_get_string(a), js->audience[k]) == 0)
                return 1;
    }
    return 0;
}

static const char *check_times(const struct jwt_settings *js,
                               json_object *c, long long now)
{
    long long t;
    int has;

    has = num_claim(c, "exp", &t);
    if (has < 0 || (has == 0 && js->require_exp))
        return "missing or invalid exp";
    if (has && now > t + js->leeway_s)
        return "expired";
    has = num_claim(c, "nbf", &t);
    if (has < 0 || (has && now + js->leeway_s < t))
        return "not yet valid (nbf)";
    has = num_claim(c, "iat", &t);
    if (has < 0 || (has && now + js->leeway_s < t))
        return "issued in the future (iat)";
    return NULL;
}

json_object *jwt_claim(json_object *claims, const char *path)
{
    json_object *cur = claims, *v;
    char seg[256];

    while (cur != NULL && json_object_is_type(cur, json_type_object)) {
        const char *dot;
        size_t n;

        if (json_object_object_get_ex(cur, path, &v))
            return v;                /* the rest of the path, whole */
        dot = strchr(path, '.');
        if (dot == NULL)
            return NULL;
        n = (size_t)(dot - path);
        if (n == 0 || n >= sizeof(seg))
            return NULL;
        memcpy(seg, path, n);
        seg[n] = '\0';
        if (!json_object_object_get_ex(cur, seg, &cur))
            return NULL;
        path = dot + 1;
    }
    return NULL;
}

/* A claim value as text: strings as they are, numbers printed. */
static int claim_text(json_object *v, char *out, size_t outsz)
{
    if (json_object_is_type(v, json_type_string))
        usage_set(out, outsz, json_object_get_string(v));
    else if (json_object_is_type(v, json_type_int))
        snprintf(out, outsz, "%lld", (long long)json_object_get_int64(v));
    else
        return -1;
    return *out ? 0 : -1;
}

int jwt_is_admin(const struct jwt_settings *js, json_object *claims)
{
    json_object *v;
    size_t n;

    if (js->admin_claim == NULL ||
        (v = jwt_claim(claims, js->admin_claim)) == NULL)
        return 0;
    if (json_object_is_type(v, json_type_string))
        return strcmp(json_object_get_string(v), js->admin_value) == 0;
    if (json_object_is_type(v, json_type_boolean))
        return json_object_get_boolean(v) &&
               strcmp(js->admin_value, "true") == 0;
    if (!json_object_is_type(v, json_type_array))
        return 0;
    n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);

        if (json_object_is_type(e, json_type_string) &&
            strcmp(json_object_get_string(e), js->admin_value) == 0)
            return 1;
    }
    return 0;
}

static void map_identity(const struct jwt_settings *js, json_object *c,
                         struct identity *id)
{
    json_object *g = NULL;

    if (js->account_group_claim != NULL)
        g = jwt_claim(c, js->account_group_claim);
    if (g == NULL && js->group_claim != NULL)
        g = jwt_claim(c, js->group_claim);
    if (g != NULL && json_object_is_type(g, json_type_array))
        g = json_object_array_length(g) > 0
            ? json_object_array_get_idx(g, 0) : NULL;
    if (g != NULL)
        claim_text(g, id->group_id, sizeof(id->group_id));
    id->admin = jwt_is_admin(js, c);
}

/* Header checks; the algorithm bit and the kid (borrowed from hdr). */
static const char *check_header(const struct jwt_settings *js,
                                json_object *hdr, unsigned *alg,
                                const char **kid)
{
    json_object *v;

    if (hdr == NULL)
        return "malformed header";
    *alg = jwa_from_name(jget_str(hdr, "alg"));
    if (*alg == 0 || (*alg & js->algs) == 0)
        return "algorithm not allowed";
    *kid = NULL;
    if (json_object_object_get_ex(hdr, "kid", &v)) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) == 0 ||
            json_object_get_string_len(v) >= 128)
            return "bad kid";
        *kid = json_object_get_string(v);
    }
    /* jku, x5u, x5c and jwk are deliberately never read */
    return NULL;
}

static int verify_sig(const struct jwt_settings *js, struct verify *v,
                      const char *kid)
{
    if (v->alg & JWA_HS_ALL)         /* only the configured secret */
        return js->hs.pem != NULL && (js->hs.algs & v->alg) &&
               try_key(&js->hs, v);
    if (js->jwks == NULL)
        return 0;
    return jwks_each(js->jwks, v->alg, kid, try_key, v);
}

int auth_jwt_check(const struct jwt_settings *js, const char *tok,
                   size_t len, long long now_s, struct identity *id,
                   const char **why)
{
    const char *d1, *d2, *kid = NULL;
    json_object *hdr = NULL, *claims = NULL, *u;
    struct verify v = { tok, 0 };
    int rc = AUTH_BAD_TOKEN, ok;

    *why = "malformed token";
    if (js == NULL) {
        *why = "JWT not configured";
        return AUTH_BAD_TOKEN;
    }
    if ((long)len > js->max_token_bytes) {
        *why = "token too large";
        return AUTH_BAD_TOKEN;
    }
    d1 = memchr(tok, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    if (d1 == NULL || d2 == NULL || d2 + 1 == tok + len ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
        return rc;
    hdr = segment_json(tok, (size_t)(d1 - tok));
    claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (claims == NULL)
        goto out;
    if ((*why = check_header(js, hdr, &v.alg, &kid)) != NULL)
        goto out;
    ok = verify_sig(js, &v, kid);
    if (ok <= 0) {
        *why = ok == JWKS_UNAVAILABLE ? "no signing keys available"
                                      : "bad signature or unknown key";
        rc = ok == JWKS_UNAVAILABLE ? AUTH_UNAVAILABLE : AUTH_BAD_TOKEN;
        goto out;
    }
    if ((*why = check_times(js, claims, now_s)) != NULL)
        goto out;
    *why = "wrong issuer";
    if (js->issuer != NULL && (jget_str(claims, "iss") == NULL ||
                               strcmp(jget_str(claims, "iss"),
                                      js->issuer) != 0))
        goto out;
    *why = "wrong audience";
    if (!aud_ok(js, claims))
        goto out;
    *why = "no user claim";
    u = jwt_claim(claims, js->user_claim);
    if (u == NULL || claim_text(u, id->user_id, sizeof(id->user_id)) < 0)
        goto out;
    map_identity(js, claims, id);
    id->group_claim = js->group_claim;
    id->kind = ID_JWT;
    id->claims = claims;
    claims = NULL;
    *why = NULL;
    rc = AUTH_OK;
out:
    json_object_put(hdr);
    json_object_put(claims);
    return rc;
}
