#include "log.h"
#include "logsink.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

int log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info",
                                           "debug" };

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

static int to_syslog;

void log_use_syslog(void)
{
    to_syslog = 1;
}

static void emit(int level, const char *s, size_t n)
{
    struct iovec iov[2] = { { (void *)s, n }, { (void *)"\n", 1 } };

    if (to_syslog) {
        logsink_syslog(level, s, n);
        return;
    }
    /* best effort: stderr is all we have to report a failure to */
    if (writev(STDERR_FILENO, iov, 2) < 0)
        return;
}

void log_line(const char *s, size_t n)
{
    emit(LOG_INFO, s, n);
}

void log_write(int level, const char *file, int line, const char *req_id,
               const char *fmt, ...)
{
    char msg[1024], ts[32];
    struct buf b = BUF_INIT(4096);
    struct timespec now;
    struct tm tm;
    va_list ap;
    const char *base = strrchr(file, '/');

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    buf_addf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"src\":\"%s:%d\"",
             ts, now.tv_nsec / 1000000, level_names[level],
             base ? base + 1 : file, line);
    if (req_id != NULL && *req_id)
        buf_addf(&b, ",\"request_id\":\"%s\"", req_id);
    buf_adds(&b, ",\"msg\":");
    buf_add_json_str(&b, msg, strlen(msg));
    buf_addc(&b, '}');
    if (buf_error(&b) == 0)
        emit(level, b.ptr, b.len);
    buf_release(&b);
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

    if (fd < 0)
        return -1;
    if (fd != STDERR_FILENO) {
        if (dup2(fd, STDERR_FILENO) < 0) {
            close(fd);
            return -1;
        }
        close(fd);
    }
    return 0;
}
