/* --by parsing of report/spend.c and the SQL it builds: dimensions in the
 * given order, the key's owner columns, the grain of the rollup read.
 * TAP via t.h. */
#include "../../report/csv.c"
#include "../../report/db.c"
#include "../../report/out.c"
#include "../../report/spend.c"
#include "../../report/table.c"
#include "t.h"

/* The key column names and grain for --by list, as "a,b,c|grain". */
static void keys_of(const char *list, char *out, size_t n)
{
    struct spend_by by;
    const struct spend_dim *keys[SPEND_MAX_DIMS + 2];
    char bad[64];
    int nk, grain = GRAIN_MONTH;
    size_t o = 0;

    if (spend_parse_by(list, &by, bad, sizeof(bad)) < 0) {
        snprintf(out, n, "bad:%s", bad);
        return;
    }
    nk = key_dims(&by, keys);
    for (int i = 0; i < nk; i++) {
        o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "",
                              keys[i]->column);
        if (keys[i]->grain > grain)
            grain = keys[i]->grain;
    }
    snprintf(out + o, n - o, "|%s", grain_names[grain]);
}

static void by_is(const char *list, const char *want)
{
    char got[256], name[128];

    keys_of(list, got, sizeof(got));
    snprintf(name, sizeof(name), "--by %s -> %s", list, want);
    T_OK(strcmp(got, want) == 0, name);
    if (strcmp(got, want) != 0)
        printf("#   got %s\n", got);
}

static void test_parse_by(void)
{
    by_is("group", "group_id|month");
    by_is("month,group", "month,group_id|month");
    by_is("group,model,provider,route", "group_id,model,provider,route|month");
    by_is("day,group", "day,group_id|day");
    by_is("user,model", "user_id,model|hour");
    by_is("api_key", "api_key_id,user_id,group_id|hour");
    by_is("api_key,group", "api_key_id,user_id,group_id|hour");
    by_is("group,api_key,user", "group_id,api_key_id,user_id|hour");
    by_is("model,api_key", "model,api_key_id,user_id,group_id|hour");
    by_is("api_key,user,group,model,provider,route,day,month",
          "api_key_id,user_id,group_id,model,provider,route,day,month|hour");
    by_is("team", "bad:team");
    by_is("group,group", "bad:group");
    by_is("group,", "bad:");
    by_is(",group", "bad:");
    by_is("", "bad:");
    by_is("Group", "bad:Group");
    by_is("group;DROP TABLE x", "bad:group;DROP TABLE x");
}

static void test_sql(void)
{
    struct spend_by by;
    const struct spend_dim *keys[SPEND_MAX_DIMS + 2];
    struct buf b = BUF_INIT(16384);
    char bad[64];
    int n;

    spend_parse_by("month,group", &by, bad, sizeof(bad));
    n = key_dims(&by, keys);
    build_sql(&b, keys, n, 0, 1);
    T_OK(strstr(b.ptr, "GROUP BY GROUPING SETS ((to_char(u.bucket AT TIME "
                       "ZONE 'UTC', 'YYYY-MM'), u.group_id), ())") != NULL,
         "sql: grouping sets of the dimensions and the grand total");
    T_OK(strstr(b.ptr, "WHERE u.group_id = $4 ") != NULL &&
             strstr(b.ptr, "api_keys") == NULL,
         "sql: --group is a parameter; no api_keys join without api_key");
    T_OK(strstr(b.ptr, "ORDER BY 1, to_char") != NULL,
         "sql: totals last, then the dimensions in order");
    buf_release(&b);
}

int main(void)
{
    test_parse_by();
    test_sql();
    return t_done();
}
