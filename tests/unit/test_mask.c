#include "../../fcgi/mask.c"
#include "t.h"

int main(void)
{
    char out[32];
    const char *k = "sk-aigw-0123456789abcdefghijklmnopqrstuvwxyzABCD";

    mask_secret(k, strlen(k), out, sizeof(out));
    T_EQ_STR(out, "sk-...ABCD", "prefix and last four");
    mask_secret("sk-short", 8, out, sizeof(out));
    T_EQ_STR(out, "sk-...", "short secret: nothing of it shown");
    k = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    mask_secret(k, strlen(k), out, sizeof(out));
    T_EQ_STR(out, "...dXJl", "no dash prefix");
    mask_secret(NULL, 0, out, sizeof(out));
    T_EQ_STR(out, "...", "NULL");
    return t_done();
}
