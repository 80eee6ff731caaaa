/* Circuit breaking and outlier ejection per backend, host-wide: the state
 * lives in a POSIX shared-memory segment every worker process on the host
 * maps (falling back to process memory when it cannot be mapped). A
 * backend is ejected (its circuit opens) when its consecutive failures
 * reach a threshold, or when its error rate over a sliding window reaches
 * one (with a minimum request volume). It is skipped for the ejection
 * time, which doubles with each ejection in a row up to a cap; then one
 * request probes it (half-open): success closes the circuit, failure
 * ejects it again. A Retry-After from the backend holds it off likewise. */
#ifndef AIGW_CIRCUIT_H
#define AIGW_CIRCUIT_H

enum circuit_state { CB_CLOSED, CB_OPEN, CB_HALF_OPEN, CB_HELD };

/* A backend's ejection rules (backends[].circuit). */
struct circuit_policy {
    int failures;          /* consecutive failures that eject; 0: off */
    int error_rate_pct;    /* error rate (1..100) that ejects; 0: off */
    int min_requests;      /* calls in the window before the rate counts */
    long window_ms;        /* the rate's sliding window */
    long open_ms;          /* first ejection; doubles while they repeat */
    long max_open_ms;      /* cap on the growing ejection time */
};

/* Why circuit_result ejected a backend (for the log line). */
struct circuit_ejection {
    long ms;               /* ejected for; 0: not ejected by this call */
    int by_rate;           /* 1: error rate, 0: consecutive failures */
    int fails, total;      /* the window's counts, or consecutive fails */
    int count;             /* ejections in a row */
};

/* Maps the state file at path (created if missing; every worker process
 * of the host maps the same one); NULL or failure: process memory.
 * Returns 1 when shared, 0 when process-local. */
int circuit_init(const char *path);
/* Whether a request may go to backend be now; takes the half-open probe
 * when the open period is over. */
int circuit_allow(const char *be);
/* Whether be would be skipped (no side effect). */
enum circuit_state circuit_peek(const char *be);
/* The outcome of a call under policy p; out (may be NULL) says whether
 * this call ejected the backend. Returns out->ms. */
long circuit_result(const char *be, int ok, const struct circuit_policy *p,
                    struct circuit_ejection *out);
/* Holds be off for ms (Retry-After). */
void circuit_hold(const char *be, long ms);
/* Concurrency cap (per process: a crashed process must not leak a
 * host-wide count): takes a slot of be's cap, 0 when it is full; cap <= 0
 * means none. Every successful enter is paired with a leave. */
int circuit_enter(const char *be, int cap);
void circuit_leave(const char *be, int cap);

#endif
