/* The syslog sink, kept apart from log.h: <syslog.h> defines LOG_INFO and
 * LOG_DEBUG, which log.h's levels also name. */
#ifndef AIGW_LOGSINK_H
#define AIGW_LOGSINK_H

#include <stddef.h>

/* "user", "daemon", "local0" ... "local7" to a facility, -1 if unknown. */
int logsink_facility(const char *name);
/* openlog(ident, LOG_PID, facility); ident is borrowed for the process's
 * life. */
void logsink_syslog_open(const char *ident, int facility);
/* One line at level (log.h's LOG_ERROR ... LOG_DEBUG). */
void logsink_syslog(int level, const char *s, size_t n);

#endif
