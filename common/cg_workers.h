/* cg_workers: a fixed set of worker threads for fork-join work inside one call: the caller
 * runs part 0 of a job itself and parts 1..n-1 on the workers, and returns when all are done.
 * Used by the CPU backend to split a minibatch's rows over cores. Each part owns what it
 * writes; what travels over the inproc pipes (cg_transport_pipe) is a pointer to the part,
 * so the threads share no mutable state. A worker that is not running a part blocks in a
 * receive (it spins nothing: the cores stay free for the actors).
 * Threading: one owner thread calls run and destroy. */
#ifndef CG_WORKERS_H
#define CG_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_workers cg_workers_t;

/* fn(parts[t]) runs part t: it may read shared inputs that nobody writes during run, and
 * write only what parts[t] points to. */
typedef void (*cg_workers_fn)(void *part);

/* n_workers >= 1 threads besides the caller. NULL + err on failure. */
cg_workers_t *cg_workers_new(int32_t n_workers, char *err, size_t errlen);
/* Stops and joins the threads. NULL-safe, nulls the caller's pointer. */
void cg_workers_destroy(cg_workers_t **self_p);

int32_t cg_workers_count(const cg_workers_t *self);

/* Runs fn(parts[0]) here and fn(parts[t]) on worker t-1 for t in 1..n-1 (n <= count + 1,
 * at most 256), and returns once all n have finished. CG_ERR_ZMQ (logged) if a worker could
 * not be reached or did not answer: the parts' results are then not to be used. */
cg_status_t cg_workers_run(cg_workers_t *self, cg_workers_fn fn, void *const *parts, int32_t n);

#ifdef __cplusplus
}
#endif
#endif
