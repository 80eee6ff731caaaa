/* Aligned plain-text tables for terminals: rows are buffered, then printed
 * with each column padded to its widest cell. Columns are separated by two
 * spaces; a rule is a line of dashes under each column. Control characters
 * in cells print as '?', so data cannot move the cursor or forge lines;
 * widths count UTF-8 code points. */
#ifndef AIGW_REPORT_TABLE_H
#define AIGW_REPORT_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* A table of ncols (> 0) columns, all left-aligned. Caller frees with
 * table_free. Allocation failure aborts (xalloc). */
struct table *table_new(size_t ncols);

/* Right-aligns column col (for numbers). */
void table_align_right(struct table *t, size_t col);

/* Appends a row; cells[0..ncols) are copied, NULL cells print empty. */
void table_add(struct table *t, const char *const *cells);

/* Appends a horizontal rule. */
void table_rule(struct table *t);

/* Writes the table. Returns 0, or -1 on a write error. */
int table_print(const struct table *t, FILE *fp);

void table_free(struct table *t);

#endif
