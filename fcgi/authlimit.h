/* Brute-force protection: failed authentication attempts per client
 * address in a fixed window (identity.failed_auth). Past the limit the
 * client gets 429 before any key lookup or signature check. Per process:
 * an attacker spread over N processes gets at most N times the limit. */
#ifndef AIGW_AUTHLIMIT_H
#define AIGW_AUTHLIMIT_H

/* 1 when addr is over the limit (max <= 0: never). */
int authlimit_blocked(const char *addr, long max, long window_ms);
/* Counts one failed attempt from addr. */
void authlimit_fail(const char *addr, long window_ms);

#endif
