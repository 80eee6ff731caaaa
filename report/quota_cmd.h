/* aigw-admin quota set|add|reset|delete|show|list: operator management of
 * the quotas in PostgreSQL (sql/0007_quotas.sql), every change audited. */
#ifndef AIGW_REPORT_QUOTA_CMD_H
#define AIGW_REPORT_QUOTA_CMD_H

/* argv[i] is the quota command. Returns a CLI_* exit code. */
int quota_main(const char *conninfo, int argc, char **argv, int i);

#endif
