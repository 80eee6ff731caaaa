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
        char small[4];
        usage_set(small, sizeof(small), "abcdef");
        T_EQ_STR(small, "abc", "usage_set truncates");
        usage_set(small, sizeof(small), NULL);
        T_EQ_STR(small, "", "usage_set NULL");
    }
    buf_release(&b);
    return t_done();
}
