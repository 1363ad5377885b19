/* cg_workers: a fixed set of worker threads for fork-join work inside one call: the caller
 * and the workers take the parts of a job one at a time, each the next one nobody has
 * started, and the call returns when all are done. A thread held up (by the actors sharing
 * its core) takes fewer parts and the others take more, so a job split into more parts than
 * threads keeps every core busy. Used by the CPU backend to split a minibatch's rows over
 * cores. Each part owns what it writes; besides the job's part counter the threads share
 * only the hand-off sequence numbers (atomics: the job is published with release order). A
 * thread waiting for a hand-off watches for it for 100 us (the gap between two minibatch
 * updates), then sleeps in a receive on its inproc pipe (cg_transport_pipe), where the
 * other rings only a sleeper: between updates the cores stay free for the actors.
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

/* fn(part, thread) runs one part on thread `thread` (0 = the caller, 1..count = the
 * workers): it may read shared inputs that nobody writes during run, and write only what
 * `part` points to and the thread's own scratch (indexed by `thread`). Which thread runs
 * which part depends on timing: a part's result must not depend on `thread`. */
typedef void (*cg_workers_fn)(void *part, int32_t thread);

/* n_workers >= 1 threads besides the caller. NULL + err on failure. */
cg_workers_t *cg_workers_new(int32_t n_workers, char *err, size_t errlen);
/* Stops and joins the threads. NULL-safe, nulls the caller's pointer. */
void cg_workers_destroy(cg_workers_t **self_p);

int32_t cg_workers_count(const cg_workers_t *self);

/* Runs fn(parts[i]) for every i in [0, n), parts taken in index order by the caller and
 * min(n - 1, count) workers, and returns once all n have finished. CG_ERR_ZMQ (logged) if a
 * worker could not be reached or did not answer: the parts' results are then not to be used
 * (a part it had taken may still be running: the job stays valid until it answers, which
 * run waits for). */
cg_status_t cg_workers_run(cg_workers_t *self, cg_workers_fn fn, void *const *parts, int32_t n);

#ifdef __cplusplus
}
#endif
#endif
