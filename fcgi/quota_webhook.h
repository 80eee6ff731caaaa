/* Threshold webhook: quota_threshold events (quota.c) POSTed as JSON to
 * quotas.threshold_webhook by one background thread per process, each
 * call bounded by quotas.threshold_webhook_timeout_ms. Posting only
 * queues a copy (a bounded queue; when full the event is dropped with a
 * warning): a slow or dead receiver never delays or fails a request. */
#ifndef AIGW_QUOTA_WEBHOOK_H
#define AIGW_QUOTA_WEBHOOK_H

#include <stddef.h>

struct quota_settings;

/* Queues event (a JSON object, copied) for q->threshold_webhook. */
void quota_webhook_post(const struct quota_settings *q, const char *event,
                        size_t len);

#endif
