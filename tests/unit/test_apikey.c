#include "../../fcgi/apikey.c"
#include "t.h"

int main(void)
{
    char k1[APIKEY_SECRET_LEN + 1], k2[APIKEY_SECRET_LEN + 1];
    char hex[APIKEY_HASH_LEN * 2 + 1], hint[APIKEY_HINT_MAX];
    unsigned char h[APIKEY_HASH_LEN];
    int charset_ok = 1;

    T_OK(apikey_generate(k1, sizeof(k1)) == 0, "generate");
    T_OK(apikey_generate(k2, sizeof(k2)) == 0, "generate again");
    T_EQ_INT(strlen(k1), APIKEY_SECRET_LEN, "length");
    T_OK(strncmp(k1, "sk-aigw-", 8) == 0, "prefix");
    T_OK(strcmp(k1, k2) != 0, "two keys differ");
    for (size_t i = 8; i < strlen(k1); i++)
        if (strchr(b64url, k1[i]) == NULL)
            charset_ok = 0;
    T_OK(charset_ok, "base64url alphabet only");
    T_OK(apikey_generate(k1, 10) < 0, "short buffer refused");

    apikey_hash("abc", 3, h);
    apikey_hex(h, sizeof(h), hex);
    T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223"
                  "b00361a396177a9cb410ff61f20015ad", "SHA-256 test vector");

    apikey_generate(k1, sizeof(k1));
    apikey_hint(k1, strlen(k1), hint, sizeof(hint));
    T_OK(strncmp(hint, "sk-aigw-...", 11) == 0 &&
         strcmp(hint + 11, k1 + strlen(k1) - 4) == 0, "hint shows last 4");
    apikey_hint("short", 5, hint, sizeof(hint));
    T_EQ_STR(hint, "...", "short key shows nothing");
    return t_done();
}
