/* azure: not implemented yet (placeholder so the registry links). */
#include <stdio.h>

#include "../buf.h"
#include "provider.h"

static int azure_build(struct provider_call *c)
{
    buf_adds(c->scratch, "the azure provider is not implemented yet");
    return -1;
}

const struct provider_ops provider_azure = {
    .name = "azure",
    .build = azure_build,
};
