/* cg_backend_cpu: the reference backend. An update is exactly
 *   zero grad -> cg_policy_forward -> cg_loss_compute -> cg_policy_backward -> cg_adam_step
 * on host memory; other backends are tested against it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_backend.h"

typedef struct {
    cg_policy_t *policy;
    cg_adam_t *adam;
    size_t n_params;
    int32_t n_actions;
    float *grad;    /* (n_params) */
    float *logits;  /* (cap, n_actions) */
    float *dlogits; /* (cap, n_actions) */
    int32_t cap;    /* rows in logits/dlogits, grown on demand */
} s_cpu_t;

static void s_reserve(s_cpu_t *self, int32_t n)
{
    if (n <= self->cap)
        return;
    size_t rows = (size_t)n;
    self->logits = cg_realloc(self->logits, rows * (size_t)self->n_actions, sizeof(float));
    self->dlogits = cg_realloc(self->dlogits, rows * (size_t)self->n_actions, sizeof(float));
    self->cap = n;
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
    s_reserve(self, n);
    memset(stats, 0, sizeof(*stats));
    memset(self->grad, 0, self->n_params * sizeof(float));
    cg_policy_forward(self->policy, mb->obs, n, self->logits);
    cg_loss_compute(self->logits, self->n_actions, mb, loss, self->dlogits, &stats->loss);
    if (!isfinite(stats->loss.loss))
        return CG_ERR_NONFINITE;
    cg_policy_backward(self->policy, self->dlogits, n, self->grad);
    stats->grad_norm = cg_adam_step(self->adam, cg_policy_params(self->policy), self->grad);
    return isfinite(stats->grad_norm) ? CG_OK : CG_ERR_NONFINITE;
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
    free(self->dlogits);
    free(self->logits);
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
    *ops = &s_cpu_ops;
    return self;
fail:
    s_destroy(self);
    return NULL;
}
