#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "jsonutil.h"
#include "log.h"
#include "xalloc.h"

#define SPOOL_LINE_MAX (1 << 20)

static struct {
    pthread_mutex_t lock;
    char *dir;
    char *path;      /* our own file */
    int fd;
} sp = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

int spool_open(const char *dir)
{
    char tmp[4096], path[4096];
    int fd;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        log_error(NULL, "spool dir %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Lock under a temporary name, then publish: a replaying process must
     * never see our file unlocked. */
    snprintf(tmp, sizeof(tmp), "%s/.spool-%d.tmp", dir, (int)getpid());
    snprintf(path, sizeof(path), "%s/spool-%d-%ld.jsonl", dir, (int)getpid(),
             (long)time(NULL));
    fd = open(tmp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) < 0 || rename(tmp, path) < 0) {
        log_error(NULL, "spool file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sp.dir = xstrdup(dir);
    sp.path = xstrdup(path);
    sp.fd = fd;
    return 0;
}

void spool_close(void)
{
    struct stat st;

    pthread_mutex_lock(&sp.lock);
    if (sp.fd >= 0) {
        if (fstat(sp.fd, &st) == 0 && st.st_size == 0)
            unlink(sp.path);
        close(sp.fd);
    }
    sp.fd = -1;
    free(sp.dir);
    free(sp.path);
    sp.dir = sp.path = NULL;
    pthread_mutex_unlock(&sp.lock);
}

/* Appends whole lines or nothing: a short write (disk full) is cut off
 * again, so that a later append cannot fuse with half a line. */
static int write_all(int fd, char **lines, size_t n)
{
    off_t start = lseek(fd, 0, SEEK_END);

    for (size_t i = 0; i < n; i++) {
        struct iovec iov[2] = { { lines[i], strlen(lines[i]) },
                                { (void *)"\n", 1 } };
        size_t want = iov[0].iov_len + 1;
        ssize_t w = writev(fd, iov, 2);

        if (w < 0 || (size_t)w != want) {
            int e = errno ? errno : ENOSPC;

            if (start >= 0 && ftruncate(fd, start) < 0)
                log_error(NULL, "spool: cannot cut a partial line off");
            errno = e;
            return -1;
        }
    }
    return fdatasync(fd);
}

int spool_append(char **lines, size_t n)
{
    int rc = -1;

    pthread_mutex_lock(&sp.lock);
    if (sp.fd >= 0)
        rc = write_all(sp.fd, lines, n);
    pthread_mutex_unlock(&sp.lock);
    if (rc < 0)
        log_error(NULL, "ALARM: usage spool write failed (%s): %zu usage "
                  "events not stored", strerror(errno), n);
    return rc;
}

int spool_pending(void)
{
    DIR *d;
    struct dirent *de;
    int pending = 0;

    if (sp.dir == NULL || (d = opendir(sp.dir)) == NULL)
        return 0;
    while (!pending && (de = readdir(d)) != NULL) {
        char p[4096];
        struct stat st;
        size_t l = strlen(de->d_name);

        if (strncmp(de->d_name, "spool-", 6) != 0 || l < 7 ||
            strcmp(de->d_name + l - 6, ".jsonl") != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", sp.dir, de->d_name);
        pending = stat(p, &st) == 0 && st.st_size > 0;
    }
    closedir(d);
    return pending;
}

static void reject_line(const char *line)
{
    char p[4096];
    int fd;
    char *l[1] = { (char *)line };

    snprintf(p, sizeof(p), "%s/rejected.jsonl", sp.dir);
    fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, l, 1) < 0)
        log_error(NULL, "ALARM: cannot keep a malformed spool line");
    if (fd >= 0)
        close(fd);
    log_warn(NULL, "malformed spool line moved to %s", p);
}

/* Feeds the file's lines to sink in batches. 0 all done, -1 sink failed. */
static int replay_fd(int fd, spool_sink_fn sink, void *ctx, size_t batch,
                     long *count)
{
    FILE *f = fdopen(dup(fd), "r");
    char **lines = xcalloc(batch, sizeof(char *));
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    int rc = 0;

    if (f == NULL) {
        free(lines);
        return -1;
    }
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        json_object *o;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        o = len < SPOOL_LINE_MAX ? jparse(line, (size_t)len, NULL) : NULL;
        if (o == NULL || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            reject_line(line);
            continue;
        }
        json_object_put(o);
        lines[n++] = xstrdup(line);
        if (n == batch) {
            rc = sink(ctx, lines, n);
            *count += rc == 0 ? (long)n : 0;
            for (size_t i = 0; i < n; i++)
                free(lines[i]);
            n = 0;
        }
    }
    if (rc == 0 && n > 0) {
        rc = sink(ctx, lines, n);
        *count += rc == 0 ? (long)n : 0;
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(line);
    fclose(f);
    return rc;
}

/* Replays a dead process's file if its lock is free. */
static int replay_other(const char *path, spool_sink_fn sink, void *ctx,
                        size_t batch, long *count)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        rc = replay_fd(fd, sink, ctx, batch, count);
        if (rc == 0) {
            log_info(NULL, "replayed spool file %s", path);
            unlink(path);
        }
    }
    close(fd);                   /* releases the lock */
    return rc;
}

long spool_replay(spool_sink_fn sink, void *ctx, size_t batch)
{
    DIR *d;
    struct dirent *de;
    long count = 0;
    int rc = 0, ofd;

    if (sp.dir == NULL || (d = opendir(sp.dir)) == NULL)
        return 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char p[4096];
        size_t l = strlen(de->d_name);

        if (strncmp(de->d_name, "spool-", 6) != 0 || l < 7 ||
            strcmp(de->d_name + l - 6, ".jsonl") != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", sp.dir, de->d_name);
        if (sp.path != NULL && strcmp(p, sp.path) == 0)
            continue;
        rc = replay_other(p, sink, ctx, batch, &count);
    }
    closedir(d);
    if (rc != 0)
        return -1;
    /* our own file: appends wait while we replay and empty it */
    pthread_mutex_lock(&sp.lock);
    if (sp.fd >= 0 && lseek(sp.fd, 0, SEEK_END) > 0) {
        ofd = open(sp.path, O_RDONLY | O_CLOEXEC);
        rc = ofd < 0 ? -1 : replay_fd(ofd, sink, ctx, batch, &count);
        if (ofd >= 0)
            close(ofd);
        if (rc == 0 && ftruncate(sp.fd, 0) < 0)
            rc = -1;
    }
    pthread_mutex_unlock(&sp.lock);
    return rc == 0 ? count : -1;
}
