/* The builtin guard rules: a PCRE2 pattern each, plus a check the regex
 * cannot express (Luhn for cards, mod-97 for IBANs, digit counts for
 * phone numbers). Patterns start with a lookbehind so that a long run of
 * letters or digits is tried once, not at every offset. */
#include "guardrails.h"

#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The digits of s[0..n) into d (at most dmax); returns their count. */
static size_t digits(const char *s, size_t n, char *d, size_t dmax)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (is_digit(s[i])) {
            if (k == dmax)
                return dmax + 1;
            d[k++] = s[i];
        }
    return k;
}

/* 1 when the digits in s[0..n) pass the Luhn check. */
int guard_luhn(const char *s, size_t n)
{
    int sum = 0, dbl = 0, any = 0;

    for (size_t i = n; i-- > 0;) {
        int v;

        if (!is_digit(s[i]))
            continue;
        v = s[i] - '0';
        if (dbl && (v *= 2) > 9)
            v -= 9;
        sum += v;
        dbl = !dbl;
        any = 1;
    }
    return any && sum % 10 == 0;
}

static int prefix_in(const char *d, int len, long lo, long hi)
{
    long v = 0;

    for (int i = 0; i < len; i++)
        v = v * 10 + (d[i] - '0');
    return v >= lo && v <= hi;
}

/* Issuer prefixes and lengths of the major networks: Visa, Mastercard,
 * American Express, Discover, JCB, Diners Club, UnionPay, Maestro. */
static int card_network(const char *d, size_t n)
{
    if (d[0] == '4')
        return n == 13 || n == 16 || n == 19;
    if (prefix_in(d, 2, 51, 55) || prefix_in(d, 4, 2221, 2720))
        return n == 16;
    if (prefix_in(d, 2, 34, 34) || prefix_in(d, 2, 37, 37))
        return n == 15;
    if (prefix_in(d, 4, 6011, 6011) || prefix_in(d, 2, 65, 65) ||
        prefix_in(d, 3, 644, 649) || prefix_in(d, 6, 622126, 622925))
        return n >= 16 && n <= 19;
    if (prefix_in(d, 4, 3528, 3589))
        return n >= 16 && n <= 19;
    if (prefix_in(d, 3, 300, 305) || prefix_in(d, 4, 3095, 3095) ||
        prefix_in(d, 2, 36, 36) || prefix_in(d, 2, 38, 39))
        return n >= 14 && n <= 19;
    if (prefix_in(d, 2, 62, 62))
        return n >= 16 && n <= 19;
    if (prefix_in(d, 2, 50, 50) || prefix_in(d, 2, 56, 69))
        return n >= 12 && n <= 19;
    return 0;
}

static int card_valid(const char *s, size_t n)
{
    char d[20];
    size_t k = digits(s, n, d, sizeof(d));

    return k >= 12 && k <= 19 && card_network(d, k) && guard_luhn(d, k);
}

/* International numbers (+CC) have 8 to 15 digits (E.164); national ones
 * 10 or 11 (which keeps dates, SSNs and order numbers out). */
static int phone_valid(const char *s, size_t n)
{
    char d[16];
    size_t k = digits(s, n, d, sizeof(d));

    if (n > 0 && s[0] == '+')
        return k >= 8 && k <= 15;
    return k >= 10 && k <= 11;
}

/* ISO 13616: 15 to 34 characters, mod 97 of the rearranged number is 1. */
int guard_iban_valid(const char *s, size_t n)
{
    char c[34];
    size_t k = 0;
    int rem = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        if (k == sizeof(c))
            return 0;
        c[k++] = s[i];
    }
    if (k < 15)
        return 0;
    for (size_t i = 0; i < k; i++) {
        char ch = c[(i + 4) % k];

        if (is_digit(ch))
            rem = (rem * 10 + (ch - '0')) % 97;
        else if (ch >= 'A' && ch <= 'Z')
            rem = (rem * 100 + (ch - 'A' + 10)) % 97;
        else
            return 0;
    }
    return rem == 1;
}

#define HEX "[0-9A-Fa-f]{1,4}"
#define OCTET "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)"
#define LABEL "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

static const struct guard_builtin builtins[] = {
    { "ssn",
      "(?<![\\d-])(?!000|666|9\\d\\d)\\d{3}([- ])(?!00)\\d{2}\\1"
      "(?!0000)\\d{4}(?![\\d-])",
      NULL, "<SSN>" },
    { "credit_card", "(?<![\\d.-])\\d(?:[ -]?\\d){11,18}(?!\\d)",
      card_valid, "<CREDIT_CARD>" },
    { "phone",
      "(?<![\\w+])(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{1,4}\\)[ .-]?)?"
      "\\d{1,4}+(?:[ .-]?\\d{1,4}+){1,6}(?!\\w)",
      phone_valid, "<PHONE>" },
    { "email",
      "(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@" LABEL "(?:\\." LABEL ")*"
      "\\.[A-Za-z]{2,63}(?![A-Za-z0-9-])",
      NULL, "<EMAIL>" },
    { "ipv4", "(?<![\\d.])(?:" OCTET "\\.){3}" OCTET "(?!\\d|\\.\\d)",
      NULL, "<IPV4>" },
    { "ipv6",
      "(?<![:.\\w])(?:(?:" HEX ":){7}" HEX "|(?:" HEX ":){1,7}:"
      "|(?:" HEX ":){1,6}:" HEX "|(?:" HEX ":){1,5}(?::" HEX "){1,2}"
      "|(?:" HEX ":){1,4}(?::" HEX "){1,3}|(?:" HEX ":){1,3}(?::" HEX
      "){1,4}|(?:" HEX ":){1,2}(?::" HEX "){1,5}|" HEX ":(?::" HEX
      "){1,6}|::" HEX "(?::" HEX "){0,6})(?![:.\\w])",
      NULL, "<IPV6>" },
    { "iban",
      "(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}"
      "(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])",
      guard_iban_valid, "<IBAN>" },
    { "aws_access_key",
      "(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)"
      "[A-Z0-9]{16}(?![A-Za-z0-9])",
      NULL, "<AWS_ACCESS_KEY>" },
    { "private_key",
      "-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY-----(?:[\\s\\S]*?-----END"
      "[A-Z0-9 ]{0,40} PRIVATE KEY-----|[\\s\\S]*)",
      NULL, "<PRIVATE_KEY>" },
    { "jwt",
      "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,}+\\.eyJ[A-Za-z0-9_-]{2,}+\\."
      "[A-Za-z0-9_-]*+",
      NULL, "<JWT>" },
};

const struct guard_builtin *guard_builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}
