/* POST {route}/chat/completions: validate, call the route's backend
 * through its provider, relay the answer or the stream, count usage. */
#ifndef AIGW_CHAT_H
#define AIGW_CHAT_H

struct json_object;
struct request;
struct route;

struct chat_params {
    const char *model;       /* borrowed from the parsed request */
    int stream;
    int client_usage;        /* stream_options.include_usage asked */
};

/* Checks the request's shape. Returns 0, or -1 with a message for the
 * client in *why and the offending field in *param. */
int chat_validate(struct json_object *req, struct chat_params *p,
                  const char **why, const char **param);
void chat_handle(struct request *r, const struct route *rt);

#endif
