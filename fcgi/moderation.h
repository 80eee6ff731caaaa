/* OpenAI's moderation endpoint as a request guard: POST {url}/moderations
 * {"model","input"}; flagged categories reject by name. */
#ifndef AIGW_MODERATION_H
#define AIGW_MODERATION_H

#include <stddef.h>

struct json_object;

struct guard_moderation {
    char *url;               /* e.g. https://api.openai.com/v1 */
    char *api_key;           /* never logged */
    char *model;             /* default omni-moderation-latest */
    long timeout_ms;
    int fail_open;
    int status;              /* reject status, default 400 */
};

int moderation_load(struct json_object *o, struct guard_moderation **out,
                    char *err, size_t errsz);
void moderation_free(struct guard_moderation *m);

/* 0: not flagged; 1: flagged, the categories (comma-separated) in cats;
 * -1: the check failed (unreachable, timeout, bad reply). */
int moderation_check(const struct guard_moderation *m, const char *text,
                     size_t n, char *cats, size_t catsz);

#endif
