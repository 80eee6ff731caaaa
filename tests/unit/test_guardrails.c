#include <time.h>

#include "../../fcgi/guardrails.c"
#include "t.h"

#define CONF_HEAD                                                          \
    "{\"database\":{\"conninfo\":\"x\"},"                                  \
    "\"backends\":[{\"name\":\"b\",\"provider\":\"openai\","               \
    "\"base_url\":\"http://127.0.0.1:9\"}],"                              \
    "\"routes\":[{\"name\":\"r\",\"prefix\":\"/v1\",\"backend\":\"b\"}],"

static struct config *load(const char *guards, char *err, size_t errsz)
{
    struct buf b = BUF_INIT(1 << 20);
    struct config *cfg;

    buf_adds(&b, CONF_HEAD);
    buf_adds(&b, guards);
    buf_adds(&b, "}");
    cfg = config_parse(b.ptr, "test", err, errsz);
    buf_release(&b);
    return cfg;
}

static const struct guardrails *G;

/* Matches of builtin name in s (one rule set per builtin). */
static int hits(const struct guard_dir *d, const char *s)
{
    struct guard_hits h = { 0 };
    struct buf out = BUF_INIT(1 << 20);
    int n = guard_scan(G, d, s, strlen(s), &out, &h);

    buf_release(&out);
    return n;
}

static char masked[4096];
static const char *mask(const struct guard_dir *d, const char *s)
{
    struct guard_hits h = { 0 };
    struct buf out = BUF_INIT(1 << 20);
    int n = guard_scan(G, d, s, strlen(s), &out, &h);

    snprintf(masked, sizeof(masked), "%s", n > 0 ? out.ptr : s);
    buf_release(&out);
    return masked;
}

/* Feeds s to the stream guard split at offset cut (and at every char
 * when cut is 0), then ends; returns the concatenated output. */
static char streamed[4096];
static int stream(const struct guard_dir *d, const char *s, size_t cut)
{
    struct guard_pending p;
    struct guard_hits h = { 0 };
    struct buf out = BUF_INIT(1 << 20);
    size_t n = strlen(s);
    int rc = 0;

    memset(&p, 0, sizeof(p));

    if (cut == 0) {
        for (size_t i = 0; i < n && rc >= 0; i++)
            rc = guard_stream_text(G, d, &p, s + i, 1, 0, &out, &h);
    } else {
        rc = guard_stream_text(G, d, &p, s, cut, 0, &out, &h);
        if (rc >= 0)
            rc = guard_stream_text(G, d, &p, s + cut, n - cut, 0, &out, &h);
    }
    if (rc >= 0)
        rc = guard_stream_text(G, d, &p, "", 0, 1, &out, &h);
    snprintf(streamed, sizeof(streamed), "%s", out.ptr ? out.ptr : "");
    buf_release(&out);
    buf_release(&p.text);
    return rc;
}

struct sample {
    const char *rule;
    const char *text;
    int want;
};

static const struct sample samples[] = {
    { "ssn", "my ssn is 123-45-6789.", 1 },
    { "ssn", "ssn 123 45 6789", 1 },
    { "ssn", "000-12-3456 is invalid", 0 },
    { "ssn", "666-12-3456", 0 },
    { "ssn", "123-45-67890", 0 },
    { "ssn", "123-45 6789 mixed", 0 },
    { "credit_card", "visa 4111 1111 1111 1111 ok", 1 },
    { "credit_card", "4111111111111111", 1 },
    { "credit_card", "mc 5555-5555-5555-4444", 1 },
    { "credit_card", "mc2 2223003122003222", 1 },
    { "credit_card", "amex 378282246310005", 1 },
    { "credit_card", "discover 6011111111111117", 1 },
    { "credit_card", "jcb 3530111333300000", 1 },
    { "credit_card", "diners 30569309025904", 1 },
    { "credit_card", "unionpay 6200000000000005", 1 },
    { "credit_card", "bad luhn 4111 1111 1111 1112", 0 },
    { "credit_card", "no network 1234567812345670", 0 },
    { "credit_card", "order 12345", 0 },
    { "phone", "call +1 415-555-2671 now", 1 },
    { "phone", "london +44 20 7946 0958", 1 },
    { "phone", "paris +33 1 23 45 67 89", 1 },
    { "phone", "(415) 555-2671", 1 },
    { "phone", "415.555.2671", 1 },
    { "phone", "+4915123456789", 1 },
    { "phone", "on 2024-01-15 at", 0 },
    { "phone", "ssn 123-45-6789", 0 },
    { "phone", "version 1.2", 0 },
    { "email", "write to bob.smith+x@mail.example.co.uk please", 1 },
    { "email", "caf\xc3\xa9 alice@example.com \xe2\x9c\x93", 1 },
    { "email", "not an email: bob@localhost", 0 },
    { "email", "at sign @ alone", 0 },
    { "ipv4", "host 192.168.1.20.", 1 },
    { "ipv4", "256.1.1.1", 0 },
    { "ipv4", "1.2.3", 0 },
    { "ipv6", "addr 2001:db8:85a3::8a2e:370:7334 up", 1 },
    { "ipv6", "fe80::1", 1 },
    { "ipv6", "2001:0db8:0000:0000:0000:ff00:0042:8329", 1 },
    { "ipv6", "time 12:30:45", 0 },
    { "iban", "DE89 3704 0044 0532 0130 00", 1 },
    { "iban", "GB82WEST12345698765432", 1 },
    { "iban", "DE89 3704 0044 0532 0130 01", 0 },
    { "aws_access_key", "key AKIAIOSFODNN7EXAMPLE here", 1 },
    { "aws_access_key", "AKIAIOSFODNN7EXAMPL", 0 },
    { "private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"
                     "-----END RSA PRIVATE KEY-----", 1 },
    { "private_key", "-----BEGIN PUBLIC KEY-----", 0 },
    { "jwt", "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", 1 },
    { "jwt", "eyJhbGciOiJIUzI1NiJ9 alone", 0 },
};

static const struct guard_dir *dir_of(const struct config *cfg,
                                      const char *set)
{
    for (size_t i = 0; i < cfg->guardrails->n_sets; i++)
        if (strcmp(cfg->guardrails->sets[i].name, set) == 0)
            return &cfg->guardrails->sets[i].req;
    return NULL;
}

int main(void)
{
    char err[512] = "", name[160];
    struct buf conf = BUF_INIT(1 << 16);
    struct config *cfg;
    const struct guard_dir *all, *rej, *cus, *patho;
    const char *names[] = { "ssn", "credit_card", "phone", "email", "ipv4",
                            "ipv6", "iban", "aws_access_key", "private_key",
                            "jwt" };

    /* one set per builtin, "all" masks with every builtin */
    buf_adds(&conf, "\"guardrails\":{\"match_limit\":100000,"
             "\"stream_holdback_max\":256,\"sets\":[");
    for (size_t i = 0; i < 10; i++)
        buf_addf(&conf, "{\"name\":\"%s\",\"request\":{\"action\":\"mask\","
                 "\"builtins\":[\"%s\"]}},", names[i], names[i]);
    buf_adds(&conf, "{\"name\":\"all\",\"roles\":[\"user\"],\"request\":"
             "{\"action\":\"mask\",\"builtins\":[\"ssn\",\"credit_card\","
             "\"phone\",\"email\",\"ipv4\",\"ipv6\",\"iban\","
             "\"aws_access_key\",\"private_key\",\"jwt\"]}},"
             "{\"name\":\"rej\",\"request\":{\"builtins\":[\"email\"],"
             "\"status\":451}},"
             "{\"name\":\"cus\",\"request\":{\"action\":\"mask\","
             "\"patterns\":[{\"name\":\"ticket\",\"pattern\":"
             "\"TCK-\\\\d{4}\"},{\"name\":\"word\",\"pattern\":\"secret\","
             "\"mask\":\"***\"}]}},"
             "{\"name\":\"patho\",\"request\":{\"patterns\":[{\"name\":"
             "\"evil\",\"pattern\":\"^(\\\\w+\\\\s?)*$\"}]}}],"
             "\"routes\":{\"r\":\"all\"}}");
    cfg = load(conf.ptr, err, sizeof(err));
    T_OK(cfg != NULL, "config with guardrails loads");
    if (cfg == NULL) {
        printf("# %s\n", err);
        return t_done();
    }
    G = cfg->guardrails;
    all = dir_of(cfg, "all");
    rej = dir_of(cfg, "rej");
    cus = dir_of(cfg, "cus");
    patho = dir_of(cfg, "patho");
    T_OK(guardrails_for_route(G, "r") == &G->sets[10], "route selects set");
    T_OK(guardrails_for_route(G, "x") == NULL, "unguarded route");
    T_EQ_INT(G->sets[10].roles, GUARD_ROLE_USER, "roles parsed");

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *s = &samples[i];

        snprintf(name, sizeof(name), "%s %s: %.60s", s->rule,
                 s->want ? "finds" : "ignores", s->text);
        for (char *c = name; *c; c++)
            if (*c == '\n')
                *c = ' ';
        T_EQ_INT(hits(dir_of(cfg, s->rule), s->text) > 0, s->want, name);
    }
    T_OK(guard_luhn("79927398713", 11) && !guard_luhn("79927398710", 11),
         "Luhn");
    T_OK(guard_iban_valid("GB82WEST12345698765432", 22) &&
         !guard_iban_valid("GB82WEST12345698765433", 22), "IBAN mod 97");

    /* masking */
    T_EQ_STR(mask(all, "mail bob@example.com, ssn 123-45-6789."),
             "mail <EMAIL>, ssn <SSN>.", "mask placeholders");
    T_EQ_STR(mask(all, "mail <EMAIL>, ssn <SSN>."),
             "mail <EMAIL>, ssn <SSN>.", "masking is idempotent");
    T_EQ_STR(mask(all, "\xc3\xa9t\xc3\xa9 \xe2\x86\x92" "bob@example.com\xe2\x86\x90 "
                  "\xf0\x9f\x98\x80"),
             "\xc3\xa9t\xc3\xa9 \xe2\x86\x92<EMAIL>\xe2\x86\x90 " "\xf0\x9f\x98\x80",
             "UTF-8 around a match kept");
    T_EQ_STR(mask(all, "ip 10.0.0.1 and 10.0.0.2"), "ip <IPV4> and <IPV4>",
             "two matches");
    T_EQ_STR(mask(cus, "TCK-1234 is secret"), "<TICKET> is ***",
             "custom patterns and masks");
    /* overlapping rules: a card number inside an email-like token */
    T_EQ_STR(mask(all, "x 4111111111111111@example.com y"), "x <CREDIT_CARD> y",
             "overlapping matches merge into one placeholder");
    T_EQ_INT(hits(rej, "hi bob@example.com"), 1, "reject set finds");
    T_EQ_INT(rej->status, 451, "reject status configured");
    T_EQ_INT(rej->mode, GUARD_REJECT, "reject is the default action");

    /* stream: a pattern split at every offset is still masked */
    {
        const char *s = "reach me at bob@example.com or 415-555-2671 ok";
        const char *want = "reach me at <EMAIL> or <PHONE> ok";
        int bad = 0;

        for (size_t cut = 1; cut < strlen(s); cut++)
            if (stream(all, s, cut) < 0 || strcmp(streamed, want) != 0) {
                printf("# cut %zu: %s\n", cut, streamed);
                bad++;
            }
        T_EQ_INT(bad, 0, "split at every offset: masked the same");
        T_OK(stream(all, s, 0) >= 0 && strcmp(streamed, want) == 0,
             "one byte per chunk: masked the same");
        
        T_OK(stream(rej, "mail bob@example.com", 9) < 0,
             "reject rule blocks a split stream");
        T_OK(stream(rej, "no address here", 4) == 0 &&
             strcmp(streamed, "no address here") == 0, "clean stream passes");
    }
    {
        struct buf pem = BUF_INIT(1 << 20);

        buf_adds(&pem, "key -----BEGIN PRIVATE KEY-----\n");
        for (int i = 0; i < 40; i++)
            buf_adds(&pem, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ\n");
        T_OK(stream(all, pem.ptr, 0) >= 0 &&
             strcmp(streamed, "key <PRIVATE_KEY>") == 0,
             "unterminated PEM block past the holdback cap is masked");
        buf_adds(&pem, "-----END PRIVATE KEY----- after");
        T_OK(stream(all, pem.ptr, 0) >= 0 &&
             strcmp(streamed, "key <PRIVATE_KEY> after") == 0,
             "a long PEM block is masked whole, the text after it kept");
        if (strcmp(streamed, "key <PRIVATE_KEY> after") != 0)
            printf("# got %.200s\n", streamed);
        buf_release(&pem);
    }

    /* a pathological pattern on 1 MB trips the limit fast and blocks */
    {
        size_t n = 1 << 20;
        char *big = xmalloc(n + 1);
        struct guard_hits h = { 0 };
        struct buf out = BUF_INIT(1 << 22);
        struct timespec t0, t1;
        double ms;
        int rc;

        memset(big, 'a', n);
        big[n - 1] = '!';
        big[n] = '\0';
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = guard_scan(G, patho, big, n, &out, &h);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        T_OK(rc < 0 && h.error, "catastrophic backtracking trips the limit");
        T_OK(ms < 500, "and fast");
        printf("# pathological 1 MB: %.2f ms\n", ms);
        rc = guard_scan(G, all, big, n, &out, &h);
        T_OK(rc == 0, "all builtins on 1 MB of text: no match, no error");
        buf_release(&out);
        free(big);
    }

    /* benchmark (not a test): AIGW_GUARD_BENCH=1 build/unit/test_guardrails
     * prints the cost of all builtins on a ~1 KB prompt */
    if (getenv("AIGW_GUARD_BENCH") != NULL) {
        struct buf p = BUF_INIT(1 << 16), out = BUF_INIT(1 << 16);
        struct timespec t0, t1;
        int iters = 20000, found = 0;
        double us;

        while (p.len < 1000)
            buf_adds(&p, "Please summarise the meeting notes: the team met "
                     "on Tuesday, reviewed Q3 numbers and agreed next steps. ");
        buf_adds(&p, "Contact bob@example.com.");
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < iters; i++) {
            struct guard_hits h = { 0 };

            buf_reset(&out);
            found += guard_scan(G, all, p.ptr, p.len, &out, &h);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        us = ((t1.tv_sec - t0.tv_sec) * 1e6 +
              (t1.tv_nsec - t0.tv_nsec) / 1e3) / iters;
        printf("# bench: all 10 builtins, %zu-byte prompt (1 match, masked):"
               " %.1f us per scan (%d matches)\n", p.len, us, found);
        buf_release(&p);
        buf_release(&out);
    }

    /* config errors */
    config_free(cfg);
    cfg = load("\"guardrails\":{\"sets\":[{\"name\":\"a\",\"request\":"
               "{\"builtins\":[\"nope\"]}}]}", err, sizeof(err));
    T_OK(cfg == NULL && strstr(err, "unknown builtin"), "unknown builtin");
    cfg = load("\"guardrails\":{\"sets\":[{\"name\":\"a\",\"request\":"
               "{\"patterns\":[{\"name\":\"p\",\"pattern\":\"(\"}]}}]}", err,
               sizeof(err));
    T_OK(cfg == NULL && strstr(err, "pattern p"), "bad regex cites the rule");
    cfg = load("\"guardrails\":{\"sets\":[],\"routes\":{\"r\":\"zz\"}}", err,
               sizeof(err));
    T_OK(cfg == NULL && strstr(err, "set that is not defined"),
         "unknown set");
    cfg = load("\"guardrails\":{\"sets\":[{\"name\":\"a\",\"webhook\":"
               "{\"url\":\"ftp://x\"}}]}", err, sizeof(err));
    T_OK(cfg == NULL && strstr(err, "webhook"), "webhook url checked");
    config_free(cfg);
    buf_release(&conf);
    tls_free(pthread_getspecific(tls_key));
    pthread_setspecific(tls_key, NULL);
    return t_done();
}
