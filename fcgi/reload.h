/* Configuration hot reload: requests take a reference on the current
 * config; SIGHUP loads the file again and, when it is valid, swaps it in
 * for new requests. A replaced config is freed when its last request
 * ends. The config loaded at start is never freed: process-wide parts
 * (ledger, database sessions, the auth cache, identity.jwt, threads) keep
 * using it and need a restart to change. */
#ifndef AIGW_RELOAD_H
#define AIGW_RELOAD_H

#include <stddef.h>

struct config;

void reload_init(struct config *boot);
/* The current config, referenced; give it back with reload_release. */
const struct config *reload_acquire(void);
void reload_release(const struct config *cfg);
/* Loads path; on success it serves new requests and 0 is returned. On
 * failure the running config stays and err says why. */
int reload_load(const char *path, char *err, size_t errsz);

#endif
