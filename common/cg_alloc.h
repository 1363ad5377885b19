/* cg_alloc: checked allocation. Failure to allocate is fatal (logged, abort): cgrpo sizes
 * every buffer from validated, capped inputs, so running out means the machine is too small.
 * Threading: safe from any thread. */
#ifndef CG_ALLOC_H
#define CG_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Zeroed array of n elements of size bytes; caller frees with free(). */
void *cg_calloc(size_t n, size_t size);
/* Resizes p (may be NULL) to n*size bytes; caller frees with free(). */
void *cg_realloc(void *p, size_t n, size_t size);
/* Copy of a C string; caller frees with free(). */
char *cg_strdup(const char *s);

#ifdef __cplusplus
}
#endif
#endif
