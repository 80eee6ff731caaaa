/* anthropic: not implemented yet (placeholder so the registry links). */
#include <stdio.h>

#include "../buf.h"
#include "provider.h"

static int anthropic_build(struct provider_call *c)
{
    buf_adds(c->scratch, "the anthropic provider is not implemented yet");
    return -1;
}

const struct provider_ops provider_anthropic = {
    .name = "anthropic",
    .build = anthropic_build,
};
