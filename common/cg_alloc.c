/* cg_alloc: allocation that aborts with a logged message instead of returning NULL. */
#include "cg_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_log.h"

void *cg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        CG_ERROR("out of memory allocating %zu x %zu bytes", n, size);
        abort();
    }
    return p;
}

void *cg_realloc(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        CG_ERROR("allocation size overflow: %zu x %zu bytes", n, size);
        abort();
    }
    size_t bytes = n * size;
    void *q = realloc(p, bytes > 0 ? bytes : 1);
    if (!q) {
        CG_ERROR("out of memory reallocating %zu x %zu bytes", n, size);
        abort();
    }
    return q;
}

char *cg_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy = cg_calloc(len, 1);
    memcpy(copy, s, len);
    return copy;
}
