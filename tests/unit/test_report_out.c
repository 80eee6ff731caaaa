/* Output formats of report/out.c (with table.c and csv.c): CSV header and
 * NULLs, JSON typing and exact decimals, aligned tables, a totals row in
 * every format.
 * TAP via t.h. */
#include "../../report/csv.c"
#include "../../report/out.c"
#include "../../report/table.c"
#include "t.h"

static const struct out_col cols[] = {
    {"key", OUT_TEXT}, {"requests", OUT_INT}, {"cost_usd", OUT_DECIMAL}};

/* Renders two rows and a total in fmt and compares with want. */
static void render(enum out_format fmt, const char *name, const char *want)
{
    const char *r1[] = {"a,\"b\"", "3", "0.001234"};
    const char *r2[] = {NULL, "12345", "100000000.000001"};
    const char *tot[] = {"ignored", "12348", "100000000.001235"};
    char *got = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&got, &len);
    struct out *o = out_new(fmt, fp, cols, 3);
    int rc;

    out_set_null(o, "(none)");
    rc = out_begin(o);
    rc |= out_row(o, r1);
    rc |= out_row(o, r2);
    rc |= out_total(o, tot, 1);
    rc |= out_end(o);
    out_free(o);
    fclose(fp);
    T_OK(rc == 0 && strcmp(got, want) == 0, name);
    if (rc != 0 || strcmp(got, want) != 0)
        printf("#   got:\n%s# want:\n%s", got, want);
    free(got);
}

static void render_empty(enum out_format fmt, const char *name,
                         const char *want)
{
    const char *tot[] = {"ignored", "0", "0.000000"};
    char *got = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&got, &len);
    struct out *o = out_new(fmt, fp, cols, 3);
    int rc = out_begin(o);

    rc |= out_total(o, tot, 1);
    rc |= out_end(o);
    out_free(o);
    fclose(fp);
    T_OK(rc == 0 && strcmp(got, want) == 0, name);
    if (rc != 0 || strcmp(got, want) != 0)
        printf("#   got:\n%s# want:\n%s", got, want);
    free(got);
}

static void test_formats(void)
{
    render(OUT_CSV, "csv: header, quoting, NULL empty, TOTAL row last",
           "key,requests,cost_usd\n"
           "\"a,\"\"b\"\"\",3,0.001234\n"
           ",12345,100000000.000001\n"
           "TOTAL,12348,100000000.001235\n");
    render(OUT_JSON, "json: typed numbers with exact digits, null, total",
           "[\n"
           "{\"key\":\"a,\\\"b\\\"\",\"requests\":3,\"cost_usd\":0.001234},\n"
           "{\"key\":null,\"requests\":12345,"
           "\"cost_usd\":100000000.000001},\n"
           "{\"total\":true,\"key\":null,\"requests\":12348,"
           "\"cost_usd\":100000000.001235}\n"
           "]\n");
    render(OUT_TABLE, "table: aligned, numbers right, totals after a rule",
           "key     requests          cost_usd\n"
           "------  --------  ----------------\n"
           "a,\"b\"          3          0.001234\n"
           "(none)     12345  100000000.000001\n"
           "------  --------  ----------------\n"
           "TOTAL      12348  100000000.001235\n");
    render_empty(OUT_JSON, "json: no rows, the totals object alone",
                 "[\n{\"total\":true,\"key\":null,\"requests\":0,"
                 "\"cost_usd\":0.000000}\n]\n");
    render_empty(OUT_CSV, "csv: no rows, the header and totals",
                 "key,requests,cost_usd\nTOTAL,0,0.000000\n");
    render_empty(OUT_TABLE, "table: no rows, one rule, totals",
                 "key    requests  cost_usd\n"
                 "-----  --------  --------\n"
                 "TOTAL         0  0.000000\n");
}

static void test_table_text(void)
{
    const struct out_col c2[] = {{"name", OUT_TEXT}, {"n", OUT_TEXT}};
    const char *r1[] = {"gr\xc3\xbcn", "x"}, *r2[] = {"a\nb\x1b", ""};
    char *got = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&got, &len);
    struct out *o = out_new(OUT_TABLE, fp, c2, 2);

    out_begin(o);
    out_row(o, r1);
    out_row(o, r2);
    out_end(o);
    out_free(o);
    fclose(fp);
    T_OK(strcmp(got, "name  n\n----  -\ngr\xc3\xbcn  x\na?b?\n") == 0,
       "table: UTF-8 width, control characters masked, no trailing blanks");
    free(got);
}

static void test_parse(void)
{
    enum out_format f;

    T_OK(out_format_parse("csv", &f) == 0 && f == OUT_CSV, "format csv");
    T_OK(out_format_parse("json", &f) == 0 && f == OUT_JSON, "format json");
    T_OK(out_format_parse("table", &f) == 0 && f == OUT_TABLE, "format table");
    T_OK(out_format_parse("CSV", &f) < 0 && out_format_parse("", &f) < 0,
       "format: unknown rejected");
}

int main(void)
{
    test_formats();
    test_table_text();
    test_parse();
    return t_done();
}
