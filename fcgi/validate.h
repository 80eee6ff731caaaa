/* Shape checks of unified (OpenAI) requests, before any provider sees
 * them. */
#ifndef AIGW_VALIDATE_H
#define AIGW_VALIDATE_H

struct json_object;

struct chat_params {
    const char *model;       /* borrowed from the parsed request */
    int stream;
    int client_usage;        /* stream_options.include_usage asked */
};

/* Checks the request's shape. Returns 0, or -1 with a message for the
 * client in *why and the offending field in *param. */
int chat_validate(struct json_object *req, struct chat_params *p,
                  const char **why, const char **param);
int embed_validate(struct json_object *req, struct chat_params *p,
                   const char **why, const char **param);

#endif
