#include "shmfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void *shmfile_map(const char *path, size_t size,
                  int (*current)(const void *p, void *arg),
                  void (*init)(void *p, void *arg), void *arg)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), e;
    struct stat st;
    void *p = NULL;

    if (fd < 0)
        return NULL;
    if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0)
        goto out;
    if ((size_t)st.st_size < size &&
        (errno = posix_fallocate(fd, 0, (off_t)size)) != 0)
        goto out;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        p = NULL;
        goto out;
    }
    if (!current(p, arg)) {
        memset(p, 0, size);
        init(p, arg);
    }
out:
    e = errno;
    /* explicitly: the mapping keeps the open file, and a lock on it,
     * alive after close() */
    flock(fd, LOCK_UN);
    close(fd);
    errno = e;
    return p;
}
