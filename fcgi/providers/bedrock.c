/* bedrock: not implemented yet (placeholder so the registry links). */
#include <stdio.h>

#include "../buf.h"
#include "provider.h"

static int bedrock_build(struct provider_call *c)
{
    buf_adds(c->scratch, "the bedrock provider is not implemented yet");
    return -1;
}

const struct provider_ops provider_bedrock = {
    .name = "bedrock",
    .build = bedrock_build,
};
