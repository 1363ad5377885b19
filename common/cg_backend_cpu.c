/* cg_backend_cpu: the reference backend. An update is exactly
 *   zero grad -> cg_policy_forward -> cg_loss_compute -> cg_policy_backward -> cg_adam_step
 * on host memory (a Gaussian head: cg_loss_gaussian_compute, whose log-std gradient goes to
 * the arena's log_std, zero where the bound is active); other backends are tested against it. With
 * T > 1 threads ([learner] threads) the minibatch's rows are split into S fixed slices (up to
 * S_SLICES_PER_THREAD per thread, none under S_MIN_ROWS rows: a function of the row count and T
 * alone); the threads take the slices one at a time (cg_workers), each running a slice's gather,
 * forward, loss and backward into the slice's own gradient, and the gradients and loss sums are
 * added in slice order before the one Adam step: the result depends on T, never on timing, and a
 * thread slowed down by the actors sharing its core takes fewer slices instead of holding
 * the others up. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_backend.h"
#include "cg_vector.h"
#include "cg_workers.h"

#define S_MAX_THREADS 64
#define S_SLICES_PER_THREAD 4 /* slices per thread: the granularity of the load balance */
#define S_MIN_ROWS 64         /* fewer rows per slice than this: fewer slices */
#define S_MAX_SLICES (S_MAX_THREADS * S_SLICES_PER_THREAD)
#define S_SLICE_GRAD_BYTES                                                                         \
    (64u << 20) /* more slices than threads only while their                                       \
                 * gradients fit in this */

/* A thread's scratch: the network it runs slices through, and their logits. */
typedef struct {
    cg_policy_t *policy;     /* thread 0: the backend's; others: a copy of its weights */
    float *logits, *dlogits; /* (cap, n_actions) */
    double *dlog_std;        /* (n_actions) a Gaussian head's log-std gradient */
    int32_t cap;
} s_thread_t;

typedef struct s_cpu s_cpu_t;

/* One slice of an update's rows and everything it writes. */
typedef struct {
    s_cpu_t *owner;
    float *grad;    /* (n_params) this slice's gradient; slice 0: the backend's */
    int32_t r0, r1; /* rows [r0, r1) of the update's minibatch */
    int bad_action; /* an action of its rows is out of range: nothing computed */
    cg_loss_stats_t stats;
} s_slice_t;

struct s_cpu {
    cg_policy_t *policy;
    cg_adam_t *adam;
    size_t n_params;
    int32_t n_actions, obs_dim;
    cg_head_t head;
    size_t log_std_off; /* Gaussian head: log_std's place in the arena */
    float *grad;        /* (n_params) */
    int32_t threads;
    s_thread_t *thread;    /* (threads) thread 0 borrows policy */
    cg_workers_t *workers; /* threads - 1 of them; NULL with one thread */
    s_slice_t slice[S_MAX_SLICES];
    /* the update in progress, read by every slice */
    const cg_minibatch_t *mb;
    const cg_loss_config_t *loss;
};

static void s_reserve(s_thread_t *th, int32_t n, int32_t n_actions)
{
    if (n <= th->cap)
        return;
    size_t rows = (size_t)n;
    th->logits = cg_realloc(th->logits, rows * (size_t)n_actions, sizeof(float));
    th->dlogits = cg_realloc(th->dlogits, rows * (size_t)n_actions, sizeof(float));
    th->cap = n;
}

/* Gather, forward, loss and backward of one slice's rows on thread `thread`: a
 * cg_workers_fn. */
static void s_slice_run(void *arg, int32_t thread)
{
    s_slice_t *sl = arg;
    s_cpu_t *self = sl->owner;
    s_thread_t *th = &self->thread[thread];
    const cg_minibatch_t *mb = self->mb;
    const int32_t n = sl->r1 - sl->r0;
    const size_t r0 = (size_t)sl->r0;
    cg_minibatch_fill(mb, sl->r0, sl->r1); /* this slice's gather, on this thread */
    const int gaussian = self->head == CG_HEAD_GAUSSIAN;
    sl->bad_action =
        !gaussian && mb->fill && !cg_minibatch_actions_ok(mb, sl->r0, sl->r1, self->n_actions);
    if (sl->bad_action)
        return;
    cg_minibatch_t part = {
        .n = n,
        .obs = mb->obs + r0 * (size_t)self->obs_dim,
        .action = gaussian ? NULL : mb->action + r0,
        .action_f = gaussian ? mb->action_f + r0 * (size_t)self->n_actions : NULL,
        .logp_old = mb->logp_old + r0,
        .adv = mb->adv + r0,
        .weight = mb->weight + r0,
        .logp_ref = mb->logp_ref ? mb->logp_ref + r0 : NULL,
        .kl_coef = mb->kl_coef ? mb->kl_coef + r0 : NULL,
    };
    s_reserve(th, n, self->n_actions);
    memset(sl->grad, 0, self->n_params * sizeof(float));
    cg_policy_forward(th->policy, part.obs, n, th->logits);
    if (!gaussian) {
        cg_loss_compute(th->logits, self->n_actions, &part, self->loss, th->dlogits, &sl->stats);
    } else {
        const float *log_std = cg_policy_params(th->policy) + self->log_std_off;
        memset(th->dlog_std, 0, (size_t)self->n_actions * sizeof *th->dlog_std);
        cg_loss_gaussian_compute(th->logits, log_std, self->n_actions, &part, self->loss,
                                 th->dlogits, th->dlog_std, &sl->stats);
        for (int32_t d = 0; d < self->n_actions; d++) /* no gradient where the bound holds */
            sl->grad[self->log_std_off + (size_t)d] =
                cg_policy_log_std_bound(log_std[d]) == log_std[d] ? (float)th->dlog_std[d] : 0.0f;
    }
    if (isfinite(sl->stats.loss))
        cg_policy_backward(th->policy, th->dlogits, n, sl->grad);
}

static cg_status_t s_set_params(void *ctx, const float *params)
{
    s_cpu_t *self = ctx;
    memcpy(cg_policy_params(self->policy), params, self->n_params * sizeof(float));
    return CG_OK;
}

static cg_status_t s_get_params(void *ctx, float *params)
{
    s_cpu_t *self = ctx;
    memcpy(params, cg_policy_params(self->policy), self->n_params * sizeof(float));
    return CG_OK;
}

static cg_status_t s_forward(void *ctx, const float *obs, int32_t n, float *logits)
{
    s_cpu_t *self = ctx;
    cg_policy_forward(self->policy, obs, n, logits);
    return CG_OK;
}

/* The number of slices for n rows: a function of n and the thread count alone. */
static int32_t s_slice_count(const s_cpu_t *self, int32_t n)
{
    if (self->threads == 1)
        return 1;
    int32_t k = self->threads * S_SLICES_PER_THREAD;
    const size_t fit = S_SLICE_GRAD_BYTES / (self->n_params * sizeof(float));
    if ((size_t)k > fit)
        k = fit > (size_t)self->threads ? (int32_t)fit : self->threads;
    if (n / k < S_MIN_ROWS)
        k = n / S_MIN_ROWS;
    return k > 1 ? k : 1;
}

/* acc += x, element by element (the same bits in every clone). */
CG_VECTOR static void s_accumulate(float *restrict acc, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += x[i];
}

/* A non-finite loss or gradient norm leaves parameters and optimiser state untouched
 * (cg_adam_step skips non-finite gradients) and returns CG_ERR_NONFINITE. */
static cg_status_t s_update(void *ctx, const cg_minibatch_t *mb, const cg_loss_config_t *loss,
                            cg_update_stats_t *stats)
{
    s_cpu_t *self = ctx;
    const int32_t n = mb->n;
    memset(stats, 0, sizeof(*stats));
    const int32_t k = s_slice_count(self, n);
    void *parts[S_MAX_SLICES];
    self->mb = mb;
    self->loss = loss;
    for (int32_t t = 0; t < k; t++) {
        s_slice_t *sl = &self->slice[t];
        if (!sl->grad) /* slice 0 has the backend's; the others get theirs on first use */
            sl->grad = cg_calloc(self->n_params, sizeof(float));
        sl->r0 = (int32_t)((int64_t)n * t / k);
        sl->r1 = (int32_t)((int64_t)n * (t + 1) / k);
        parts[t] = sl;
    }
    const float *params = cg_policy_params(self->policy);
    const int32_t busy = k < self->threads ? k : self->threads;
    for (int32_t t = 1; t < busy; t++)
        memcpy(cg_policy_params(self->thread[t].policy), params, self->n_params * sizeof(float));
    cg_status_t rc = k == 1 ? (s_slice_run(parts[0], 0), CG_OK)
                            : cg_workers_run(self->workers, s_slice_run, parts, k);
    self->mb = NULL;
    if (rc != CG_OK)
        return rc;
    for (int32_t t = 0; t < k; t++)
        if (self->slice[t].bad_action)
            return CG_ERR_RANGE;
    /* Sums in slice order; clip_frac is a fraction of rows, weighted back by them. */
    cg_loss_stats_t *st = &stats->loss;
    for (int32_t t = 0; t < k; t++) {
        const s_slice_t *sl = &self->slice[t];
        st->loss += sl->stats.loss;
        st->pg_loss += sl->stats.pg_loss;
        st->kl += sl->stats.kl;
        st->entropy += sl->stats.entropy;
        st->approx_kl += sl->stats.approx_kl;
        st->clip_frac += sl->stats.clip_frac * (double)(sl->r1 - sl->r0);
        if (t > 0)
            s_accumulate(self->grad, sl->grad, self->n_params);
    }
    st->clip_frac = n > 0 ? st->clip_frac / (double)n : 0.0;
    if (k == 1)
        st->clip_frac = self->slice[0].stats.clip_frac; /* the very same bits as unsplit */
    if (!isfinite(st->loss))
        return CG_ERR_NONFINITE;
    stats->grad_norm = cg_adam_step(self->adam, cg_policy_params(self->policy), self->grad);
    return isfinite(stats->grad_norm) ? CG_OK : CG_ERR_NONFINITE;
}

static void s_threads_free(s_cpu_t *self)
{
    cg_workers_destroy(&self->workers);
    for (int32_t t = 0; self->thread && t < self->threads; t++) {
        s_thread_t *th = &self->thread[t];
        if (t > 0)
            cg_policy_destroy(&th->policy);
        free(th->logits);
        free(th->dlogits);
        free(th->dlog_std);
    }
    free(self->thread);
    self->thread = NULL;
    for (int32_t i = 1; i < S_MAX_SLICES; i++) {
        free(self->slice[i].grad);
        self->slice[i].grad = NULL;
    }
}

/* (Re)builds T threads: thread 0 (the caller) on the backend's network, the others each with
 * a network of the same shape (weights copied in at every update) and a worker to run it. */
static cg_status_t s_set_threads(void *ctx, int32_t threads, char *err, size_t errlen)
{
    s_cpu_t *self = ctx;
    if (threads < 1 || threads > S_MAX_THREADS) {
        cg_status_msg(err, errlen,
                      "cpu backend: %d threads, need 1 to %d (hint: [learner] "
                      "threads)",
                      threads, S_MAX_THREADS);
        return CG_ERR_RANGE;
    }
    s_threads_free(self);
    self->threads = threads;
    self->thread = cg_calloc((size_t)threads, sizeof *self->thread);
    const cg_policy_shape_t *shape = cg_policy_shape(self->policy);
    for (int32_t t = 0; t < threads; t++) {
        self->thread[t].policy = t == 0 ? self->policy : cg_policy_new(shape, 0);
        self->thread[t].dlog_std = cg_calloc((size_t)self->n_actions, sizeof(double));
    }
    for (int32_t i = 0; i < S_MAX_SLICES; i++)
        self->slice[i].owner = self;
    self->slice[0].grad = self->grad;
    if (threads > 1 && !(self->workers = cg_workers_new(threads - 1, err, errlen))) {
        s_threads_free(self);
        s_set_threads(self, 1, NULL, 0);
        return CG_ERR_IO;
    }
    return CG_OK;
}

static cg_status_t s_get_optim(void *ctx, float *m, float *v, int64_t *steps)
{
    s_cpu_t *self = ctx;
    memcpy(m, cg_adam_m(self->adam), self->n_params * sizeof(float));
    memcpy(v, cg_adam_v(self->adam), self->n_params * sizeof(float));
    *steps = cg_adam_steps(self->adam);
    return CG_OK;
}

static cg_status_t s_set_optim(void *ctx, const float *m, const float *v, int64_t steps)
{
    s_cpu_t *self = ctx;
    memcpy(cg_adam_m(self->adam), m, self->n_params * sizeof(float));
    memcpy(cg_adam_v(self->adam), v, self->n_params * sizeof(float));
    cg_adam_set_steps(self->adam, steps);
    return CG_OK;
}

static void s_destroy(void *ctx)
{
    s_cpu_t *self = ctx;
    if (!self)
        return;
    s_threads_free(self);
    free(self->grad);
    cg_adam_destroy(&self->adam);
    cg_policy_destroy(&self->policy);
    free(self);
}

static const cg_backend_ops_t s_cpu_ops = {
    .name = "cpu",
    .set_params = s_set_params,
    .get_params = s_get_params,
    .forward = s_forward,
    .update = s_update,
    .get_optim = s_get_optim,
    .set_optim = s_set_optim,
    .set_threads = s_set_threads,
    .destroy = s_destroy,
};

void *cg_backend_cpu_new(const cg_policy_shape_t *shape, const cg_adam_config_t *adam,
                         uint64_t seed, const cg_backend_ops_t **ops, char *err, size_t errlen)
{
    CG_ASSERT(shape && adam && ops);
    s_cpu_t *self = cg_calloc(1, sizeof(*self));
    self->policy = cg_policy_new(shape, seed);
    if (!self->policy) {
        if (err && errlen)
            snprintf(err, errlen,
                     "cpu backend: invalid policy shape (hint: check [policy] hidden)");
        goto fail;
    }
    self->n_params = cg_policy_n_params(self->policy);
    self->n_actions = shape->n_actions;
    self->obs_dim = shape->obs_dim;
    self->head = shape->head;
    self->log_std_off = cg_policy_shape_log_std_offset(shape);
    self->adam = cg_adam_new(self->n_params, adam);
    if (!self->adam) {
        if (err && errlen)
            snprintf(err, errlen,
                     "cpu backend: invalid Adam settings (lr %g, betas %g/%g, eps %g, "
                     "max_grad_norm %g) (hint: check [policy] lr, adam_beta1/2, adam_eps, "
                     "max_grad_norm)",
                     (double)adam->lr, (double)adam->beta1, (double)adam->beta2, (double)adam->eps,
                     (double)adam->max_grad_norm);
        goto fail;
    }
    self->grad = cg_calloc(self->n_params, sizeof(float));
    s_set_threads(self, 1, NULL, 0);
    *ops = &s_cpu_ops;
    return self;
fail:
    s_destroy(self);
    return NULL;
}
