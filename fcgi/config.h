/* The gateway's configuration: one JSON file (comments allowed, ${ENV} and
 * ${ENV:-default} references in strings, secrets from *_file paths).
 * Loaded once at start; immutable afterwards. */
#ifndef AIGW_CONFIG_H
#define AIGW_CONFIG_H

#include <stddef.h>
#include <stdio.h>

struct json_object;
struct capture_settings;
struct guardrails;
struct quota_settings;
struct route_ext;
struct routing_settings;

struct backend {
    char *name;
    char *provider;        /* "openai" (OpenAI-compatible) */
    const struct provider_ops *ops;
    char *base_url;        /* e.g. https://api.openai.com/v1, no trailing / */
    char *api_key;         /* provider credential; NULL when none */
    void *pstate;          /* the provider's own settings (ops->init) */
    char **models;         /* served models; entries may be globs (mock-*) */
    size_t n_models;
    long connect_timeout_ms;
    long timeout_ms;       /* whole exchange, streams included */
    long idle_timeout_ms;  /* no byte from upstream for this long */
    size_t max_response_bytes;
};

struct route {
    char *name;
    char *prefix;          /* path prefix, e.g. "/v1" */
    size_t prefix_len;
    struct backend **backends;  /* borrowed from config.backends; the
                                   first that serves the model wins */
    size_t n_backends;
    struct route_ext *ext;      /* matching, model, weights, direct
                                   response, transforms (router.h) */
};

/* Observability: metrics, log sinks, traces (the "observability"
 * section; see metrics.h, trace.h). */
struct obs_settings {
    int metrics;             /* serve GET metrics_path */
    char *metrics_path;      /* "/metrics" */
    char *metrics_shm;       /* shared segment; NULL: <spool_dir>/aigw-metrics.shm */
    long max_series;         /* slots in the host-wide series table */
    long max_label_sets;     /* per metric family; beyond: overflow series */
    int syslog;              /* access and diagnostic lines to syslog too */
    char *syslog_ident;
    int syslog_facility;     /* LOG_LOCAL0 ... */
    char *otlp_endpoint;     /* OTLP/HTTP JSON traces URL; NULL: off */
    char *service_name;
    long otlp_batch_spans;
    long otlp_flush_ms;
    long otlp_queue_max;
    long otlp_timeout_ms;
};

struct config {
    char *path;
    int threads;
    size_t max_body_bytes;
    int log_level;
    char *log_file;        /* NULL: stderr */
    char *db_conninfo;
    long db_connect_timeout_s;
    long db_statement_timeout_ms;
    long auth_cache_ttl_ms;
    size_t auth_cache_max;
    char *spool_dir;
    int ledger_batch_rows;
    long ledger_flush_ms;
    size_t ledger_queue_max;
    struct backend *backends;
    size_t n_backends;
    struct route *routes;
    size_t n_routes;
    struct auth_settings *authz;  /* "identity" + routes[].auth (authcfg.h) */
    struct guardrails *guardrails;  /* NULL: none (guardrails.c) */
    struct quota_settings *quotas;  /* "quotas" section (quotacfg.h) */
    struct obs_settings obs;
    struct capture_settings *capture;  /* observability.capture (capture.h);
                                          NULL: off */
    struct routing_settings *routing;  /* "routing" (failover.h) */
    long reload_watch_ms;  /* check the file for changes this often; 0 off */
    struct json_object *restart_only;  /* the settings a reload cannot
                                          apply, as written (held) */
};

/* Loads path into a new config. On failure returns NULL and writes a
 * message naming the file and the offending setting into err. */
struct config *config_load(const char *path, char *err, size_t errsz);
/* Same from a string (tests); name is used in messages. */
struct config *config_parse(const char *text, const char *name, char *err,
                            size_t errsz);
void config_free(struct config *cfg);
/* For --check-config: when err (from config_load) places a JSON syntax
 * error at "path:line:col:", prints that line of the file and a caret
 * under the column to out. */
void config_explain(const char *path, const char *err, FILE *out);
/* Names the settings that differ between the running process's start-up
 * config and a reloaded one but only take effect after a restart
 * (threads, database, ledger, auth, identity.jwt, ...), comma-separated
 * into out. Returns how many. */
int config_restart_changes(const struct config *boot,
                           const struct config *next, char *out,
                           size_t outsz);

/* Expands ${VAR} and ${VAR:-default} in s. Returns a new string (caller
 * frees) or NULL when a variable without default is unset (its name is
 * written into err). */
char *config_expand(const char *s, char *err, size_t errsz);

/* Whether backend b serves model (exact or glob match). */
int backend_serves(const struct backend *b, const char *model);
/* For providers' init(): an optional string setting of a backend's config
 * object, ${ENV}-expanded, or read from the file named by "<key>_file".
 * *out is left alone when neither is present. Returns 0 or -1 (err). */
int config_opt_str(struct json_object *o, const char *key, char **out,
                   char *err, size_t errsz);
/* An optional integer setting within [min, max]. */
int config_opt_long(struct json_object *o, const char *key, long min,
                    long max, long *out, char *err, size_t errsz);

/* The route's first backend serving model, or NULL. */
struct backend *route_backend(const struct route *rt, const char *model);

#endif
