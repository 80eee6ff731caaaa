#include "../../fcgi/rbac.c"
#include "t.h"

#include "../../fcgi/jsonutil.h"
#include "../../fcgi/jwks.h"

#define OCT "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}"
#define SHORT_RSA "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}"

static struct rbac *load(const char *json)
{
    char err[256];
    json_object *o = json_tokener_parse(json);
    struct rbac *rb = rbac_load(o, err, sizeof(err));

    if (rb == NULL)
        printf("# %s\n", err);
    json_object_put(o);
    return rb;
}

int main(void)
{
    struct identity jwt = { .kind = ID_JWT, .user_id = "alice",
                            .group_id = "eng", .group_claim = "groups" };
    struct identity key = { .kind = ID_API_KEY, .user_id = "kim",
                            .group_id = "sales" };
    struct rbac *rb;
    unsigned char out[64];
    char err[128];
    struct jwk_set set;

    jwt.claims = json_tokener_parse(
        "{\"groups\":[\"eng\",\"ml\"],\"realm_access\":{\"roles\":"
        "[\"premium\"]},\"a.b\":\"dotted\",\"n\":7}");
    rb = load("{\"rules\":["
              "{\"routes\":\"sso\",\"models\":\"gpt-*\",\"any\":["
              "{\"field\":\"groups\",\"contains\":\"ml\"}]},"
              "{\"effect\":\"deny\",\"models\":\"o3\",\"all\":["
              "{\"claim\":\"realm_access.roles\",\"contains\":\"premium\"},"
              "{\"field\":\"user_id\",\"regex\":\"^al\"}]},"
              "{\"routes\":\"ops\",\"any\":[{\"field\":\"auth\","
              "\"equals\":\"api_key\"}]}]}");
    T_OK(rb != NULL, "rules load");
    T_OK(rbac_allow_model(rb, &jwt, "sso", "b", "gpt-4o"), "groups array");
    T_OK(!rbac_allow_model(rb, &key, "sso", "b", "gpt-4o"),
         "key group not in the rule: denied");
    T_OK(rbac_allow_model(rb, &key, "v1", "b", "gpt-4o"),
         "rule on another route: default allow");
    T_OK(!rbac_allow_model(rb, &jwt, "v1", "b", "o3"), "deny with all");
    T_OK(rbac_allow_model(rb, &key, "v1", "b", "o3"), "deny not holding");
    T_OK(!rbac_allow_route(rb, &jwt, "ops"), "route rule: JWT denied");
    T_OK(rbac_allow_route(rb, &key, "ops"), "route rule: key allowed");
    T_OK(rbac_allow_route(rb, &jwt, "sso"), "model rules wait for the model");
    rbac_free(rb);
    rb = load("{\"default\":\"deny\",\"rules\":[{\"models\":\"a\"}]}");
    T_OK(rb && !rbac_allow_model(rb, &key, "r", "b", "z"), "default deny");
    T_OK(rb && rbac_allow_model(rb, &key, "r", "b", "a"), "allow rule");
    rbac_free(rb);
    T_OK(load("{\"rules\":[{\"any\":[{\"field\":\"nope\","
              "\"equals\":\"x\"}]}]}") == NULL, "unknown field refused");
    T_OK(load("{\"rules\":[{\"any\":[{\"claim\":\"x\",\"regex\":\"(\"}]}]}")
         == NULL, "bad regex refused");
    T_OK(load("{\"rules\":[{\"effect\":\"maybe\"}]}") == NULL,
         "bad effect refused");

    key.model_scoped = 1;
    snprintf(key.scope_models, sizeof(key.scope_models), "mock-gpt\nclaude-*");
    T_OK(rbac_allow_model(NULL, &key, "r", "b", "claude-x"), "scope glob");
    T_OK(!rbac_allow_model(NULL, &key, "r", "b", "gpt-4o"), "out of scope");
    key.route_scoped = 1;
    key.scope_routes[0] = '\0';
    T_OK(!rbac_allow_route(NULL, &key, "r"), "empty route scope: nothing");

    T_EQ_STR(json_object_get_string(jwt_claim(jwt.claims, "a.b")), "dotted",
             "claim with a dot in its name");
    T_OK(jwt_claim(jwt.claims, "realm_access.roles") != NULL,
         "nested claim");
    T_OK(jwt_claim(jwt.claims, "realm_access.nope.x") == NULL,
         "missing nested claim");
    T_EQ_INT(b64url_decode("aGk", 3, out), 2, "b64url without padding");
    T_EQ_INT(b64url_decode("aG+k", 4, out), -1, "standard alphabet refused");
    T_EQ_INT(b64url_decode("a", 1, out), -1, "impossible length refused");
    T_EQ_INT(jwa_from_name("none"), 0, "alg none unknown");
    T_EQ_INT(jwa_from_name("rs256"), 0, "alg names are case-sensitive");
    T_EQ_INT(jwks_parse(OCT, strlen(OCT), &set, err, sizeof(err)), 0,
             "symmetric JWKs are never taken");
    T_EQ_INT(jwks_parse(SHORT_RSA, strlen(SHORT_RSA), &set, err,
                        sizeof(err)), 0,
             "short RSA keys are refused");
    T_EQ_INT(jwks_parse("[1", 2, &set, err, sizeof(err)), -1,
             "malformed JWKS");
    json_object_put(jwt.claims);
    return t_done();
}
