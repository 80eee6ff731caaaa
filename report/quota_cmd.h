/* aigw-admin quota set|add|reset|delete|show|list: operator management of
 * the quotas in PostgreSQL (sql/0007_quotas.sql), every change audited. */
#ifndef AIGW_REPORT_QUOTA_CMD_H
#define AIGW_REPORT_QUOTA_CMD_H

/* argv[i] is the quota command. Returns a CLI_* exit code. */
int quota_main(const char *conninfo, int argc, char **argv, int i);

/* Every limit with the current period's balance of each subject: columns
 * subject_kind, subject, model, unit, period, limit (with this period's
 * adjustment), used, reserved, remaining, resets_at (RFC 3339, UTC),
 * time_zone. $1: subject kind or NULL (all), $2: subject or NULL. Shared
 * by aigw-admin quota show/list and aigw-report quota. */
extern const char quota_show_sql[];

#endif
