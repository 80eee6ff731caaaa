#include <json-c/json.h>
#include <stdlib.h>

#include "../../fcgi/metrics.c"
#include "t.h"

static struct usage_event ev_for(const char *key, const char *model)
{
    struct usage_event ev;

    usage_event_init(&ev);
    ev.request_id = "01a2150f-d67f-702c-8326-04c67d273649";
    usage_set(ev.api_key_id, sizeof(ev.api_key_id), key);
    usage_set(ev.user_id, sizeof(ev.user_id), "u\"1\\\n");
    usage_set(ev.group_id, sizeof(ev.group_id), "g1");
    usage_set(ev.requested_model, sizeof(ev.requested_model), model);
    ev.route = "default";
    ev.provider = "openai";
    ev.backend = "mock";
    ev.operation = "chat";
    ev.http_status = 200;
    ev.prompt_tokens = 10;
    ev.completion_tokens = 3;
    ev.latency_ms = 150;
    ev.stream = 1;
    ev.ttft_ms = 42;
    ev.cost_pusd = 1500000;
    return ev;
}

static int has(const struct buf *b, const char *s)
{
    return b->ptr != NULL && strstr(b->ptr, s) != NULL;
}

int main(void)
{
    char dir[] = "/tmp/aigw-metrics-XXXXXX", path[128], err[256];
    struct config *cfg;
    struct buf b = BUF_INIT(1 << 24);
    struct usage_event ev;
    struct hdr *second;
    char text[1024];

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof(path), "%s/m.shm", dir);
    snprintf(text, sizeof(text),
             "{\"database\":{\"conninfo\":\"x\"},\"backends\":[{\"name\":\"b\","
             "\"base_url\":\"http://x\"}],\"routes\":[{\"prefix\":\"/v1\","
             "\"backend\":\"b\"}],\"observability\":{\"metrics_shm\":\"%s\","
             "\"max_series\":64,\"max_label_sets\":3}}", path);
    cfg = config_parse(text, "t.json", err, sizeof(err));
    T_OK(cfg != NULL, "config with an observability section");
    if (cfg == NULL)
        return t_done();
    T_EQ_INT(metrics_init(cfg, 4), 0, "segment created");
    metrics_request_begin();
    ev = ev_for("k1", "mock-gpt");
    metrics_observe(&ev);
    metrics_observe(&ev);
    metrics_render(&b);
    T_OK(has(&b, "aigw_requests_total{route=\"default\",provider=\"openai\","
                 "model=\"mock-gpt\",status=\"200\"} 2\n"), "requests counted");
    T_OK(has(&b, "tokens_consumed_total{api_key_id=\"k1\",user_id=\"u\\\"1\\\\"
                 "\\n\",group_id=\"g1\",model=\"mock-gpt\",type=\"input\"} 20"),
         "tokens by identity, label values escaped");
    T_OK(has(&b, "gen_ai_server_request_duration_seconds_bucket{gen_ai_operation"
                 "_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_"
                 "model=\"mock-gpt\",error_type=\"\",le=\"0.16\"} 2"),
         "duration histogram: 150 ms in the 0.16 s bucket");
    T_OK(has(&b, "gen_ai_server_time_to_first_token_seconds_sum{gen_ai_"
                 "operation_name=\"chat\",gen_ai_provider_name=\"openai\","
                 "gen_ai_request_model=\"mock-gpt\"} 0.084"), "ttft sum in s");
    T_OK(has(&b, "aigw_cost_usd_total{group_id=\"g1\",model=\"mock-gpt\"} "
                 "0.000003000000"), "cost exact in USD");
    T_OK(has(&b, "aigw_requests_in_flight 1\n"), "in-flight gauge");
    T_OK(has(&b, "aigw_worker_threads 4\n"), "threads gauge");

    /* a second process maps the same file and adds to the same series */
    second = map_file(path, 64, 3, 1);
    T_OK(second != NULL && second != shm, "a second mapping of the file");
    if (second != NULL) {
        struct hdr *first = shm;

        shm = second;
        metrics_observe(&ev);
        shm = first;
    }
    buf_reset(&b);
    metrics_render(&b);
    T_OK(has(&b, "model=\"mock-gpt\",status=\"200\"} 3\n"),
         "counts from both mappings in one view");

    /* the label-set cap: further keys go to the overflow series */
    for (int i = 0; i < 20; i++) {
        char k[16];

        snprintf(k, sizeof(k), "key%d", i);
        ev = ev_for(k, "mock-gpt");
        metrics_observe(&ev);
    }
    buf_reset(&b);
    metrics_render(&b);
    T_OK(has(&b, "tokens_consumed_total{overflow=\"true\"} "),
         "overflow series once the cap is reached");
    T_OK(has(&b, "aigw_metrics_series{family=\"tokens_consumed_total\"} 3\n"),
         "the family holds at most max_label_sets series");
    T_OK(!has(&b, "key19"), "capped keys are not label values");

    /* hostile label values: invalid UTF-8, controls, overlong */
    ev = ev_for("\xff\xfe\x01zz", "mock-gpt");
    usage_set(ev.group_id, sizeof(ev.group_id),
              "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééé");
    ev.route = "r\xc3";
    metrics_observe(&ev);
    buf_reset(&b);
    metrics_render(&b);
    T_OK(has(&b, "route=\"r?\""), "invalid UTF-8 replaced");
    T_OK(!has(&b, "\xff"), "no invalid bytes in the exposition");
    /* quota gauges: set, not added; the latest settlement wins */
    metrics_quota("group", "mkt", NULL, "total_tokens", "month", 400, 1000);
    metrics_quota("group", "mkt", NULL, "total_tokens", "month", 850, 1000);
    metrics_quota("api_key", "k\"1", "gpt-x", "requests", "day", 3, 0);
    buf_reset(&b);
    metrics_render(&b);
    T_OK(has(&b, "aigw_quota_used{subject_kind=\"group\",subject=\"mkt\","
                 "model=\"*\",unit=\"total_tokens\",period=\"month\"} 850\n"),
         "quota used gauge");
    T_OK(has(&b, "aigw_quota_limit{subject_kind=\"group\",subject=\"mkt\","
                 "model=\"*\",unit=\"total_tokens\",period=\"month\"} 1000\n"),
         "quota limit gauge");
    T_OK(has(&b, "aigw_quota_used_ratio{subject_kind=\"group\",subject=\"mkt"
                 "\",model=\"*\",unit=\"total_tokens\",period=\"month\"} "
                 "0.850000\n"), "quota ratio gauge");
    T_OK(has(&b, "subject=\"k\\\"1\",model=\"gpt-x\",unit=\"requests\","
                 "period=\"day\"} +Inf\n"), "ratio of a zero allowance");
    T_OK(has(&b, "# TYPE aigw_quota_used gauge\n"), "typed as a gauge");
    for (int i = 0; i < 10; i++) {
        char subj[16];

        snprintf(subj, sizeof(subj), "grp%d", i);
        metrics_quota("group", subj, NULL, "requests", "month", 1, 2);
    }
    buf_reset(&b);
    metrics_render(&b);
    T_OK(!has(&b, "aigw_quota_used{overflow"), "no overflow gauge");
    T_OK(has(&b, "aigw_metrics_overflow_total{family=\"aigw_quota\"} 9\n"),
         "quota label sets beyond the cap are counted as overflow");

    /* 429s by code; ledger state; saturation */
    ev = ev_for("k1", "mock-gpt");
    ev.http_status = 429;
    ev.error_type = "quota_exceeded";
    metrics_observe(&ev);
    metrics_ledger_state(7, 1, 0);
    metrics_ledger_spooled(5);
    buf_reset(&b);
    metrics_render(&b);
    T_OK(has(&b, "aigw_rate_limit_rejections_total{route=\"default\","
                 "code=\"quota_exceeded\"} 1\n"), "429s counted by code");
    T_OK(has(&b, "aigw_ledger_queued_events 7\n"), "ledger queue gauge");
    T_OK(has(&b, "aigw_ledger_spooling 1\n"),
         "ledger spooling gauge");
    T_OK(has(&b, "aigw_ledger_failing 0\n"), "ledger failing gauge");
    T_OK(has(&b, "aigw_ledger_spooled_events_total 5\n"), "spooled counter");
    {
        char want[96];

        snprintf(want, sizeof(want), "aigw_worker_process_threads_busy{pid="
                 "\"%d\"} 1\n", (int)getpid());
        T_OK(has(&b, want), "busy threads per process");
    }
    for (int i = 0; i < 3; i++)
        metrics_request_begin();
    buf_reset(&b);
    metrics_render(&b);
    T_OK(has(&b, "aigw_worker_all_busy_total 1\n"),
         "taking the last free thread is counted");
    for (int i = 0; i < 3; i++)
        metrics_request_end();
    metrics_request_end();
    buf_release(&b);
    config_free(cfg);
    unlink(path);
    rmdir(dir);
    return t_done();
}
