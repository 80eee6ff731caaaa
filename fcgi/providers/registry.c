#include <string.h>

#include "provider.h"

extern const struct provider_ops provider_openai;

static const struct {
    const char *name;
    const struct provider_ops *ops;
} providers[] = {
    { "openai", &provider_openai },
    /* OpenAI-compatible servers speak the same dialect */
    { "openai-compatible", &provider_openai },
};

const struct provider_ops *provider_find(const char *name)
{
    for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
        if (strcmp(providers[i].name, name) == 0)
            return providers[i].ops;
    return NULL;
}
