#include <json-c/json.h>

#include "../../fcgi/trace.c"
#include "t.h"

int main(void)
{
    char tid[33], pid[17], hdr[96];
    unsigned char fl = 0;
    struct usage_event ev;
    struct buf b = BUF_INIT(1 << 16);
    json_object *o;

    T_EQ_INT(trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
                         "-01", tid, pid, &fl), 0, "valid traceparent");
    T_EQ_STR(tid, "4bf92f3577b34da6a3ce929d0e0e4736", "trace id");
    T_EQ_STR(pid, "00f067aa0ba902b7", "parent id");
    T_EQ_INT(fl, 1, "sampled flag");
    T_EQ_INT(trace_parse("00-00000000000000000000000000000000-00f067aa0ba902b7"
                         "-01", tid, pid, &fl), -1, "zero trace id");
    T_EQ_INT(trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000"
                         "-01", tid, pid, &fl), -1, "zero parent id");
    T_EQ_INT(trace_parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7"
                         "-01", tid, pid, &fl), -1, "uppercase hex");
    T_EQ_INT(trace_parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
                         "-01", tid, pid, &fl), -1, "version ff");
    T_EQ_INT(trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
                         "-01-x", tid, pid, &fl), -1, "v00 with extra fields");
    T_EQ_INT(trace_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
                         "-01-what", tid, pid, &fl), 0, "future version parsed");
    T_EQ_INT(trace_parse("00-4bf92f", tid, pid, &fl), -1, "truncated");
    T_EQ_INT(trace_parse("", tid, pid, &fl), -1, "empty");
    T_EQ_INT(trace_parse(NULL, tid, pid, &fl), -1, "absent");

    usage_event_init(&ev);
    trace_begin(&ev, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    T_EQ_STR(ev.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", "trace continued");
    T_OK(strlen(ev.span_id) == 16 && strcmp(ev.span_id, ev.parent_span_id),
         "a new span for the gateway");
    trace_header(&ev, hdr, sizeof(hdr));
    T_OK(strncmp(hdr, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-", 49)
         == 0 && strcmp(hdr + 65, "-00") == 0, "upstream header keeps flags");
    usage_event_init(&ev);
    trace_begin(&ev, "garbage\r\nX-Injected: 1");
    T_OK(strlen(ev.trace_id) == 32 && ev.parent_span_id[0] == '\0' &&
         ev.trace_flags == 1, "invalid header: a new sampled trace");

    ev.request_id = "01a2150f-d67f-702c-8326-04c67d273649";
    ev.ts_unix_us = 1795649689123456LL;
    ev.operation = "chat";
    ev.provider = "openai";
    usage_set(ev.requested_model, sizeof(ev.requested_model), "m\"x");
    usage_set(ev.user_id, sizeof(ev.user_id), "alice");
    ev.prompt_tokens = 7;
    ev.completion_tokens = 2;
    ev.http_status = 502;
    ev.error_type = "upstream_unreachable";
    trace_span_json(&ev, "POST", 1795649689223456LL, &b);
    o = json_tokener_parse(b.ptr);
    T_OK(o != NULL, "span is JSON");
    T_EQ_STR(json_object_get_string(json_object_object_get(o, "name")),
             "chat m\"x", "span name: operation and model");
    T_EQ_STR(json_object_get_string(json_object_object_get(o,
             "endTimeUnixNano")), "1795649689223456000", "end time in ns");
    T_EQ_INT(json_object_get_int(json_object_object_get(
             json_object_object_get(o, "status"), "code")), 2, "error status");
    T_OK(strstr(b.ptr, "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":"
                "{\"intValue\":\"7\"}}") != NULL, "input tokens attribute");
    json_object_put(o);
    buf_release(&b);
    return t_done();
}
