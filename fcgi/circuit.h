/* Circuit breaking per backend, host-wide: the state lives in a POSIX
 * shared-memory segment every worker process on the host maps (falling
 * back to process memory when it cannot be mapped). A backend whose
 * consecutive failures reach its threshold is skipped for open_ms, then
 * one request probes it (half-open): success closes the circuit, failure
 * opens it again. A Retry-After from the backend holds it off likewise. */
#ifndef AIGW_CIRCUIT_H
#define AIGW_CIRCUIT_H

enum circuit_state { CB_CLOSED, CB_OPEN, CB_HALF_OPEN, CB_HELD };

/* Maps the segment named name ("/aigw-cb-..."); NULL or failure: process
 * memory. Returns 1 when shared, 0 when process-local. */
int circuit_init(const char *name);
/* Whether a request may go to backend be now; takes the half-open probe
 * when the open period is over. */
int circuit_allow(const char *be);
/* Whether be would be skipped (no side effect). */
enum circuit_state circuit_peek(const char *be);
/* The outcome of a call. failures: threshold (0: breaking disabled). */
void circuit_result(const char *be, int ok, int failures, long open_ms);
/* Holds be off for ms (Retry-After). */
void circuit_hold(const char *be, long ms);
/* Concurrency cap (per process: a crashed process must not leak a
 * host-wide count): takes a slot of be's cap, 0 when it is full; cap <= 0
 * means none. Every successful enter is paired with a leave. */
int circuit_enter(const char *be, int cap);
void circuit_leave(const char *be, int cap);

#endif
