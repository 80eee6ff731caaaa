/* A tiny TAP harness (after redis testhelp.h and minunit). Each check
 * prints "ok N - name" or "not ok N - name"; t_done() prints the plan and
 * returns the exit status. */
#ifndef AIGW_T_H
#define AIGW_T_H

#include <stdio.h>
#include <string.h>

static int t_n, t_failed;

#define T_OK(cond, name)                                                  \
    do {                                                                  \
        t_n++;                                                            \
        if (cond) {                                                       \
            printf("ok %d - %s\n", t_n, name);                            \
        } else {                                                          \
            t_failed++;                                                   \
            printf("not ok %d - %s\n#   at %s:%d: %s\n", t_n, name,       \
                   __FILE__, __LINE__, #cond);                            \
        }                                                                 \
    } while (0)

#define T_EQ_STR(got, want, name)                                         \
    do {                                                                  \
        const char *t_g = (got), *t_w = (want);                           \
        int t_same = (t_g == NULL && t_w == NULL) ||                      \
                     (t_g != NULL && t_w != NULL && strcmp(t_g, t_w) == 0); \
        T_OK(t_same, name);                                               \
        if (!t_same)                                                      \
            printf("#   got:  %s\n#   want: %s\n", t_g ? t_g : "(null)",  \
                   t_w ? t_w : "(null)");                                 \
    } while (0)

#define T_EQ_INT(got, want, name)                                         \
    do {                                                                  \
        long long t_g = (long long)(got), t_w = (long long)(want);        \
        T_OK(t_g == t_w, name);                                           \
        if (t_g != t_w)                                                   \
            printf("#   got:  %lld\n#   want: %lld\n", t_g, t_w);         \
    } while (0)

static int t_done(void)
{
    printf("1..%d\n", t_n);
    return t_failed ? 1 : 0;
}

#endif
