/* Guardrails: named rule sets, selected per route, that check the text of
 * requests (before the provider is called) and of replies and streams
 * (before the client sees them). A set holds PCRE2 rules (builtins and
 * custom patterns, compiled once at config load with JIT) that reject or
 * mask, an optional webhook guard (agentgateway's contract) and an
 * optional OpenAI moderation check. */
#ifndef AIGW_GUARDRAILS_H
#define AIGW_GUARDRAILS_H

#include <stddef.h>

#include "buf.h"

struct config;
struct json_object;
struct guard_webhook;
struct guard_moderation;

enum guard_mode { GUARD_REJECT, GUARD_MASK };
/* The outcome recorded in the usage event (metrics hook). */
enum guard_outcome { GUARD_NONE, GUARD_MASKED, GUARD_BLOCKED };

struct guard_rule {
    char *name;                  /* "email", or the custom pattern's name */
    void *re;                    /* pcre2_code_8 */
    int (*valid)(const char *s, size_t n);  /* extra check (Luhn) or NULL */
    char *mask;                  /* placeholder, e.g. "<EMAIL>" */
};

/* The rules of one direction. */
struct guard_dir {
    enum guard_mode mode;
    struct guard_rule *rules;
    size_t n_rules;
    int status;                  /* reject status, default 403 */
    char *message;               /* reject message (OpenAI error shape) */
};

#define GUARD_ROLE_SYSTEM 1u
#define GUARD_ROLE_USER 2u
#define GUARD_ROLE_ASSISTANT 4u
#define GUARD_ROLE_TOOL 8u
#define GUARD_ROLE_DEVELOPER 16u

struct guard_set {
    char *name;
    unsigned roles;              /* GUARD_ROLE_* checked in requests */
    struct guard_dir req, resp;  /* n_rules 0: no regex check */
    struct guard_webhook *webhook;       /* NULL: none */
    struct guard_moderation *moderation; /* NULL: none */
};

struct guardrails {
    struct guard_set *sets;
    size_t n_sets;
    char **route_names;          /* route name -> set */
    struct guard_set **route_sets;
    size_t n_routes;
    unsigned long match_limit;   /* PCRE2 match limit per match call */
    unsigned long depth_limit;   /* PCRE2 depth limit (interpreter) */
    size_t holdback_max;         /* stream bytes held back per choice */
};

/* Parses the "guardrails" section of root into cfg->guardrails (NULL when
 * absent). Returns 0, or -1 with a message naming the setting in err. */
int guardrails_load(struct json_object *root, struct config *cfg, char *err,
                    size_t errsz);
void guardrails_free(struct guardrails *g);
/* The set applied on route (by name), or NULL. */
const struct guard_set *guardrails_for_route(const struct guardrails *g,
                                             const char *route);

/* A scan's findings: which rules hit (names, comma-separated, for logs and
 * error messages: never the matched text). */
struct guard_hits {
    int n;                       /* matches found (masked or not) */
    int error;                   /* a match limit tripped: fail closed */
    char names[128];
};

/* Scans s[0..n) with d's rules. Masks into out when d->mode is
 * GUARD_MASK and something matched (out untouched otherwise). Returns the
 * number of matches, or -1 when a limit tripped (block). */
int guard_scan(const struct guardrails *g, const struct guard_dir *d,
               const char *s, size_t n, struct buf *out,
               struct guard_hits *h);

/* Streaming: the text of one choice, pending until no rule can still
 * match across the next chunk. */
struct guard_pending {
    struct buf text;
    /* a match that outgrew the holdback was masked; its rule keeps
     * swallowing text (matched after its first bytes, anchor) until the
     * match ends */
    const struct guard_rule *swallow;
    char anchor[64];
    size_t anchor_len;
};

/* Adds s[0..n) to p and writes into out what may be sent now (masked).
 * final: the choice ended, flush everything. Returns the number of
 * matches, or -1 to block (a reject rule matched, or a limit tripped). */
int guard_stream_text(const struct guardrails *g, const struct guard_dir *d,
                      struct guard_pending *p, const char *s, size_t n,
                      int final, struct buf *out, struct guard_hits *h);

/* Builtin rules (guard_builtins.c). */
struct guard_builtin {
    const char *name;
    const char *pattern;
    int (*valid)(const char *s, size_t n);
    const char *mask;
};
const struct guard_builtin *guard_builtin_find(const char *name);
int guard_luhn(const char *s, size_t n);
int guard_iban_valid(const char *s, size_t n);

#endif
