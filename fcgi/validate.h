/* Shape checks of unified (OpenAI) requests, before any provider sees
 * them. */
#ifndef AIGW_VALIDATE_H
#define AIGW_VALIDATE_H

struct json_object;
struct jspan;

#define MODEL_NAME_MAX 128

struct chat_params {
    const char *model;       /* borrowed from the parsed request, or
                                model_buf (the _scan forms) */
    int stream;
    int client_usage;        /* stream_options.include_usage asked */
    char model_buf[MODEL_NAME_MAX + 1];
};

/* Checks the request's shape. Returns 0, or -1 with a message for the
 * client in *why and the offending field in *param. */
int chat_validate(struct json_object *req, struct chat_params *p,
                  const char **why, const char **param);
int embed_validate(struct json_object *req, struct chat_params *p,
                   const char **why, const char **param);
/* The same checks, verdicts and messages over a scanned request (jscan.h),
 * which needs no json-c tree; the model is copied into p->model_buf. */
int chat_validate_scan(const struct jspan *req, struct chat_params *p,
                       const char **why, const char **param);
int embed_validate_scan(const struct jspan *req, struct chat_params *p,
                        const char **why, const char **param);

#endif
