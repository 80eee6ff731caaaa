/* vertex: not implemented yet (placeholder so the registry links). */
#include <stdio.h>

#include "../buf.h"
#include "provider.h"

static int vertex_build(struct provider_call *c)
{
    buf_adds(c->scratch, "the vertex provider is not implemented yet");
    return -1;
}

const struct provider_ops provider_vertex = {
    .name = "vertex",
    .build = vertex_build,
};
