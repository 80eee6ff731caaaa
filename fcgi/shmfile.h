/* Host-shared state files: the rate-limit counters, quota leases and
 * circuit breakers live in files every worker process of the host maps
 * (in the spool directory), created and set up by whichever comes first. */
#ifndef AIGW_SHMFILE_H
#define AIGW_SHMFILE_H

#include <stddef.h>

/* Maps size bytes of the file at path, created if missing. One process at
 * a time (an exclusive flock): when current(p, arg) says the contents are
 * not of this layout (a new file reads as zeros), they are zeroed and
 * init(p, arg) sets them up. Blocks are reserved up front, so a full disk
 * or tmpfs fails here, not with SIGBUS when a page is first touched.
 * The mapping, or NULL with errno set. */
void *shmfile_map(const char *path, size_t size,
                  int (*current)(const void *p, void *arg),
                  void (*init)(void *p, void *arg), void *arg);

#endif
