/* quota_units.c: every unit's amount, weights and per-model multipliers,
 * dollar limits; the quotas/plans config (units, degrade, plans). */
#include "../../fcgi/quota_units.c"
#include "t.h"

#include "../../fcgi/config.h"
#include "../../fcgi/plan.h"
#include "../../fcgi/quotacfg.h"

#define BASE "\"database\":{\"conninfo\":\"x\"},\"backends\":[{\"name\":" \
    "\"b\",\"base_url\":\"http://x/v1\"}],\"routes\":[{\"prefix\":" \
    "\"/v1\",\"backend\":\"b\"}]"

static void test_names(void)
{
    T_EQ_STR(quota_unit_name(QU_WEIGHTED), "weighted_tokens", "name");
    T_EQ_STR(quota_unit_name(QU_USD), "usd", "usd name");
    T_EQ_STR(quota_unit_name(99), "?", "unknown unit");
    T_EQ_INT(quota_unit_of("usd"), QU_USD, "usd by name");
    T_EQ_INT(quota_unit_of("total_tokens"), QU_TOTAL, "total by name");
    T_EQ_INT(quota_unit_of("dollars"), -1, "unknown name");
}

static void test_plain(void)
{
    quota_units_bind(NULL);
    T_EQ_INT(quota_amount(QU_REQUESTS, "m", 10, 0, 5, 1), 1, "requests");
    T_EQ_INT(quota_amount(QU_INPUT, "m", 10, 4, 5, 1), 10, "input");
    T_EQ_INT(quota_amount(QU_OUTPUT, "m", 10, 4, 5, 1), 5, "output");
    T_EQ_INT(quota_amount(QU_TOTAL, "m", 10, 4, 5, 1), 15, "total");
    T_EQ_INT(quota_amount(QU_WEIGHTED, "m", 10, 4, 5, 1), 15,
             "weighted, unbound: plain total");
    T_EQ_INT(quota_amount(QU_USD, "unpriced", 10, 0, 5, 1), 0,
             "usd of a model without a price: 0");
}

static void test_weighted(void)
{
    struct quota_weights w = { 0 };
    char err[256] = "";
    json_object *q = json_tokener_parse(
        "{\"weights\":{\"input\":1,\"cached_input\":0.25,\"output\":3},"
        "\"model_multipliers\":{\"gpt-4*\":10,\"mini\":0.5}}");

    T_EQ_INT(quota_weights_load(&w, q, err, sizeof(err)), 0, "loads");
    quota_units_bind(&w);
    /* (100-40)*1 + 40*0.25 + 10*3 = 60 + 10 + 30 = 100 */
    T_EQ_INT(quota_amount(QU_WEIGHTED, "other", 100, 40, 10, 1), 100,
             "per-type weights, cached input cheaper");
    T_EQ_INT(quota_amount(QU_WEIGHTED, "gpt-4o", 100, 40, 10, 1), 1000,
             "a glob's multiplier");
    T_EQ_INT(quota_amount(QU_WEIGHTED, "mini", 3, 0, 0, 1), 2,
             "fractions round up (1.5 -> 2)");
    T_EQ_INT(quota_amount(QU_TOTAL, "gpt-4o", 100, 40, 10, 1), 110,
             "other units ignore weights");
    T_EQ_INT(quota_amount(QU_WEIGHTED, "other", 10, 50, 0, 1), 3,
             "cached above input is clamped");
    quota_units_bind(NULL);
    quota_weights_release(&w);
    json_object_put(q);
    q = json_tokener_parse("{\"weights\":{\"input\":2}}");
    T_EQ_INT(quota_weights_load(&w, q, err, sizeof(err)), 0, "loads");
    T_EQ_INT(w.cached_milli, 2000, "cached input weighs as input by default");
    T_EQ_INT(w.output_milli, 1000, "unset weight: 1");
    json_object_put(q);
    q = json_tokener_parse("{\"weights\":{\"prompt\":2}}");
    T_EQ_INT(quota_weights_load(&w, q, err, sizeof(err)), -1,
             "unknown weight refused");
    T_OK(strstr(err, "prompt") != NULL, "the error names it");
    json_object_put(q);
    q = json_tokener_parse("{\"model_multipliers\":{\"x\":-1}}");
    T_EQ_INT(quota_weights_load(&w, q, err, sizeof(err)), -1,
             "negative multiplier refused");
    quota_weights_release(&w);
    json_object_put(q);
}

static void test_limit_values(void)
{
    json_object *d = json_object_new_double(12.5);
    json_object *i = json_object_new_int64(7);

    T_EQ_INT(quota_limit_value(QU_USD, d), 12500000, "dollars to micro-USD");
    T_EQ_INT(quota_limit_value(QU_USD, i), 7000000, "whole dollars");
    T_EQ_INT(quota_limit_value(QU_TOTAL, i), 7, "tokens as is");
    T_EQ_INT(quota_limit_value(QU_TOTAL, d), -1, "tokens need an integer");
    json_object_put(d);
    json_object_put(i);
}

static void test_config(void)
{
    char err[256] = "";
    struct config *c = config_parse(
        "{" BASE ",\"quotas\":{\"weights\":{\"output\":4},\"limits\":[{"
        "\"name\":\"spend\",\"unit\":\"usd\",\"window\":\"hour\",\"limit\":"
        "2.5,\"degrade\":{\"at_pct\":80,\"model\":\"cheap\"}}]},"
        "\"plans\":{\"default\":\"free\",\"claim\":\"tier\",\"header\":"
        "\"X-Aigw-Plan\",\"tiers\":{\"free\":{\"models\":[\"mini*\"],"
        "\"limits\":[{\"unit\":\"weighted_tokens\",\"limit\":100}]},"
        "\"pro\":{}}}}", "t", err, sizeof(err));

    T_OK(c != NULL, "units, degrade and plans parse");
    if (c != NULL) {
        const struct quota_settings *q = c->quotas;

        T_EQ_INT(q->n_limits, 2, "the section's limit and the plan's");
        T_EQ_INT(q->limits[0].unit, QU_USD, "usd");
        T_EQ_INT(q->limits[0].limit, 2500000, "limit in micro-USD");
        T_EQ_INT(q->limits[0].degrade_pct, 80, "degrade share");
        T_EQ_STR(q->limits[0].degrade_model, "cheap", "degrade model");
        T_OK(q->limits[0].plan == NULL, "for everyone");
        T_EQ_STR(q->limits[1].plan, "free", "plan limit");
        T_OK(q->limits[1].seed != q->limits[0].seed, "own counters");
        T_EQ_INT(q->weights.output_milli, 4000, "weights");
        T_EQ_INT(q->plans.n, 2, "two tiers");
        T_EQ_STR(q->plans.header, "HTTP_X_AIGW_PLAN", "header as CGI name");
        T_EQ_STR(q->plans.default_plan, "free", "default plan");
        T_OK(plan_find(&q->plans, "free")->has_models &&
             !plan_find(&q->plans, "pro")->has_models, "models lists");
    }
    config_free(c);
    c = config_parse("{" BASE ",\"plans\":{\"default\":\"gold\",\"tiers\":"
                     "{\"free\":{}}}}", "t", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "gold") != NULL, "unknown default refused");
    config_free(c);
    c = config_parse("{" BASE ",\"plans\":{\"tiers\":{\"free\":{\"limits\":"
                     "[{\"unit\":\"euro\",\"limit\":1}]}}}}", "t", err,
                     sizeof(err));
    T_OK(c == NULL && strstr(err, "plans.tiers.free.limits[0]") != NULL,
         "a plan's bad limit names its place");
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{\"limits\":[{\"limit\":5,"
                     "\"degrade\":{\"at_pct\":80}}]}}", "t", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "degrade") != NULL,
         "degrade without an action refused");
    config_free(c);
    c = config_parse("{" BASE ",\"quotas\":{\"limits\":[{\"unit\":\"usd\","
                     "\"limit\":5000}]}}", "t", err, sizeof(err));
    T_OK(c == NULL && strstr(err, "dollars") != NULL,
         "local usd limit above the counter's range refused");
    config_free(c);
}

int main(void)
{
    test_names();
    test_plain();
    test_weighted();
    test_limit_values();
    test_config();
    return t_done();
}
