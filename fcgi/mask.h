/* Masked forms of secrets for logs, listings and error bodies:
 * "sk-...abcd" (the prefix up to the first '-', when short, and the last
 * four characters, only when 28+ characters stay hidden). FastCGI-free. */
#ifndef AIGW_MASK_H
#define AIGW_MASK_H

#include <stddef.h>

void mask_secret(const char *s, size_t len, char *out, size_t outsz);

#endif
