/* gemini: not implemented yet (placeholder so the registry links). */
#include <stdio.h>

#include "../buf.h"
#include "provider.h"

static int gemini_build(struct provider_call *c)
{
    buf_adds(c->scratch, "the gemini provider is not implemented yet");
    return -1;
}

const struct provider_ops provider_gemini = {
    .name = "gemini",
    .build = gemini_build,
};
