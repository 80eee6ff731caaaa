/* Result rows in one of three formats, shared by aigw-admin and
 * aigw-report:
 *
 *   table  aligned text for people (buffered to size the columns); NULL
 *          prints as the table's null text ("" unless set), an optional
 *          totals row follows a rule
 *   csv    RFC 4180 with a header row, LF line ends (see csv.h); streamed
 *   json   an array of objects, one per line, streamed; OUT_INT and
 *          OUT_DECIMAL columns are JSON numbers written with the exact
 *          digits PostgreSQL returned (a decimal such as 0.001234 is not
 *          rounded through a double), NULL is null
 *
 * Values are text as libpq returns it. */
#ifndef AIGW_REPORT_OUT_H
#define AIGW_REPORT_OUT_H

#include <stddef.h>
#include <stdio.h>

#define OUT_MAX_COLS 24

enum out_format { OUT_TABLE, OUT_CSV, OUT_JSON };
enum out_type { OUT_TEXT, OUT_INT, OUT_DECIMAL };

struct out_col {
    const char *name;
    enum out_type type;
};

struct out;

/* "table", "csv" or "json" into *fmt. Returns 0, or -1 if unknown. */
int out_format_parse(const char *s, enum out_format *fmt);

/* Writer to fp (borrowed) for ncols (1..OUT_MAX_COLS) columns; cols is
 * borrowed and must outlive the writer. Caller frees with out_free. */
struct out *out_new(enum out_format fmt, FILE *fp, const struct out_col *cols,
                    size_t ncols);

/* Table format only: text shown for NULL values (borrowed). */
void out_set_null(struct out *o, const char *text);

/* Writes the header, if the format has one. Returns 0 or -1 (write). */
int out_begin(struct out *o);

/* One row; vals[0..ncols) borrowed, NULL for SQL NULL. Returns 0 or -1. */
int out_row(struct out *o, const char *const *vals);

/* Totals row, after the rows, in every format; its first nkeys columns
 * name the row rather than carry values. table: "TOTAL" in the first
 * column, the other key columns empty, after a rule if rows precede it.
 * csv: the same, the other key columns empty (NULL). json: an object with
 * "total":true first and null key columns. vals[nkeys..ncols) are the
 * values; vals[0..nkeys) are ignored. Returns 0 or -1. */
int out_total(struct out *o, const char *const *vals, size_t nkeys);

/* Finishes the document (table body, JSON ']') and flushes. Returns 0, or
 * -1 if any write failed. */
int out_end(struct out *o);

/* errno of the first failed write, 0 if none failed. */
int out_errno(const struct out *o);

void out_free(struct out *o);

#endif
