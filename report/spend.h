/* aigw-report spend: requests, tokens and cost over a period, grouped by
 * any combination of dimensions, with a totals row. One query: the
 * rollups plus the not-yet-rolled tail (sql/0010), grouped in SQL. */
#ifndef AIGW_REPORT_SPEND_H
#define AIGW_REPORT_SPEND_H

#include <stdio.h>

#include "out.h"

struct pg_conn;

#define SPEND_MAX_DIMS 8

struct spend_dim;

/* The parsed --by list, in the order given. */
struct spend_by {
    const struct spend_dim *dims[SPEND_MAX_DIMS];
    int ndims;
};

/* Parses a comma-separated --by list ("group,model"): known names, no
 * repeats. Returns 0, or -1 with the offending item in bad (borrowed
 * static text or a copy of at most badlen bytes). */
int spend_parse_by(const char *list, struct spend_by *by, char *bad,
                   size_t badlen);

/* What to report: [from, to) (timestamptz literals), grouped by `by`,
 * only group_id = group when group is not NULL (all borrowed). */
struct spend_query {
    const struct spend_by *by;
    const char *from, *to, *group;
};

/* Runs the report and writes it to fp; totals: add the totals row.
 * Returns 0, DB_EFAIL (message in err, DB_ERR_LEN bytes) or -2 (a write
 * failed; errno in *errnum). */
int spend_run(struct pg_conn *c, const struct spend_query *q,
              enum out_format fmt, int totals, FILE *fp, char *err,
              int *errnum);

#endif
