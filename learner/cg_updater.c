/* cg_updater: one job = reference log-probs, E x M minibatch updates, weights download; run
 * by a worker thread that waits on its end of a pipe, or inline. */
#include "cg_updater.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_log.h"

#define S_REF_CHUNK 8192         /* steps per reference forward pass */
#define S_BLAME_FLOATS (1 << 20) /* logits per forward pass of a failed job's check */

struct cg_updater {
    cg_backend_t *backend;
    cg_policy_t *ref;
    cg_rng_t *rng;
    float *params;      /* (n_params) weights after the last job */
    float *ref_logits;  /* (S_REF_CHUNK, A) then (A): reference forward workspace */
    float *logits;      /* (S_BLAME_FLOATS): a failed job's forward passes */
    int32_t blame_rows; /* rows per such pass */
    /* the backend's state when the job started, restored if it fails */
    float *snap_params, *snap_m, *snap_v;
    int64_t snap_steps;
    int32_t n_actions, obs_dim;

    int threaded;
    cg_socket_t *mine;   /* the owner's end of the pipe */
    cg_socket_t *theirs; /* the thread's end */
    pthread_t thread;
    int thread_started;         /* 1 from pthread_create until joined */
    cg_update_job_t *in_flight; /* owner's view: submitted, not collected */
};

/* logp_ref (n_steps) = log pi_ref(a|s) for every step of the batch (a Gaussian head: the
 * reference's log-density, with the reference's own log-std). */
static void s_reference_logp(cg_updater_t *self, cg_batch_t *batch)
{
    const int64_t n = cg_batch_n_steps(batch);
    const int32_t A = self->n_actions, D = self->obs_dim;
    const float *obs = cg_batch_obs(batch);
    const int32_t *act = cg_batch_actions(batch);
    const float *act_f = cg_batch_actions_f(batch);
    const cg_policy_shape_t *shape = cg_policy_shape(self->ref);
    const float *log_std = cg_policy_params(self->ref) + cg_policy_shape_log_std_offset(shape);
    float *out = cg_batch_logp_ref(batch);
    float *lp = self->ref_logits + (size_t)S_REF_CHUNK * (size_t)A;
    for (int64_t s0 = 0; s0 < n; s0 += S_REF_CHUNK) {
        const int32_t m = (int32_t)(n - s0 < S_REF_CHUNK ? n - s0 : S_REF_CHUNK);
        cg_policy_forward(self->ref, obs + s0 * D, m, self->ref_logits);
        for (int32_t i = 0; i < m; i++) {
            const float *row = self->ref_logits + (size_t)i * (size_t)A;
            if (act_f) {
                out[s0 + i] = (float)cg_policy_gaussian_logp(row, log_std, A,
                                                             act_f + (size_t)(s0 + i) * (size_t)A);
            } else {
                cg_policy_log_softmax(row, A, 1.0f, lp);
                out[s0 + i] = lp[act[s0 + i]];
            }
        }
    }
}

/* After a failed job: the senders of the groups whose steps the network (at the restored
 * weights) maps to non-finite logits. Bounded observations and log-ratios leave little that
 * can do it; whatever does is named, and a failure no group explains names nobody. */
static void s_blame(cg_updater_t *self, cg_update_job_t *job)
{
    const int32_t A = self->n_actions, D = self->obs_dim;
    const float *obs = cg_batch_obs(job->batch);
    for (int32_t g = 0; g < job->n_groups; g++) {
        int32_t actor;
        int64_t first, n, bad = 0;
        cg_batch_group_span(job->batch, g, &actor, &first, &n);
        for (int64_t s0 = 0; s0 < n && !bad; s0 += self->blame_rows) {
            const int32_t m = (int32_t)(n - s0 < self->blame_rows ? n - s0 : self->blame_rows);
            if (cg_backend_forward(self->backend, obs + (first + s0) * D, m, self->logits) != CG_OK)
                return;
            for (size_t k = 0; k < (size_t)m * (size_t)A; k++)
                bad |= !isfinite(self->logits[k]);
        }
        if (!bad)
            continue;
        job->blamed_groups++;
        int32_t seen = 0;
        for (int32_t i = 0; i < job->n_blamed; i++)
            seen |= job->blamed[i] == actor;
        if (!seen && job->n_blamed < CG_UPDATE_MAX_BLAMED)
            job->blamed[job->n_blamed++] = actor;
    }
}

static void s_run(cg_updater_t *self, cg_update_job_t *job)
{
    job->status = CG_OK;
    job->n_updates = 0;
    memset(&job->loss_sum, 0, sizeof job->loss_sum);
    job->grad_norm_sum = 0;
    job->n_blamed = 0;
    job->blamed_groups = 0;
    job->status = cg_backend_get_params(self->backend, self->snap_params);
    if (job->status == CG_OK)
        job->status =
            cg_backend_get_optim(self->backend, self->snap_m, self->snap_v, &self->snap_steps);
    if (job->status != CG_OK)
        return;
    const int with_ref = self->ref != NULL;
    if (with_ref)
        s_reference_logp(self, job->batch);
    for (int32_t ep = 0; ep < job->epochs && job->status == CG_OK; ep++) {
        cg_batch_shuffle(job->batch, job->n_groups, job->minibatches, self->rng);
        for (int32_t i = 0; i < job->minibatches; i++) {
            cg_minibatch_t mb;
            cg_batch_minibatch(job->batch, i, with_ref, job->asym_kl, &mb);
            if (mb.n == 0)
                continue;
            cg_update_stats_t us;
            job->status = cg_backend_update(self->backend, &mb, &job->loss, &us);
            if (job->status != CG_OK)
                break;
            cg_loss_stats_t *sum = &job->loss_sum;
            sum->loss += us.loss.loss;
            sum->pg_loss += us.loss.pg_loss;
            sum->kl += us.loss.kl;
            sum->entropy += us.loss.entropy;
            sum->clip_frac += us.loss.clip_frac;
            sum->approx_kl += us.loss.approx_kl;
            job->grad_norm_sum += us.grad_norm;
            job->n_updates++;
        }
    }
    if (job->status == CG_ERR_NONFINITE) { /* back to the start; the caller drops the batch */
        cg_status_t rc = cg_backend_set_params(self->backend, self->snap_params);
        if (rc == CG_OK)
            rc = cg_backend_set_optim(self->backend, self->snap_m, self->snap_v, self->snap_steps);
        if (rc != CG_OK)
            job->status = rc;
        else
            s_blame(self, job);
    }
    if (job->status == CG_OK)
        job->status = cg_backend_get_params(self->backend, self->params);
    job->params = self->params;
}

/* The worker: a job pointer in, the same pointer back when done; NULL means stop. A broken
 * pipe ends it too; the owner notices the thread has ended (s_thread_ended). */
static void *s_main(void *arg)
{
    cg_updater_t *self = arg;
    for (;;) {
        void *job = NULL;
        cg_status_t rc = cg_transport_recv_ptr(self->theirs, -1, &job);
        if (rc == CG_ERR_INTERRUPTED || rc == CG_ERR_TIMEOUT)
            continue;
        if (rc != CG_OK || !job)
            break;
        s_run(self, job);
        if (cg_transport_send_ptr(self->theirs, job) != CG_OK)
            break;
    }
    /* Its end of the pipe is the thread's to close, so that a context being terminated
     * (which wakes a blocked receive) is not kept waiting by it. */
    cg_transport_close(&self->theirs);
    return NULL;
}

/* 1 (and joined) if the worker has ended: it then never answers. */
static int s_thread_ended(cg_updater_t *self)
{
    if (self->thread_started && pthread_tryjoin_np(self->thread, NULL) == 0)
        self->thread_started = 0;
    return !self->thread_started;
}

cg_updater_t *cg_updater_new(cg_transport_t *transport, cg_backend_t *backend, cg_policy_t *ref,
                             cg_rng_t *rng, int threaded, char *err, size_t errlen)
{
    CG_ASSERT(backend && rng && (transport || !threaded));
    cg_updater_t *self = cg_calloc(1, sizeof *self);
    const cg_policy_shape_t *shape = cg_backend_shape(backend);
    self->backend = backend;
    self->ref = ref;
    self->rng = rng;
    const size_t n_params = cg_backend_n_params(backend);
    self->params = cg_calloc(n_params, sizeof(float));
    self->snap_params = cg_calloc(n_params, sizeof(float));
    self->snap_m = cg_calloc(n_params, sizeof(float));
    self->snap_v = cg_calloc(n_params, sizeof(float));
    self->n_actions = shape->n_actions;
    self->obs_dim = shape->obs_dim;
    self->blame_rows = S_BLAME_FLOATS / self->n_actions > 0 ? S_BLAME_FLOATS / self->n_actions : 1;
    self->logits = cg_calloc((size_t)self->blame_rows * (size_t)self->n_actions, sizeof(float));
    if (ref)
        self->ref_logits =
            cg_calloc((size_t)(S_REF_CHUNK + 1) * (size_t)self->n_actions, sizeof(float));
    self->threaded = threaded;
    if (!threaded)
        return self;
    if (cg_transport_pipe(transport, &self->mine, &self->theirs) != CG_OK) {
        snprintf(err, errlen,
                 "updater: cannot open its inproc pipe (the log names the ZeroMQ "
                 "error) (hint: set [learner] overlap = off)");
        goto fail;
    }
    /* Signals go to the owner's thread (its stop flag), never to the worker. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&self->thread, NULL, s_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        snprintf(err, errlen,
                 "updater: cannot start its thread: %s (hint: set [learner] "
                 "overlap = off)",
                 strerror(e));
        goto fail;
    }
    self->thread_started = 1;
    return self;
fail:
    cg_updater_destroy(&self);
    return NULL;
}

void cg_updater_destroy(cg_updater_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_updater_t *self = *self_p;
    if (self->thread_started) {
        cg_update_job_t *job = NULL;
        if (self->in_flight)
            cg_updater_collect(self, -1, &job);
        /* A worker that cannot be told to stop is left blocked, with what it uses. */
        if (!s_thread_ended(self) && cg_transport_send_ptr(self->mine, NULL) != CG_OK) {
            CG_ERROR("updater: cannot stop its thread; leaving it");
            pthread_detach(self->thread);
            return;
        }
        if (self->thread_started)
            pthread_join(self->thread, NULL);
    }
    cg_transport_close(&self->theirs); /* NULL once a thread has run: it closed it */
    cg_transport_close(&self->mine);
    free(self->ref_logits);
    free(self->logits);
    free(self->snap_params);
    free(self->snap_m);
    free(self->snap_v);
    free(self->params);
    free(self);
    *self_p = NULL;
}

cg_status_t cg_updater_submit(cg_updater_t *self, cg_update_job_t *job)
{
    CG_ASSERT(job && job->batch && !self->in_flight);
    if (!self->threaded) {
        s_run(self, job);
        self->in_flight = job;
        return CG_OK;
    }
    CG_TRY(cg_transport_send_ptr(self->mine, job));
    self->in_flight = job;
    return CG_OK;
}

int cg_updater_busy(const cg_updater_t *self)
{
    return self->in_flight != NULL;
}

cg_socket_t *cg_updater_socket(cg_updater_t *self)
{
    return self->mine;
}

cg_status_t cg_updater_collect(cg_updater_t *self, int timeout_ms, cg_update_job_t **job)
{
    if (!self->in_flight)
        return CG_ERR_INVAL;
    if (self->threaded) {
        /* Waits in slices, so that a worker that has ended is an error, not a hang. */
        void *back = NULL;
        cg_status_t rc;
        for (int left = timeout_ms;;) {
            const int slice = left < 0 || left > 100 ? 100 : left;
            rc = cg_transport_recv_ptr(self->mine, slice, &back);
            if (rc == CG_OK || (rc != CG_ERR_TIMEOUT && rc != CG_ERR_INTERRUPTED))
                break;
            if (s_thread_ended(self)) {
                CG_ERROR("updater: its thread ended with a job in flight");
                return CG_ERR_IO;
            }
            if (left >= 0 && (left -= slice) <= 0)
                break;
        }
        if (rc != CG_OK)
            return rc == CG_ERR_INTERRUPTED ? CG_ERR_TIMEOUT : rc;
        CG_ASSERT(back == self->in_flight);
    }
    *job = self->in_flight;
    self->in_flight = NULL;
    return CG_OK;
}
