/* A per-process copy of model_prices, refreshed by the ledger writer, so
 * the access log and metrics carry a request's cost without a database
 * round trip. The ledger prices rows itself in SQL (aigw_ingest_usage);
 * this cache follows the same rules: the served model, else the served
 * model without its date suffix, else the requested model, at the price
 * in effect at the request's time. */
#ifndef AIGW_PRICES_H
#define AIGW_PRICES_H

#include <stdint.h>

struct usage_event;

/* Reloads the table over conn (a PGconn). Returns the number of prices
 * loaded, or -1 (the previous copy stays). */
int prices_refresh(void *conn);
/* The event's cost in pico-USD, or -1 when its model has no price or no
 * copy was loaded yet. */
int64_t prices_cost(const struct usage_event *ev);
/* The same for model (served or requested name) at ts_us with these
 * tokens (in includes cached): pico-USD, or -1 when it has no price. */
int64_t prices_cost_model(const char *model, int64_t ts_us, int64_t in,
                          int64_t cached, int64_t out);
void prices_free(void);

#endif
