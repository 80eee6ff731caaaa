/* Allocation that aborts on OOM: inputs are size-capped, so running out of
 * memory is a host fault, not something a client can cause. */
#ifndef AIGW_XALLOC_H
#define AIGW_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
