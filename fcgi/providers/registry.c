#include <string.h>

#include "provider.h"

extern const struct provider_ops provider_openai;
extern const struct provider_ops provider_anthropic;
extern const struct provider_ops provider_bedrock;
extern const struct provider_ops provider_azure;
extern const struct provider_ops provider_gemini;
extern const struct provider_ops provider_vertex;

static const struct {
    const char *name;
    const struct provider_ops *ops;
} providers[] = {
    { "openai", &provider_openai },
    /* Ollama, vLLM, DeepSeek, xAI, Mistral, Groq, Together */
    { "openai-compatible", &provider_openai },
    { "anthropic", &provider_anthropic },
    { "bedrock", &provider_bedrock },
    { "azure", &provider_azure },
    { "gemini", &provider_gemini },
    { "vertex", &provider_vertex },
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
    return "openai, openai-compatible, anthropic, bedrock, azure, gemini, "
           "vertex";
}
