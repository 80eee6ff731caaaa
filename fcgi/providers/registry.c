#include <string.h>

#include "provider.h"

extern const struct provider_ops provider_openai;

static const struct {
    const char *name;
    const struct provider_ops *ops;
} providers[] = {
    { "openai", &provider_openai },
    /* Ollama, vLLM, DeepSeek, xAI, ... speak the same dialect */
    { "openai-compatible", &provider_openai },
};

#define N_PROVIDERS (sizeof(providers) / sizeof(providers[0]))

const struct provider_ops *provider_find(const char *name)
{
    for (size_t i = 0; i < N_PROVIDERS; i++)
        if (strcmp(providers[i].name, name) == 0)
            return providers[i].ops;
    return NULL;
}

const char *provider_names(void)
{
    return "openai, openai-compatible";
}
