#include "logsink.h"

#include <string.h>
#include <syslog.h>

int logsink_facility(const char *name)
{
    static const struct { const char *n; int f; } fac[] = {
        { "user", LOG_USER }, { "daemon", LOG_DAEMON },
        { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
        { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
        { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
        { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
    };

    for (size_t i = 0; i < sizeof(fac) / sizeof(fac[0]); i++)
        if (strcmp(name, fac[i].n) == 0)
            return fac[i].f;
    return -1;
}

void logsink_syslog_open(const char *ident, int facility)
{
    openlog(ident, LOG_PID, facility);
}

void logsink_syslog(int level, const char *s, size_t n)
{
    /* log.h: 0 error, 1 warn, 2 info, 3 debug */
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

    if (n > 65536)
        n = 65536;
    syslog(prio[level >= 0 && level < 4 ? level : 2], "%.*s", (int)n, s);
}
