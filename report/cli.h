/* Command-line helpers shared by aigw-admin and aigw-report: option
 * matching and validation of user-supplied values before they reach SQL
 * (where they are parameters, never SQL text). */
#ifndef AIGW_REPORT_CLI_H
#define AIGW_REPORT_CLI_H

#include <stddef.h>

/* The running tool's name, for messages ("aigw-admin"); set by main. */
extern const char *cli_prog;

/* Exit codes of both tools. */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* Matches argv[*i] against the long option name ("--by") written as
 * "--by VALUE" or "--by=VALUE". Returns 1 and sets *val (borrowed from
 * argv) and advances *i past a separate value; 0 if argv[*i] is another
 * argument; -1 if the value is missing. */
int cli_opt(int argc, char **argv, int *i, const char *name,
            const char **val);
/* "PROG: <message>" and a pointer to `PROG [cmd] --help` on stderr;
 * returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Writes a --help text to stdout; CLI_OK, or CLI_FAIL if it can't. */
int cli_help(const char *text);

/* 1 if s is "--help" or "-h". */
int cli_is_help(const char *s);

/* 1 if s is a UUID in 8-4-4-4-12 hex form (either case), else 0. */
int cli_is_uuid(const char *s);

/* 1 if s is non-empty, at most max bytes and free of control characters. */
int cli_text_ok(const char *s, size_t max);

/* An instant: seconds since 1970-01-01T00:00:00Z plus nanoseconds. */
struct cli_time {
    long long sec;
    long nsec;
};

#define CLI_TIME_MAX 48     /* room for cli_parse_time's text form */

/* Parses YYYY-MM-DD (midnight UTC) or an RFC 3339 timestamp
 * (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM); 't', 'z' and a space for
 * 'T' are accepted; up to 9 fraction digits). Checks calendar ranges.
 * Writes the instant to *t and an unambiguous timestamptz literal to out
 * (CLI_TIME_MAX bytes). Returns 0 or -1. */
int cli_parse_time(const char *s, struct cli_time *t, char *out);

/* <0, 0, >0 as a is before, equal to, after b. */
int cli_time_cmp(const struct cli_time *a, const struct cli_time *b);

#endif
