/* cg_updater: the policy updates of one batch — reference log-probs for the KL term, E epochs
 * of shuffled minibatch updates through the backend, the download of the new weights — run
 * as a job, on the updater's own thread (overlap on) or on the caller's (overlap off).
 * With its own thread the learner keeps ingesting, validating and answering actors, and
 * fills its second batch while the device works: double-buffered batches.
 * A job whose update turns non-finite leaves the backend as it found it (parameters and
 * Adam state restored) and names the senders of the groups to blame, if any.
 * Not here: advantages and multipliers (the learner does them before submitting, they are
 * cheap and their order matters), publishing, metrics.
 * Threading: threads share no mutable state. Submitting a job lends the updater the job, its
 * batch, the backend, the reference policy and the shuffle RNG given to cg_updater_new; the
 * owner touches none of them until cg_updater_collect returns the job. The new weights come
 * back in the updater's own buffer, so the owner's copy (which it goes on sending to actors
 * that say hello) is never written under it.
 * Job and result travel over an inproc pipe (cg_transport_pipe). */
#ifndef CG_UPDATER_H
#define CG_UPDATER_H

#include <stdint.h>

#include "cg_backend.h"
#include "cg_batch.h"
#include "cg_policy.h"
#include "cg_rng.h"
#include "cg_status.h"
#include "cg_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_updater cg_updater_t;

#define CG_UPDATE_MAX_BLAMED 16 /* senders a failed job names */

typedef struct {
    /* in: the first n_groups groups of batch, advantages (and KL coefficients) computed */
    cg_batch_t *batch;
    int32_t n_groups;
    int32_t epochs, minibatches;
    int asym_kl; /* per-step KL coefficients from the batch */
    cg_loss_config_t loss;
    /* out */
    cg_status_t status;       /* CG_OK, or the first failing update's status. With
                               * CG_ERR_NONFINITE the backend's parameters and optimiser
                               * state are as before the job (restored): the batch is to be
                               * dropped, and `blamed` names the senders of its groups whose
                               * steps the network maps to non-finite logits */
    int32_t n_updates;        /* minibatch updates run */
    cg_loss_stats_t loss_sum; /* each statistic summed over the updates */
    double grad_norm_sum;
    const float *params; /* (n_params) the weights after the job, in the updater's buffer:
                          * valid until the next submit */
    int32_t n_blamed;    /* distinct senders in blamed (failed jobs) */
    int32_t blamed[CG_UPDATE_MAX_BLAMED]; /* their actor ids, first seen first */
    int32_t blamed_groups;                /* the groups that explain the failure */
} cg_update_job_t;

/* An updater running jobs on backend. ref (may be NULL: no KL term) is the frozen reference
 * policy, rng shuffles the minibatches. None is owned; all must outlive the updater.
 * threaded != 0 starts the updater's thread, with a pipe from transport. NULL with a message
 * in err on failure. */
cg_updater_t *cg_updater_new(cg_transport_t *transport, cg_backend_t *backend, cg_policy_t *ref,
                             cg_rng_t *rng, int threaded, char *err, size_t errlen);
/* Waits for a job in flight (its result is dropped), stops the thread. NULL-safe. */
void cg_updater_destroy(cg_updater_t **self_p);

/* Starts job (which must stay alive until collected). Threaded: returns at once; otherwise
 * runs it to the end first. One job at a time: submitting while one is in flight asserts.
 * CG_ERR_ZMQ if the job could not be handed over (it is then not in flight). */
cg_status_t cg_updater_submit(cg_updater_t *self, cg_update_job_t *job);
/* 1 while a submitted job has not been collected. */
int cg_updater_busy(const cg_updater_t *self);
/* The socket that becomes readable when the job in flight is done (for cg_transport_poll),
 * or NULL when not threaded (a job is then done when submit returns). */
cg_socket_t *cg_updater_socket(cg_updater_t *self);
/* Takes back the finished job: waits up to timeout_ms (-1 forever). CG_ERR_TIMEOUT while it
 * still runs, CG_ERR_INVAL when none is in flight. The job's own outcome is job->status. */
cg_status_t cg_updater_collect(cg_updater_t *self, int timeout_ms, cg_update_job_t **job);

#ifdef __cplusplus
}
#endif
#endif
