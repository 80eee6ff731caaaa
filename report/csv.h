/* RFC 4180 CSV writer for the report tools.
 *
 * A field is quoted when it contains ',', '"', CR or LF; quotes inside are
 * doubled. Records end in LF ("\n"), not the RFC's CRLF: the output feeds
 * shells and cron pipelines, and RFC 4180 readers (Python csv, Excel,
 * PostgreSQL COPY) accept bare LF. Fields with embedded CR or LF stay
 * byte-exact inside their quotes.
 *
 * NULL and "" differ, as in PostgreSQL's COPY ... CSV: a NULL field is
 * written as nothing, an empty string as "". */
#ifndef AIGW_REPORT_CSV_H
#define AIGW_REPORT_CSV_H

#include <stddef.h>
#include <stdio.h>

/* 1 if the n bytes at s must be quoted, else 0. */
int csv_needs_quotes(const char *s, size_t n);

/* Writes one field (no separator); s may be NULL. Returns 0, or -1 on a
 * write error (errno set by stdio). */
int csv_field(FILE *fp, const char *s);

/* Writes fields[0..n) joined by ',' and ended by '\n'; fields and its
 * elements are borrowed, elements may be NULL. Returns 0 or -1. */
int csv_row(FILE *fp, const char *const *fields, size_t n);

#endif
