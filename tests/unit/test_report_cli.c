/* Argument validation of report/cli.c: dates, RFC 3339 timestamps, UUIDs,
 * option matching. TAP via t.h. */
#include "../../report/cli.c"
#include "t.h"

#include <stdlib.h>

/* s parses to sec.nsec and to the literal lit. */
static void time_ok(const char *s, long long sec, long nsec, const char *lit)
{
    struct cli_time t;
    char out[CLI_TIME_MAX], name[128];
    int rc = cli_parse_time(s, &t, out);

    snprintf(name, sizeof(name), "time '%s'", s);
    T_OK(rc == 0 && t.sec == sec && t.nsec == nsec && strcmp(out, lit) == 0,
       name);
    if (rc == 0 && (t.sec != sec || t.nsec != nsec || strcmp(out, lit)))
        printf("#   got %lld.%09ld '%s'\n", t.sec, t.nsec, out);
}

static void time_bad(const char *s)
{
    struct cli_time t;
    char out[CLI_TIME_MAX], name[128];

    snprintf(name, sizeof(name), "bad time '%s' rejected", s);
    T_OK(cli_parse_time(s, &t, out) < 0, name);
}

static void test_times(void)
{
    time_ok("1970-01-01", 0, 0, "1970-01-01T00:00:00Z");
    time_ok("2025-01-01", 1735689600, 0, "2025-01-01T00:00:00Z");
    time_ok("2024-02-29", 1709164800, 0, "2024-02-29T00:00:00Z");
    time_ok("2000-02-29", 951782400, 0, "2000-02-29T00:00:00Z");
    time_ok("2025-01-01T00:00:00Z", 1735689600, 0, "2025-01-01T00:00:00Z");
    time_ok("2025-01-01t00:00:00z", 1735689600, 0, "2025-01-01T00:00:00Z");
    time_ok("2025-01-01 05:30:00+05:30", 1735689600, 0,
            "2025-01-01T05:30:00+05:30");
    time_ok("2024-12-31T19:00:00-05:00", 1735689600, 0,
            "2024-12-31T19:00:00-05:00");
    time_ok("2025-01-31T23:59:59.999999Z", 1738367999, 999999000,
            "2025-01-31T23:59:59.999999Z");
    time_ok("2025-01-01T00:00:00.5Z", 1735689600, 500000000,
            "2025-01-01T00:00:00.5Z");
    time_ok("2025-01-01T00:00:00.123456789Z", 1735689600, 123456789,
            "2025-01-01T00:00:00.123456789Z");
    time_ok("1969-12-31T23:59:59Z", -1, 0, "1969-12-31T23:59:59Z");
    time_bad("");
    time_bad("2025-1-01");
    time_bad("2025-01-1");
    time_bad("25-01-01");
    time_bad("2025/01/01");
    time_bad("2025-00-10");
    time_bad("2025-13-01");
    time_bad("2025-02-29");
    time_bad("1900-02-29");
    time_bad("2025-04-31");
    time_bad("0000-01-01");
    time_bad("2025-01-01T");
    time_bad("2025-01-01T00:00:00");
    time_bad("2025-01-01T00:00Z");
    time_bad("2025-01-01T24:00:00Z");
    time_bad("2025-01-01T00:60:00Z");
    time_bad("2025-01-01T00:00:61Z");
    time_bad("2025-01-01T00:00:00.Z");
    time_bad("2025-01-01T00:00:00.1234567890Z");
    time_bad("2025-01-01T00:00:00+0100");
    time_bad("2025-01-01T00:00:00+24:00");
    time_bad("2025-01-01T00:00:00Zjunk");
    time_bad("2025-01-01x");
    time_bad("2025-01-01'; DROP TABLE api_keys; --");
    time_bad("now");
}

static void test_cmp(void)
{
    struct cli_time a, b;
    char out[CLI_TIME_MAX];

    cli_parse_time("2025-01-01T01:00:00+01:00", &a, out);
    cli_parse_time("2025-01-01", &b, out);
    T_OK(cli_time_cmp(&a, &b) == 0, "cmp: same instant in two zones");
    cli_parse_time("2025-01-01T00:00:00.000001Z", &a, out);
    T_OK(cli_time_cmp(&b, &a) < 0 && cli_time_cmp(&a, &b) > 0,
       "cmp: one microsecond later");
}

static void test_uuid(void)
{
    T_OK(cli_is_uuid("0190f5e4-7b1c-7cc1-9e6a-3f2b8c4d5e6f"), "uuid: lower");
    T_OK(cli_is_uuid("0190F5E4-7B1C-7CC1-9E6A-3F2B8C4D5E6F"), "uuid: upper");
    T_OK(!cli_is_uuid("0190f5e4-7b1c-7cc1-9e6a-3f2b8c4d5e6"), "uuid: short");
    T_OK(!cli_is_uuid("0190f5e4-7b1c-7cc1-9e6a-3f2b8c4d5e6f0"), "uuid: long");
    T_OK(!cli_is_uuid("0190f5e47b1c7cc19e6a3f2b8c4d5e6f"), "uuid: no dashes");
    T_OK(!cli_is_uuid("0190f5e4-7b1c-7cc1-9e6a-3f2b8c4d5e6g"), "uuid: not hex");
    T_OK(!cli_is_uuid("0190f5e4+7b1c-7cc1-9e6a-3f2b8c4d5e6f"), "uuid: dash");
    T_OK(!cli_is_uuid(""), "uuid: empty");
}

static void test_opt(void)
{
    char a0[] = "x", a1[] = "--by", a2[] = "user", a3[] = "--by=model",
         a4[] = "--bypass", a5[] = "--to";
    char *argv[] = {a0, a1, a2, a3, a4, a5};
    const char *v = NULL;
    int i = 1;

    T_OK(cli_opt(6, argv, &i, "--by", &v) == 1 && i == 2 &&
           strcmp(v, "user") == 0, "opt: separate value");
    i = 3;
    T_OK(cli_opt(6, argv, &i, "--by", &v) == 1 && i == 3 &&
           strcmp(v, "model") == 0, "opt: --name=value");
    i = 4;
    T_OK(cli_opt(6, argv, &i, "--by", &v) == 0, "opt: prefix is no match");
    i = 5;
    T_OK(cli_opt(6, argv, &i, "--to", &v) == -1, "opt: missing value");
    T_OK(cli_is_help("--help") && cli_is_help("-h") && !cli_is_help("help"),
       "help flags");
}

static void test_text(void)
{
    char big[300];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    T_OK(cli_text_ok("alice", 256), "text: plain");
    T_OK(cli_text_ok("d\xc3\xa4vid \"x\", y", 256), "text: UTF-8 and quotes");
    T_OK(!cli_text_ok("", 256), "text: empty");
    T_OK(!cli_text_ok("a\nb", 256), "text: newline");
    T_OK(!cli_text_ok("a\x1b[2Jb", 256), "text: escape");
    T_OK(!cli_text_ok(big, 256), "text: too long");
}

int main(void)
{
    test_times();
    test_cmp();
    test_uuid();
    test_opt();
    test_text();
    return t_done();
}
