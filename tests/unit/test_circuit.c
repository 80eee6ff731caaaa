/* circuit.c: consecutive-failure and error-rate ejection over a sliding
 * window, the growing ejection time, half-open probes (a fake clock drives
 * the internal functions); failover.c's Retry-After (seconds and
 * HTTP-dates). */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../fcgi/circuit.c"
#include "../../fcgi/failover.h"
#include "t.h"

static struct slot *fresh(const char *name)
{
    return find(name, 1);
}

/* n outcomes at time t: ok first, then failures (by rule p). */
static long feed(struct slot *s, const struct circuit_policy *p, int64_t t,
                 int oks, int fails, struct circuit_ejection *ej)
{
    long ms = 0;

    for (int i = 0; i < oks; i++)
        result_at(s, 1, p, t, ej);
    for (int i = 0; i < fails && ms == 0; i++) {
        memset(ej, 0, sizeof(*ej));
        ms = result_at(s, 0, p, t, ej);
    }
    return ms;
}

static void test_rate(void)
{
    struct circuit_policy p = { .error_rate_pct = 50, .min_requests = 6,
                                .window_ms = 10000, .open_ms = 1000,
                                .max_open_ms = 3000 };
    struct circuit_ejection ej;
    struct slot *s = fresh("rate");
    int64_t t = 1000000;

    T_EQ_INT(feed(s, &p, t, 2, 2, &ej), 0, "4 calls: under the volume");
    T_EQ_INT(feed(s, &p, t, 4, 0, &ej), 0, "2 of 8 failed: kept");
    T_EQ_INT(feed(s, &p, t + 500, 0, 1, &ej), 0, "3 of 9 failed: kept");
    T_EQ_INT(feed(s, &p, t + 600, 0, 1, &ej), 0, "4 of 10: kept");
    T_EQ_INT(feed(s, &p, t + 700, 0, 1, &ej), 0, "5 of 11: kept");
    T_EQ_INT(feed(s, &p, t + 800, 0, 1, &ej), 1000, "6 of 12 = 50%: ejected "
             "for open_ms");
    T_EQ_INT(ej.by_rate, 1, "ejected by the rate");
    T_EQ_INT(ej.fails * 100 / ej.total, 50, "its figures");
    T_EQ_INT(atomic_load(&s->open_until), t + 800 + 1000, "open until");

    /* a failure of a call that was in flight is not a failed probe */
    T_EQ_INT(result_at(s, 0, &p, t + 900, &ej), 0, "in-flight failure: "
             "no new ejection");
    /* the probe after open_ms fails: ejected again, twice as long */
    atomic_store(&s->probe_at, t + 1900);
    T_EQ_INT(result_at(s, 0, &p, t + 1900, &ej), 2000, "failed probe: "
             "ejected again for 2x");
    atomic_store(&s->probe_at, t + 4000);
    T_EQ_INT(result_at(s, 0, &p, t + 4000, &ej), 3000, "third: capped at "
             "max_open_ms");
    atomic_store(&s->probe_at, t + 7100);
    result_at(s, 1, &p, t + 7100, &ej);
    T_EQ_INT(atomic_load(&s->open_until), 0, "probe succeeded: closed");
    T_EQ_INT(feed(s, &p, t + 7200, 0, 5, &ej), 0, "fresh window after the "
             "probe: 5 failures are under the volume");
    T_EQ_INT(feed(s, &p, t + 7300, 0, 1, &ej), 3000, "ejected again soon "
             "after: the backoff keeps growing (capped)");
    atomic_store(&s->probe_at, t + 10400);
    result_at(s, 1, &p, t + 10400, &ej);
    T_EQ_INT(feed(s, &p, t + 20000, 0, 6, &ej), 1000, "healthy for longer "
             "than max_open_ms: the backoff starts over");
}

static void test_window_slides(void)
{
    struct circuit_policy p = { .error_rate_pct = 50, .min_requests = 4,
                                .window_ms = 1000, .open_ms = 500,
                                .max_open_ms = 500 };
    struct circuit_ejection ej;
    struct slot *s = fresh("slide");
    int64_t t = 5000000;

    T_EQ_INT(feed(s, &p, t, 0, 3, &ej), 0, "3 failures: under the volume");
    T_EQ_INT(feed(s, &p, t + 1500, 1, 0, &ej), 0, "later success");
    T_EQ_INT(feed(s, &p, t + 1600, 2, 1, &ej), 0, "the old failures slid "
             "out of the window: 1 of 4");
}

static void test_consecutive(void)
{
    struct circuit_policy p = { .failures = 3, .open_ms = 200,
                                .max_open_ms = 200 };
    struct circuit_ejection ej;
    struct slot *s = fresh("consec");

    T_EQ_INT(feed(s, &p, 100, 0, 2, &ej), 0, "2 of 3");
    T_EQ_INT(feed(s, &p, 100, 1, 2, &ej), 0, "a success resets the run");
    T_EQ_INT(feed(s, &p, 100, 0, 1, &ej), 200, "3 in a row: ejected");
    T_EQ_INT(ej.by_rate, 0, "by consecutive failures");
    T_EQ_INT(circuit_result("nobody", 0, NULL, &ej), 0, "no policy: off");
}

static void test_retry_after(void)
{
    struct routing_settings rs = { .retry_after_max_ms = 60000 };
    long now = 1445412480;      /* Wed, 21 Oct 2015 07:28:00 GMT */

    T_EQ_INT(failover_retry_after_ms(&rs, "7", now), 7000, "seconds");
    T_EQ_INT(failover_retry_after_ms(&rs, "99999", now), 60000, "capped");
    T_EQ_INT(failover_retry_after_ms(&rs, "Wed, 21 Oct 2015 07:28:05 GMT",
                                     now), 5000, "IMF-fixdate");
    T_EQ_INT(failover_retry_after_ms(&rs, "Wednesday, 21-Oct-15 07:28:03 "
                                     "GMT", now), 3000, "RFC 850 date");
    T_EQ_INT(failover_retry_after_ms(&rs, "Wed Oct 21 07:28:02 2015", now),
             2000, "asctime date");
    T_EQ_INT(failover_retry_after_ms(&rs, "Wed, 21 Oct 2015 07:27:00 GMT",
                                     now), 0, "a past date: no hold");
    T_EQ_INT(failover_retry_after_ms(&rs, "Thu, 22 Oct 2015 07:28:00 GMT",
                                     now), 60000, "a far date: capped");
    T_EQ_INT(failover_retry_after_ms(&rs, "soon", now), 0, "garbage");
    T_EQ_INT(failover_retry_after_ms(&rs, "-3", now), 0, "negative");
}

/* The state file outlives a reboot; its monotonic times must not. */
static void test_state_file_across_boots(void)
{
    char path[] = "/tmp/aigw-test-circuit-XXXXXX";
    int fd = mkstemp(path);
    struct table *t;

    T_OK(fd >= 0, "temp file");
    close(fd);
    T_EQ_INT(circuit_init(path), 1, "mapped: shared");
    circuit_hold("held", 60000);
    T_EQ_INT(circuit_peek("held"), CB_HELD, "held for a minute");
    t = tab;
    T_EQ_INT(circuit_init(path), 1, "mapped again (a second process)");
    T_EQ_INT(circuit_peek("held"), CB_HELD, "same boot: the state is kept");
    munmap(t, sizeof(*t));
    t = tab;
    memcpy(t->boot_id, "another-boot", 13);   /* as if written before a reboot */
    T_EQ_INT(circuit_init(path), 1, "mapped after the reboot");
    T_EQ_INT(circuit_peek("held"), CB_CLOSED, "another boot: cleared");
    munmap(t, sizeof(*t));
    unlink(path);
}

int main(void)
{
    test_state_file_across_boots();
    test_rate();
    test_window_slides();
    test_consecutive();
    test_retry_after();
    return t_done();
}
