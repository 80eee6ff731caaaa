/* Distributed tracing: the W3C trace context (traceparent) of a request,
 * propagated to the provider, and one span per request exported with
 * OTLP/HTTP (JSON) to a collector by a background thread, in batches, off
 * the request's path. The span carries the OpenTelemetry GenAI attributes
 * (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
 * gen_ai.response.model, gen_ai.usage.input_tokens/output_tokens) and the
 * caller's identity (api key, user, group). */
#ifndef AIGW_TRACE_H
#define AIGW_TRACE_H

#include <stddef.h>

struct buf;
struct config;
struct usage_event;

/* Starts the exporter when observability.otlp_endpoint is set. */
int trace_start(const struct config *cfg);
/* Exports what is queued (bounded by the timeout), then stops. */
void trace_stop(void);

/* Fills ev's trace context from the client's traceparent header (NULL or
 * invalid: a new trace, sampled) and a new span id for the gateway. */
void trace_begin(struct usage_event *ev, const char *traceparent);
/* "traceparent: 00-<trace>-<span>-<flags>" for the provider request,
 * naming the gateway's span as the parent. out: at least 80 bytes. */
void trace_header(const struct usage_event *ev, char *out, size_t outsz);
/* Queues the settled request's span (sampled traces only); never waits.
 * method/path: the client's request line, for attributes. */
void trace_export(const struct usage_event *ev, const char *method);

/* Parses a traceparent value: 0 and the fields (lowercase hex), or -1. */
int trace_parse(const char *s, char trace_id[33], char parent_id[17],
                unsigned char *flags);
/* Appends one OTLP JSON span object for ev ending at end_unix_us. */
void trace_span_json(const struct usage_event *ev, const char *method,
                     long long end_unix_us, struct buf *out);

#endif
