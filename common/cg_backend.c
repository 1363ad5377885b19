/* cg_backend: the public wrapper around a backend's function table, argument checks shared
 * by every backend, and backend selection. CG_WITH_CUDA appears here and nowhere else. */
#include "cg_backend.h"

#include <stdio.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_backend_cuda.h" /* cg_backend_cuda_new exists only #ifdef CG_WITH_CUDA */
#include "cg_log.h"

struct cg_backend {
    const cg_backend_ops_t *ops;
    void *ctx;
    cg_policy_shape_t shape;
    size_t n_params;
};

/* Builds the CUDA backend if this build has one; otherwise explains how to get one. */
static void *s_cuda_new(const cg_policy_shape_t *shape, const cg_adam_config_t *adam, uint64_t seed,
                        const cg_backend_ops_t **ops, char *err, size_t errlen)
{
#ifdef CG_WITH_CUDA
    return cg_backend_cuda_new(shape, adam, seed, ops, err, errlen);
#else
    (void)shape, (void)adam, (void)seed, (void)ops;
    snprintf(err, errlen,
             "device=cuda requested but this build has no CUDA backend "
             "(hint: set [learner] device = cpu or auto, or rebuild with the CUDA toolkit "
             "installed so CMake finds nvcc, with -DCG_CUDA=ON)");
    return NULL;
#endif
}

cg_backend_t *cg_backend_new(cg_device_t device, const cg_policy_shape_t *shape,
                             const cg_adam_config_t *adam, uint64_t seed, char *err,
                             size_t errlen)
{
    char scratch[256];
    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof(scratch);
    }
    err[0] = '\0';
    if (!shape || !adam) {
        snprintf(err, errlen, "backend: shape and adam config are required");
        return NULL;
    }
    if (cg_policy_shape_check(shape) != CG_OK) {
        snprintf(err, errlen,
                 "backend: invalid policy shape (obs_dim %d, n_actions %d, %d hidden layers) "
                 "(hint: check [policy] hidden and the simulator's observation/action sizes)",
                 (int)shape->obs_dim, (int)shape->n_actions, (int)shape->n_hidden);
        return NULL;
    }

    const cg_backend_ops_t *ops = NULL;
    void *ctx = NULL;
    switch (device) {
    case CG_DEVICE_CPU:
        ctx = cg_backend_cpu_new(shape, adam, seed, &ops, err, errlen);
        break;
    case CG_DEVICE_CUDA:
        ctx = s_cuda_new(shape, adam, seed, &ops, err, errlen);
        break;
    case CG_DEVICE_AUTO:
#ifdef CG_WITH_CUDA
        ctx = cg_backend_cuda_new(shape, adam, seed, &ops, err, errlen);
        if (!ctx) {
            CG_INFO("device=auto: using the CPU backend (%s)", err);
            err[0] = '\0';
        }
#endif
        if (!ctx)
            ctx = cg_backend_cpu_new(shape, adam, seed, &ops, err, errlen);
        break;
    default:
        snprintf(err, errlen, "backend: unknown device %d (hint: device = auto, cpu or cuda)",
                 (int)device);
        return NULL;
    }
    if (!ctx)
        return NULL;
    CG_ASSERT(ops && ops->name);

    cg_backend_t *self = cg_calloc(1, sizeof(*self));
    self->ops = ops;
    self->ctx = ctx;
    self->shape = *shape;
    self->n_params = cg_policy_shape_n_params(shape);
    return self;
}

void cg_backend_destroy(cg_backend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cg_backend_t *self = *self_p;
    self->ops->destroy(self->ctx);
    free(self);
    *self_p = NULL;
}

const char *cg_backend_name(const cg_backend_t *self)
{
    CG_ASSERT(self);
    return self->ops->name;
}

size_t cg_backend_n_params(const cg_backend_t *self)
{
    CG_ASSERT(self);
    return self->n_params;
}

const cg_policy_shape_t *cg_backend_shape(const cg_backend_t *self)
{
    CG_ASSERT(self);
    return &self->shape;
}

cg_status_t cg_backend_set_params(cg_backend_t *self, const float *params)
{
    CG_ASSERT(self);
    if (!params)
        return CG_ERR_INVAL;
    return self->ops->set_params(self->ctx, params);
}

cg_status_t cg_backend_get_params(cg_backend_t *self, float *params)
{
    CG_ASSERT(self);
    if (!params)
        return CG_ERR_INVAL;
    return self->ops->get_params(self->ctx, params);
}

cg_status_t cg_backend_forward(cg_backend_t *self, const float *obs, int32_t n, float *logits)
{
    CG_ASSERT(self);
    if (n < 0 || (n > 0 && (!obs || !logits)))
        return CG_ERR_INVAL;
    if (n == 0)
        return CG_OK;
    return self->ops->forward(self->ctx, obs, n, logits);
}

cg_status_t cg_backend_update(cg_backend_t *self, const cg_minibatch_t *mb,
                              const cg_loss_config_t *loss, cg_update_stats_t *stats)
{
    CG_ASSERT(self);
    if (!mb || !loss || mb->n <= 0 || !mb->obs || !mb->action || !mb->logp_old || !mb->adv ||
        !mb->weight)
        return CG_ERR_INVAL;
    /* Actions index the logits: an out-of-range one is bad input, not a broken invariant. */
    for (int32_t i = 0; i < mb->n; i++)
        if (mb->action[i] < 0 || mb->action[i] >= self->shape.n_actions)
            return CG_ERR_RANGE;
    cg_update_stats_t local;
    return self->ops->update(self->ctx, mb, loss, stats ? stats : &local);
}

cg_status_t cg_backend_get_optim(cg_backend_t *self, float *m, float *v, int64_t *steps)
{
    CG_ASSERT(self);
    if (!m || !v || !steps)
        return CG_ERR_INVAL;
    return self->ops->get_optim(self->ctx, m, v, steps);
}

cg_status_t cg_backend_set_optim(cg_backend_t *self, const float *m, const float *v,
                                 int64_t steps)
{
    CG_ASSERT(self);
    if (!m || !v || steps < 0)
        return CG_ERR_INVAL;
    return self->ops->set_optim(self->ctx, m, v, steps);
}

/* Declared in cg_backend_cuda.h; defined here, in every build, because only this unit sees
 * a backend's context and knows whether CUDA was built. */
cg_status_t cg_backend_cuda_transfer(cg_backend_t *be, cg_backend_cuda_transfer_t *out,
                                     int reset)
{
    if (!be || !out)
        return CG_ERR_INVAL;
#ifdef CG_WITH_CUDA
    if (strcmp(be->ops->name, "cuda") == 0)
        return cg_backend_cuda_ctx_transfer(be->ctx, out, reset);
#else
    (void)reset;
#endif
    return CG_ERR_UNSUPPORTED;
}
