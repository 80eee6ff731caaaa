#include "table.h"

#include "../fcgi/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct table {
    size_t ncols;
    size_t nrows, cap;
    char ***rows;           /* rows[r] == NULL is a rule */
    size_t *width;          /* display width per column */
    unsigned char *right;
};

/* Copy of s with control characters replaced by '?'. */
static char *cell_dup(const char *s, size_t *width)
{
    size_t n = s ? strlen(s) : 0, w = 0;
    char *d = xmalloc(n + 1);

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        d[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        if ((c & 0xc0) != 0x80)         /* not a UTF-8 continuation */
            w++;
    }
    d[n] = '\0';
    *width = w;
    return d;
}

struct table *table_new(size_t ncols)
{
    struct table *t = xcalloc(1, sizeof(*t));

    t->ncols = ncols;
    t->width = xcalloc(ncols, sizeof(*t->width));
    t->right = xcalloc(ncols, 1);
    return t;
}

void table_align_right(struct table *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = 1;
}

static void push(struct table *t, char **row)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->rows = xrealloc(t->rows, t->cap * sizeof(*t->rows));
    }
    t->rows[t->nrows++] = row;
}

void table_add(struct table *t, const char *const *cells)
{
    char **row = xmalloc(t->ncols * sizeof(*row));

    for (size_t c = 0; c < t->ncols; c++) {
        size_t w;

        row[c] = cell_dup(cells[c], &w);
        if (w > t->width[c])
            t->width[c] = w;
    }
    push(t, row);
}

void table_rule(struct table *t)
{
    push(t, NULL);
}

static size_t display_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

static int pad(FILE *fp, int ch, size_t n)
{
    while (n-- > 0)
        if (putc(ch, fp) == EOF)
            return -1;
    return 0;
}

static int print_row(const struct table *t, char *const *row, FILE *fp)
{
    size_t end = t->ncols;  /* no trailing blanks: drop empty left cells */

    while (row && end > 1 && !t->right[end - 1] && row[end - 1][0] == '\0')
        end--;
    for (size_t c = 0; c < end; c++) {
        const char *s = row ? row[c] : "";
        size_t fill = t->width[c] - (row ? display_width(s) : 0);
        int last = c + 1 == end;

        if (c > 0 && fputs("  ", fp) == EOF)
            return -1;
        if (row == NULL) {
            if (pad(fp, '-', t->width[c]) < 0)
                return -1;
            continue;
        }
        if (t->right[c] && pad(fp, ' ', fill) < 0)
            return -1;
        if (fputs(s, fp) == EOF)
            return -1;
        if (!t->right[c] && !last && pad(fp, ' ', fill) < 0)
            return -1;
    }
    return putc('\n', fp) == EOF ? -1 : 0;
}

int table_print(const struct table *t, FILE *fp)
{
    for (size_t r = 0; r < t->nrows; r++)
        if (print_row(t, t->rows[r], fp) < 0)
            return -1;
    return 0;
}

void table_free(struct table *t)
{
    if (t == NULL)
        return;
    for (size_t r = 0; r < t->nrows; r++) {
        if (t->rows[r] == NULL)
            continue;
        for (size_t c = 0; c < t->ncols; c++)
            free(t->rows[r][c]);
        free(t->rows[r]);
    }
    free(t->rows);
    free(t->width);
    free(t->right);
    free(t);
}
