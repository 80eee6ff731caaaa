#include <json-c/json.h>

#include "../../fcgi/usage.c"
#include "t.h"

int main(void)
{
    struct usage_event ev;
    struct buf b = BUF_INIT(1 << 16);
    json_object *o, *v;

    usage_event_init(&ev);
    ev.request_id = "01a2150f-d67f-702c-8326-04c67d273649";
    ev.ts_unix_us = 1795649689123456LL;
    usage_set(ev.user_id, sizeof(ev.user_id), "al\"ice\n");
    ev.route = "default";
    ev.http_status = 200;
    ev.prompt_tokens = 10;
    ev.completion_tokens = 5;
    ev.total_tokens = 15;
    ev.has_usage = 1;
    usage_event_json(&ev, &b);
    o = json_tokener_parse(b.ptr);
    T_OK(o != NULL, "ledger line is JSON");
    T_EQ_STR(json_object_get_string(json_object_object_get(o, "ts")),
             "2026-11-25T23:34:49.123456Z", "RFC 3339 UTC with microseconds");
    T_EQ_STR(json_object_get_string(json_object_object_get(o, "user_id")),
             "al\"ice\n", "strings escaped");
    T_OK(json_object_object_get_ex(o, "api_key_id", &v) && v == NULL,
         "empty fields are null");
    T_EQ_STR(json_object_get_string(json_object_object_get(o,
                                                           "usage_source")),
             "provider", "usage source");
    T_OK(json_object_is_type(json_object_object_get(o, "ttft_ms"),
                             json_type_null), "no ttft when not streamed");
    json_object_put(o);

    {
        /* the timestamp formatter against gmtime_r + strftime */
        static const int64_t secs[] = { 0, 951782400, 951868799, 1709164800,
                                        4107542400LL, 4102444799LL,
                                        253402300799LL, 1795649689 };
        int same = 1;

        for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
            struct buf t = BUF_INIT(128);
            char want[64], day[32];
            time_t tt = (time_t)secs[i];
            struct tm tm;

            gmtime_r(&tt, &tm);
            strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(want, sizeof(want), "\"%s.%06ldZ\"", day,
                     (long)(i * 37));
            add_ts(&t, secs[i] * 1000000 + (int64_t)i * 37);
            if (t.ptr == NULL || strcmp(t.ptr, want) != 0) {
                same = 0;
                printf("# %s != %s\n", t.ptr ? t.ptr : "(null)", want);
            }
            buf_release(&t);
        }
        T_OK(same, "timestamps match gmtime_r (leap days, centuries)");
    }
    {
        /* one pass for both lines gives what the two functions give */
        struct buf l1 = BUF_INIT(1 << 16), l2 = BUF_INIT(1 << 16);
        struct buf g1 = BUF_INIT(1 << 16), g2 = BUF_INIT(1 << 16);

        ev.ttft_ms = 12;
        ev.stream = 1;
        ev.upstream_status = 200;
        ev.error_type = "x\"y";
        ev.total_tokens = -3;
        usage_event_json(&ev, &l1);
        usage_event_log_json(&ev, "POST", "/v1/chat/completions", &g1);
        usage_event_lines(&ev, "POST", "/v1/chat/completions", &l2, &g2);
        T_EQ_STR(l2.ptr, l1.ptr, "ledger line from the shared pass");
        T_EQ_STR(g2.ptr, g1.ptr, "log line from the shared pass");
        buf_reset(&g2);
        usage_event_lines(&ev, "GET", "/v1/models", NULL, &g2);
        T_OK(strstr(g2.ptr, "\"method\":\"GET\"") != NULL &&
             strstr(g2.ptr, "\"total_tokens\":-3,") != NULL,
             "log line alone; negative numbers");
        buf_release(&l1);
        buf_release(&l2);
        buf_release(&g1);
        buf_release(&g2);
    }
    {
        char small[4];
        usage_set(small, sizeof(small), "abcdef");
        T_EQ_STR(small, "abc", "usage_set truncates");
        usage_set(small, sizeof(small), NULL);
        T_EQ_STR(small, "", "usage_set NULL");
    }
    buf_release(&b);
    return t_done();
}
