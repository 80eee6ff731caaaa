/* Time-ordered request ids (UUIDv7, RFC 9562): ledger inserts stay in
 * index order and the id carries its own timestamp. */
#ifndef AIGW_UUID7_H
#define AIGW_UUID7_H

#include <stdint.h>

struct uuid7_gen {
    uint64_t s[2];     /* xorshift128+ state, seeded from getrandom */
};

int uuid7_init(struct uuid7_gen *g);
/* Writes the canonical 36-character form and a NUL into out. */
void uuid7_make(struct uuid7_gen *g, int64_t unix_ms, char out[37]);

#endif
