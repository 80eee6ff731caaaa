/* The operator HTTP API under /admin/, for callers holding the admin
 * credential (an admin API key or a JWT with the admin claim):
 *   GET  /admin/quotas   limits and the current period's balances
 *   POST /admin/quotas   {"action": "set"|"add"|"reset"|"delete",
 *                         "subject_kind", "subject", "model", "unit",
 *                         "period", "value", "time_zone"}
 * Every change is audited (quota_audit) with the caller as actor. */
#ifndef AIGW_ADMIN_H
#define AIGW_ADMIN_H

struct config;
struct request;

void admin_handle(const struct config *cfg, struct request *r);

#endif
