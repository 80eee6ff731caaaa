/* RFC 4180 quoting of report/csv.c. TAP via t.h. */
#include "../../report/csv.c"
#include "t.h"

#include <stdlib.h>

/* Runs csv_field (row == NULL) or csv_row over fields and compares. */
static void expect(const char *name, const char *const *fields, size_t n,
                   int row, const char *want)
{
    char *got = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&got, &len);
    int rc;

    if (fp == NULL) {
        T_OK(0, name);
        return;
    }
    rc = row ? csv_row(fp, fields, n) : csv_field(fp, fields[0]);
    fclose(fp);
    T_OK(rc == 0 && len == strlen(want) && memcmp(got, want, len) == 0, name);
    if (rc != 0 || len != strlen(want) || memcmp(got, want, len) != 0)
        printf("#   got [%.*s] (rc %d), want [%s]\n", (int)len, got, rc,
               want);
    free(got);
}

static void field(const char *name, const char *in, const char *want)
{
    const char *f[1] = {in};

    expect(name, f, 1, 0, want);
}

static void test_fields(void)
{
    field("plain field is not quoted", "abc", "abc");
    field("spaces alone are not quoted", " a b ", " a b ");
    field("UTF-8 is not quoted", "gr\xc3\xbcppe", "gr\xc3\xbcppe");
    field("comma is quoted", "a,b", "\"a,b\"");
    field("quote is doubled and quoted", "say \"hi\"", "\"say \"\"hi\"\"\"");
    field("lone quote", "\"", "\"\"\"\"");
    field("LF is quoted and kept", "a\nb", "\"a\nb\"");
    field("CR is quoted and kept", "a\rb", "\"a\rb\"");
    field("CRLF is quoted and kept", "a\r\nb", "\"a\r\nb\"");
    field("all specials", ",\"\r\n", "\",\"\"\r\n\"");
    field("empty string is \"\"", "", "\"\"");
    field("NULL writes nothing", NULL, "");
    field("semicolon and tab are not special", "a;b\tc", "a;b\tc");
}

static void test_rows(void)
{
    const char *r1[] = {"a", NULL, "", "x,y", "1"};
    const char *r2[] = {"only"};
    const char *r3[] = {"0.001234", "q\"", "\n"};

    expect("row: LF end, NULL empty, \"\" quoted", r1, 5, 1,
           "a,,\"\",\"x,y\",1\n");
    expect("row of one field", r2, 1, 1, "only\n");
    expect("row with quote and newline fields", r3, 3, 1,
           "0.001234,\"q\"\"\",\"\n\"\n");
}

static void test_needs_quotes(void)
{
    T_OK(!csv_needs_quotes("abc", 3), "needs_quotes: plain");
    T_OK(csv_needs_quotes("a,b", 3), "needs_quotes: comma");
    T_OK(!csv_needs_quotes("ab,", 2), "needs_quotes: looks at n bytes only");
    T_OK(!csv_needs_quotes("", 0), "needs_quotes: empty");
}

static void test_write_error(void)
{
    FILE *fp = fopen("/dev/null", "r");     /* writes fail */
    const char *row[] = {"a", "b,c"};

    if (fp == NULL) {
        T_OK(0, "open /dev/null read-only");
        return;
    }
    setvbuf(fp, NULL, _IONBF, 0);
    T_OK(csv_field(fp, "plain") < 0, "write error: plain field returns -1");
    T_OK(csv_field(fp, "a\"b") < 0, "write error: quoted field returns -1");
    T_OK(csv_row(fp, row, 2) < 0, "write error: row returns -1");
    fclose(fp);
}

int main(void)
{
    test_fields();
    test_rows();
    test_needs_quotes();
    test_write_error();
    return t_done();
}
