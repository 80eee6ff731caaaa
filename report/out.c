#include "out.h"

#include "../fcgi/xalloc.h"
#include "csv.h"
#include "table.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

struct out {
    enum out_format fmt;
    FILE *fp;
    const struct out_col *cols;
    size_t ncols;
    const char *null_text;
    struct table *tab;      /* OUT_TABLE */
    size_t nrows;
    int err;                /* sticky: a write failed */
    int errnum;             /* errno of that failure */
};

/* Records the first write failure; returns -1. */
static int fail(struct out *o)
{
    if (!o->err) {
        o->err = -1;
        o->errnum = errno ? errno : EIO;
    }
    return -1;
}

int out_format_parse(const char *s, enum out_format *fmt)
{
    if (strcmp(s, "table") == 0)
        *fmt = OUT_TABLE;
    else if (strcmp(s, "csv") == 0)
        *fmt = OUT_CSV;
    else if (strcmp(s, "json") == 0)
        *fmt = OUT_JSON;
    else
        return -1;
    return 0;
}

struct out *out_new(enum out_format fmt, FILE *fp, const struct out_col *cols,
                    size_t ncols)
{
    struct out *o;

    if (ncols == 0 || ncols > OUT_MAX_COLS) {
        fputs("out_new: bad column count\n", stderr);
        abort();
    }
    o = xcalloc(1, sizeof(*o));
    o->fmt = fmt;
    o->fp = fp;
    o->cols = cols;
    o->ncols = ncols;
    o->null_text = "";
    return o;
}

void out_set_null(struct out *o, const char *text)
{
    o->null_text = text;
}

int out_begin(struct out *o)
{
    const char *names[OUT_MAX_COLS];

    for (size_t i = 0; i < o->ncols; i++)
        names[i] = o->cols[i].name;
    if (o->fmt == OUT_TABLE) {
        o->tab = table_new(o->ncols);
        for (size_t i = 0; i < o->ncols; i++)
            if (o->cols[i].type != OUT_TEXT)
                table_align_right(o->tab, i);
        table_add(o->tab, names);
        table_rule(o->tab);
    } else if (o->fmt == OUT_CSV && csv_row(o->fp, names, o->ncols) < 0) {
        fail(o);
    }
    return o->err;
}

/* A JSON number that serializes as exactly the digits in s. */
static struct json_object *json_number(enum out_type type, const char *s)
{
    char *end;
    long long v;

    if (type == OUT_INT) {
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == 0 && end != s && *end == '\0')
            return json_object_new_int64(v);
    }
    return json_object_new_double_s(strtod(s, NULL), s);
}

static struct json_object *json_value(enum out_type type, const char *s)
{
    if (s == NULL)
        return NULL;                    /* json-c stores NULL as null */
    if (type == OUT_TEXT)
        return json_object_new_string(s);
    return json_number(type, s);
}

/* One JSON object; total adds "total":true first (the totals row). */
static int json_row(struct out *o, const char *const *vals, int total)
{
    struct json_object *obj = json_object_new_object();
    const char *txt;
    int rc = -1;

    if (obj == NULL)
        goto out;
    if (total) {
        struct json_object *t = json_object_new_boolean(1);

        if (json_object_object_add(obj, "total", t) < 0) {
            json_object_put(t);
            goto out;
        }
    }
    for (size_t i = 0; i < o->ncols; i++) {
        struct json_object *v = json_value(o->cols[i].type, vals[i]);

        if (vals[i] != NULL && v == NULL)
            goto out;
        if (json_object_object_add(obj, o->cols[i].name, v) < 0) {
            json_object_put(v);
            goto out;
        }
    }
    txt = json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (txt != NULL && fputs(o->nrows == 0 ? "[\n" : ",\n", o->fp) != EOF &&
        fputs(txt, o->fp) != EOF)
        rc = 0;
out:
    json_object_put(obj);
    return rc;
}

static void table_row(struct out *o, const char *const *vals)
{
    const char *cells[OUT_MAX_COLS];

    for (size_t i = 0; i < o->ncols; i++)
        cells[i] = vals[i] ? vals[i] : o->null_text;
    table_add(o->tab, cells);
}

int out_row(struct out *o, const char *const *vals)
{
    if (o->err)
        return o->err;
    switch (o->fmt) {
    case OUT_TABLE:
        table_row(o, vals);
        break;
    case OUT_CSV:
        if (csv_row(o->fp, vals, o->ncols) < 0)
            fail(o);
        break;
    case OUT_JSON:
        if (json_row(o, vals, 0) < 0)
            fail(o);
        break;
    }
    o->nrows++;
    return o->err;
}

int out_total(struct out *o, const char *const *vals, size_t nkeys)
{
    const char *row[OUT_MAX_COLS];
    int fmt_table = o->fmt == OUT_TABLE;

    if (o->err)
        return o->err;
    for (size_t i = 0; i < o->ncols; i++)
        row[i] = i >= nkeys ? vals[i]
                 : i == 0 && o->fmt != OUT_JSON ? "TOTAL"
                 : fmt_table ? "" : NULL;
    if (fmt_table) {
        if (o->tab == NULL)
            return 0;
        if (o->nrows > 0)
            table_rule(o->tab);
        table_row(o, row);
        return 0;
    }
    if (o->fmt == OUT_CSV) {
        if (csv_row(o->fp, row, o->ncols) < 0)
            fail(o);
    } else if (json_row(o, row, 1) < 0) {
        fail(o);
    }
    o->nrows++;
    return o->err;
}

int out_end(struct out *o)
{
    errno = 0;
    if (o->fmt == OUT_TABLE && o->tab != NULL && !o->err &&
        table_print(o->tab, o->fp) < 0)
        fail(o);
    else if (o->fmt == OUT_JSON && !o->err &&
             fputs(o->nrows == 0 ? "[]\n" : "\n]\n", o->fp) == EOF)
        fail(o);
    if (fflush(o->fp) == EOF || ferror(o->fp))
        fail(o);
    return o->err;
}

int out_errno(const struct out *o)
{
    return o->errnum;
}

void out_free(struct out *o)
{
    if (o == NULL)
        return;
    table_free(o->tab);
    free(o);
}
