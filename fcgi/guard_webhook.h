/* Webhook guards in agentgateway's contract, and the small HTTP client the
 * guards share (one curl handle per thread, bounded in time).
 *   POST {url}/request  {"body":{"messages":[{"role","content"}...]}}
 *   POST {url}/response {"body":{"choices":[{"message":{...}}...]}}
 * The reply is {"action": A} where A is pass {"reason"?}, mask
 * {"body":{"messages"|"choices":[...]},"reason"?} or reject
 * {"body":"...","status_code":N,"reason"?} (untagged, as agentgateway's
 * serde enums; the tagged form {"pass"|"mask"|"reject": A} is accepted
 * too). */
#ifndef AIGW_GUARD_WEBHOOK_H
#define AIGW_GUARD_WEBHOOK_H

#include <stddef.h>

struct buf;
struct json_object;
struct usage_event;

struct guard_webhook {
    char *url;               /* base, no trailing / */
    long timeout_ms;         /* whole exchange */
    int fail_open;           /* on timeout/error: pass (1) or block (0) */
    int on_request, on_response;
    int identity;            /* send X-AIGW-User-Id/-Group-Id/-Request-Id */
    char **headers;          /* configured "Name: value" lines */
    size_t n_headers;
};

enum wh_verdict { WH_PASS, WH_MASK, WH_REJECT, WH_ERROR };

struct wh_result {
    enum wh_verdict verdict;
    int status;                  /* reject */
    char message[512];           /* reject body */
    struct json_object *body;    /* mask: the body object; caller puts */
};

int guard_webhook_load(struct json_object *o, struct guard_webhook **out,
                       char *err, size_t errsz);
void guard_webhook_free(struct guard_webhook *wh);

/* POSTs body (a JSON object's text) to {url}/{phase}. */
void guard_webhook_call(const struct guard_webhook *wh, const char *phase,
                        const char *body, size_t len,
                        const struct usage_event *ev, const char *request_id,
                        struct wh_result *res);

/* One bounded JSON POST on the thread's guard handle. hdrs: NULL-ended
 * "Name: value" lines. Returns the HTTP status, or -1 (timeout,
 * unreachable; *timed_out says which). resp gets the body. */
long guard_http_post(const char *url, const char *const *hdrs,
                     const char *body, size_t len, long timeout_ms,
                     struct buf *resp, int *timed_out);

#endif
