/* cg_backend_cpu: the reference backend. An update is exactly
 *   zero grad -> cg_policy_forward -> cg_loss_compute -> cg_policy_backward -> cg_adam_step
 * on host memory; other backends are tested against it. With T threads ([learner] threads)
 * the minibatch's rows are split into T fixed slices, each slice's forward, loss and
 * backward run on its own thread into its own gradient, and the gradients and loss sums are
 * added in slice order before the one Adam step: the result depends on T, never on timing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_backend.h"
#include "cg_workers.h"

#define S_MAX_THREADS 64
#define S_MIN_ROWS 64 /* fewer rows per slice than this: fewer slices */

/* One slice of an update's rows and everything it writes. */
typedef struct {
    cg_policy_t *policy;       /* slice 0: the backend's; others: a copy of its weights */
    float *grad;               /* (n_params) this slice's gradient */
    float *logits, *dlogits;   /* (cap, n_actions) */
    int32_t cap;
    int32_t n_actions, obs_dim;
    /* the job: rows [r0, r1) of mb */
    const cg_minibatch_t *mb;
    const cg_loss_config_t *loss;
    int32_t r0, r1;
    int bad_action;            /* an action of its rows is out of range: nothing computed */
    cg_loss_stats_t stats;
    size_t n_params;
} s_slice_t;

typedef struct {
    cg_policy_t *policy;
    cg_adam_t *adam;
    size_t n_params;
    int32_t n_actions;
    float *grad; /* (n_params) */
    int32_t threads;
    s_slice_t *slices;   /* (threads) slice 0 borrows policy and grad */
    cg_workers_t *workers; /* threads - 1 of them; NULL with one thread */
} s_cpu_t;

static void s_reserve(s_slice_t *sl, int32_t n)
{
    if (n <= sl->cap)
        return;
    size_t rows = (size_t)n;
    sl->logits = cg_realloc(sl->logits, rows * (size_t)sl->n_actions, sizeof(float));
    sl->dlogits = cg_realloc(sl->dlogits, rows * (size_t)sl->n_actions, sizeof(float));
    sl->cap = n;
}

/* Forward, loss and backward of rows [r0, r1): a cg_workers_fn. */
static void s_slice_run(void *arg)
{
    s_slice_t *sl = arg;
    const cg_minibatch_t *mb = sl->mb;
    const int32_t n = sl->r1 - sl->r0;
    const size_t r0 = (size_t)sl->r0;
    cg_minibatch_t part = {
        .n = n,
        .obs = mb->obs + r0 * (size_t)sl->obs_dim,
        .action = mb->action + r0,
        .logp_old = mb->logp_old + r0,
        .adv = mb->adv + r0,
        .weight = mb->weight + r0,
        .logp_ref = mb->logp_ref ? mb->logp_ref + r0 : NULL,
        .kl_coef = mb->kl_coef ? mb->kl_coef + r0 : NULL,
    };
    cg_minibatch_fill(mb, sl->r0, sl->r1); /* this slice's gather, on this thread */
    sl->bad_action = mb->fill && !cg_minibatch_actions_ok(mb, sl->r0, sl->r1, sl->n_actions);
    if (sl->bad_action)
        return;
    s_reserve(sl, n);
    memset(sl->grad, 0, sl->n_params * sizeof(float));
    cg_policy_forward(sl->policy, part.obs, n, sl->logits);
    cg_loss_compute(sl->logits, sl->n_actions, &part, sl->loss, sl->dlogits, &sl->stats);
    if (isfinite(sl->stats.loss))
        cg_policy_backward(sl->policy, sl->dlogits, n, sl->grad);
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

/* A non-finite loss or gradient norm leaves parameters and optimiser state untouched
 * (cg_adam_step skips non-finite gradients) and returns CG_ERR_NONFINITE. */
static cg_status_t s_update(void *ctx, const cg_minibatch_t *mb, const cg_loss_config_t *loss,
                            cg_update_stats_t *stats)
{
    s_cpu_t *self = ctx;
    const int32_t n = mb->n;
    memset(stats, 0, sizeof(*stats));
    /* The slices: a function of n and the thread count alone. */
    int32_t k = self->threads;
    if (k > 1 && n / k < S_MIN_ROWS)
        k = n / S_MIN_ROWS > 1 ? n / S_MIN_ROWS : 1;
    void *parts[S_MAX_THREADS];
    const float *params = cg_policy_params(self->policy);
    for (int32_t t = 0; t < k; t++) {
        s_slice_t *sl = &self->slices[t];
        sl->mb = mb;
        sl->loss = loss;
        sl->r0 = (int32_t)((int64_t)n * t / k);
        sl->r1 = (int32_t)((int64_t)n * (t + 1) / k);
        if (t > 0)
            memcpy(cg_policy_params(sl->policy), params, self->n_params * sizeof(float));
        parts[t] = sl;
    }
    cg_status_t rc =
        k == 1 ? (s_slice_run(parts[0]), CG_OK) : cg_workers_run(self->workers, s_slice_run, parts, k);
    if (rc != CG_OK)
        return rc;
    for (int32_t t = 0; t < k; t++)
        if (self->slices[t].bad_action)
            return CG_ERR_RANGE;
    /* Sums in slice order; clip_frac is a fraction of rows, weighted back by them. */
    cg_loss_stats_t *st = &stats->loss;
    for (int32_t t = 0; t < k; t++) {
        const s_slice_t *sl = &self->slices[t];
        st->loss += sl->stats.loss;
        st->pg_loss += sl->stats.pg_loss;
        st->kl += sl->stats.kl;
        st->entropy += sl->stats.entropy;
        st->approx_kl += sl->stats.approx_kl;
        st->clip_frac += sl->stats.clip_frac * (double)(sl->r1 - sl->r0);
        if (t > 0)
            for (size_t i = 0; i < self->n_params; i++)
                self->grad[i] += sl->grad[i];
    }
    st->clip_frac = n > 0 ? st->clip_frac / (double)n : 0.0;
    if (k == 1)
        st->clip_frac = self->slices[0].stats.clip_frac; /* the very same bits as before */
    if (!isfinite(st->loss))
        return CG_ERR_NONFINITE;
    stats->grad_norm = cg_adam_step(self->adam, cg_policy_params(self->policy), self->grad);
    return isfinite(stats->grad_norm) ? CG_OK : CG_ERR_NONFINITE;
}

static void s_slices_free(s_cpu_t *self)
{
    cg_workers_destroy(&self->workers);
    for (int32_t t = 0; self->slices && t < self->threads; t++) {
        s_slice_t *sl = &self->slices[t];
        if (t > 0) {
            cg_policy_destroy(&sl->policy);
            free(sl->grad);
        }
        free(sl->logits);
        free(sl->dlogits);
    }
    free(self->slices);
    self->slices = NULL;
}

/* (Re)builds T slices: slice 0 on the backend's network and gradient, the others each with
 * a network of the same shape (weights copied in at every update) and threads for them. */
static cg_status_t s_set_threads(void *ctx, int32_t threads, char *err, size_t errlen)
{
    s_cpu_t *self = ctx;
    if (threads < 1 || threads > S_MAX_THREADS) {
        cg_status_msg(err, errlen, "cpu backend: %d threads, need 1 to %d (hint: [learner] "
                      "threads)", threads, S_MAX_THREADS);
        return CG_ERR_RANGE;
    }
    s_slices_free(self);
    self->threads = threads;
    self->slices = cg_calloc((size_t)threads, sizeof *self->slices);
    const cg_policy_shape_t *shape = cg_policy_shape(self->policy);
    for (int32_t t = 0; t < threads; t++) {
        s_slice_t *sl = &self->slices[t];
        sl->policy = t == 0 ? self->policy : cg_policy_new(shape, 0);
        sl->grad = t == 0 ? self->grad : cg_calloc(self->n_params, sizeof(float));
        sl->n_actions = self->n_actions;
        sl->obs_dim = shape->obs_dim;
        sl->n_params = self->n_params;
    }
    if (threads > 1 && !(self->workers = cg_workers_new(threads - 1, err, errlen))) {
        s_slices_free(self);
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
    s_slices_free(self);
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
    self->adam = cg_adam_new(self->n_params, adam);
    if (!self->adam) {
        if (err && errlen)
            snprintf(err, errlen,
                     "cpu backend: invalid Adam settings (lr %g, betas %g/%g, eps %g, "
                     "max_grad_norm %g) (hint: check [policy] lr, adam_beta1/2, adam_eps, "
                     "max_grad_norm)",
                     (double)adam->lr, (double)adam->beta1, (double)adam->beta2,
                     (double)adam->eps, (double)adam->max_grad_norm);
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
