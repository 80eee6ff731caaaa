/* Route matching: path (prefix, exact, regex), host, method, headers and
 * query parameters, with a fixed precedence (most specific first, then
 * config order); the model a route forces or takes from a header or the
 * query; per-backend weights and priorities; direct responses.
 * The per-route settings live in rt->ext (owned by the route). */
#ifndef AIGW_ROUTER_H
#define AIGW_ROUTER_H

#include <stddef.h>

struct buf;
struct config;
struct json_object;
struct request;
struct route;
struct transform;

enum route_path { ROUTE_PREFIX, ROUTE_REGEX, ROUTE_EXACT };
enum route_endpoint { ROUTE_EP_NONE, ROUTE_EP_CHAT, ROUTE_EP_EMBED };

struct route_cond;

struct route_ext {
    enum route_path path_kind;
    void *path_re;              /* pcre2_code when ROUTE_REGEX */
    char **hosts;               /* exact, or "*.example.com" */
    size_t n_hosts;
    char **methods;
    size_t n_methods;
    struct route_cond *conds;   /* headers, then query parameters */
    size_t n_headers, n_query;
    enum route_endpoint endpoint;
    char *model;                /* forced model, or NULL */
    char *model_header;         /* CGI name, e.g. HTTP_X_MODEL */
    char *model_query;          /* query parameter name */
    int report_requested;       /* -1 global default, 0 served, 1 asked */
    int *weight;                /* per rt->backends[i] */
    int *priority;
    /* direct response */
    int direct_status;          /* 0: none */
    char *direct_body;
    char *direct_type;
    char *direct_headers;       /* "Name: value\r\n" lines */
    struct transform *xf;       /* transform.c; NULL none */
};

/* Reads the routing keys of route object o into rt->ext; may set
 * rt->prefix from "path". Returns 0 or -1 with a message in err. */
int router_route_load(struct route *rt, struct json_object *o,
                      const char *where, char *err, size_t errsz);
/* Reads the backends list's weights and priorities (after
 * rt->backends is filled). */
int router_route_backends(struct route *rt, struct json_object *o,
                          const char *where, char *err, size_t errsz);
void router_route_free(struct route *rt);

/* The best route for the request, or NULL. */
const struct route *router_select(const struct config *cfg,
                                  const struct request *r);
/* Where the API path (/chat/completions ...) starts after the route's
 * part of the path. */
size_t router_path_off(const struct route *rt, const char *path,
                       size_t len);
enum route_endpoint router_endpoint(const struct route *rt);
/* Answers a direct-response route; returns 1 when it did. */
int router_direct(const struct route *rt, struct request *r);
/* The model the route imposes (forced, header or query), or NULL. The
 * query value is decoded into buf (size bufsz). */
const char *router_model(const struct route *rt, const struct request *r,
                         char *buf, size_t bufsz);

/* Decodes query parameter name of q into out; returns its length, or -1
 * when absent or too long. */
int router_query_param(const char *q, const char *name, char *out,
                       size_t outsz);

#endif
