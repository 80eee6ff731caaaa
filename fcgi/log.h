/* Leveled diagnostics to stderr (the web server's error log). The macros
 * check the level before evaluating their arguments. Never log secrets. */
#ifndef AIGW_LOG_H
#define AIGW_LOG_H

#include "buf.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_threshold;

void log_write(int level, const char *file, int line, const char *req_id,
               const char *fmt, ...) GW_PRINTF(5, 6);
/* Writes one complete line (a newline is added) with a single write(2),
 * so lines from concurrent threads and processes never interleave. */
void log_line(const char *s, size_t n);
int log_level_parse(const char *s);
/* Sends every line to syslog instead of stderr (logsink.c): access lines
 * at info, diagnostics at their level. */
void log_use_syslog(void);
/* Points stderr at path (appending); called again to reopen after log
 * rotation. Returns 0 or -1. */
int log_open_file(const char *path);

#define log_at(lvl, rid, ...)                                            \
    do {                                                                 \
        if ((lvl) <= log_threshold)                                      \
            log_write((lvl), __FILE__, __LINE__, (rid), __VA_ARGS__);    \
    } while (0)
#define log_error(rid, ...) log_at(LOG_ERROR, rid, __VA_ARGS__)
#define log_warn(rid, ...) log_at(LOG_WARN, rid, __VA_ARGS__)
#define log_info(rid, ...) log_at(LOG_INFO, rid, __VA_ARGS__)
#define log_debug(rid, ...) log_at(LOG_DEBUG, rid, __VA_ARGS__)

#endif
