/* cg_backend: the public wrapper around a backend's function table, argument checks shared
 * by every backend, and backend selection, which loads the CUDA module (libcg_cuda.so) when
 * it is asked for. CG_WITH_CUDA appears here and nowhere else. */
#include "cg_backend.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_backend_cuda.h" /* the module's entry points, reached through dlsym */
#include "cg_log.h"

struct cg_backend {
    const cg_backend_ops_t *ops;
    void *ctx;
    cg_policy_shape_t shape;
    size_t n_params;
    cg_backend_cuda_ctx_transfer_fn *cuda_transfer; /* the CUDA module's, else NULL */
};

#ifdef CG_WITH_CUDA
/* Under AddressSanitizer the CUDA module is never unloaded, used or not: cuBLAS and cuBLASLt
 * link their own libstdc++, whose exception-handling pools (72 KB each) are never freed, and
 * LeakSanitizer reports what an unloaded library still held as leaks. */
#ifdef __SANITIZE_ADDRESS__
#define S_CUDA_KEEP_UNUSED 1
#else
#define S_CUDA_KEEP_UNUSED 0
#endif

/* The host's log threshold, for the module's own copy of cg_log. */
static int32_t s_log_level(void)
{
    int32_t level = CG_LOG_ERROR;
    while (level < CG_LOG_DEBUG && cg_log_enabled((cg_log_level_t)(level + 1)))
        level++;
    return level;
}
#endif

/* Builds the CUDA backend if this build has one; otherwise explains how to get one. The
 * module is loaded from CG_CUDA_MODULE, else from where this build put it (CMake's
 * CG_CUDA_MODULE_PATH). Once a backend was created it stays loaded for the rest of the
 * process (RTLD_NODELETE: the CUDA runtime and its context are not torn down and set up
 * again per backend); when creation fails it is closed again (except under ASan, above),
 * so that a device=auto fallback to the CPU keeps nothing of CUDA's mapped. *transfer gets
 * the module's transfer-timing function. */
static void *s_cuda_new(const cg_policy_shape_t *shape, const cg_adam_config_t *adam, uint64_t seed,
                        const cg_backend_ops_t **ops, cg_backend_cuda_ctx_transfer_fn **transfer,
                        char *err, size_t errlen)
{
#ifdef CG_WITH_CUDA
    const char *env = getenv("CG_CUDA_MODULE");
    const char *path = env && env[0] ? env : CG_CUDA_MODULE_PATH;
    static const char hint[] =
        "(hint: build it with `cmake --build BUILD_DIR --target cg_cuda`; if the build was "
        "moved, set CG_CUDA_MODULE to its libcg_cuda.so; if a CUDA library is not found, add "
        "the toolkit's lib64 to LD_LIBRARY_PATH; or set [learner] device = cpu)";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, errlen,
                 "device=cuda requested but the CUDA backend module %s cannot be loaded: %s %s",
                 path, dlerror(), hint);
        return NULL;
    }
    cg_backend_cuda_init_fn *init =
        (cg_backend_cuda_init_fn *)dlsym(lib, "cg_backend_cuda_module_init");
    cg_backend_cuda_new_fn *make = (cg_backend_cuda_new_fn *)dlsym(lib, "cg_backend_cuda_new");
    cg_backend_cuda_ctx_transfer_fn *xfer =
        (cg_backend_cuda_ctx_transfer_fn *)dlsym(lib, "cg_backend_cuda_ctx_transfer");
    void *ctx = NULL;
    if (!init || !make || !xfer) {
        const char *why = dlerror();
        snprintf(err, errlen,
                 "device=cuda requested but %s is not a cgrpo CUDA backend module: %s %s", path,
                 why ? why : "an entry point is missing", hint);
    } else if (init(s_log_level()) != cg_backend_cuda_abi()) {
        snprintf(err, errlen,
                 "device=cuda requested but the CUDA backend module %s was built from another "
                 "version of cgrpo %s",
                 path, hint);
    } else if ((ctx = make(shape, adam, seed, ops, err, errlen)) != NULL) {
        *transfer = xfer;
    }
    if (ctx || S_CUDA_KEEP_UNUSED) {
        void *pin = dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        CG_ASSERT(pin); /* it is loaded: lib still holds it */
        dlclose(pin);
    }
    dlclose(lib);
    return ctx;
#else
    (void)shape, (void)adam, (void)seed, (void)ops, (void)transfer;
    snprintf(err, errlen,
             "device=cuda requested but this build has no CUDA backend "
             "(hint: set [learner] device = cpu or auto, or rebuild with the CUDA toolkit "
             "installed so CMake finds nvcc, with -DCG_CUDA=ON)");
    return NULL;
#endif
}

cg_backend_t *cg_backend_new(cg_device_t device, const cg_policy_shape_t *shape,
                             const cg_adam_config_t *adam, uint64_t seed, char *err, size_t errlen)
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
    cg_backend_cuda_ctx_transfer_fn *transfer = NULL;
    void *ctx = NULL;
    switch (device) {
    case CG_DEVICE_CPU: ctx = cg_backend_cpu_new(shape, adam, seed, &ops, err, errlen); break;
    case CG_DEVICE_CUDA: ctx = s_cuda_new(shape, adam, seed, &ops, &transfer, err, errlen); break;
    case CG_DEVICE_AUTO:
#ifdef CG_WITH_CUDA
        ctx = s_cuda_new(shape, adam, seed, &ops, &transfer, err, errlen);
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
    self->cuda_transfer = transfer;
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
    const int gaussian = self->shape.head == CG_HEAD_GAUSSIAN;
    if (!mb || !loss || mb->n <= 0 || !mb->obs || (gaussian ? !mb->action_f : !mb->action) ||
        !mb->logp_old || !mb->adv || !mb->weight)
        return CG_ERR_INVAL;
    /* An out-of-range action is bad input, not a broken invariant: CG_ERR_RANGE. Rows still
     * to be filled are checked by the backend once it has filled them. (A Gaussian head's
     * actions are any finite floats: the decoder checked them.) */
    if (!gaussian && !mb->fill && !cg_minibatch_actions_ok(mb, 0, mb->n, self->shape.n_actions))
        return CG_ERR_RANGE;
    cg_update_stats_t local;
    return self->ops->update(self->ctx, mb, loss, stats ? stats : &local);
}

cg_status_t cg_backend_set_threads(cg_backend_t *self, int32_t threads, char *err, size_t errlen)
{
    CG_ASSERT(self);
    return self->ops->set_threads ? self->ops->set_threads(self->ctx, threads, err, errlen) : CG_OK;
}

cg_status_t cg_backend_get_optim(cg_backend_t *self, float *m, float *v, int64_t *steps)
{
    CG_ASSERT(self);
    if (!m || !v || !steps)
        return CG_ERR_INVAL;
    return self->ops->get_optim(self->ctx, m, v, steps);
}

cg_status_t cg_backend_set_optim(cg_backend_t *self, const float *m, const float *v, int64_t steps)
{
    CG_ASSERT(self);
    if (!m || !v || steps < 0)
        return CG_ERR_INVAL;
    return self->ops->set_optim(self->ctx, m, v, steps);
}

/* Declared in cg_backend_cuda.h; defined here, in every build, because only this unit sees
 * a backend's context and the module's function for it. */
cg_status_t cg_backend_cuda_transfer(cg_backend_t *be, cg_backend_cuda_transfer_t *out, int reset)
{
    if (!be || !out)
        return CG_ERR_INVAL;
    if (!be->cuda_transfer)
        return CG_ERR_UNSUPPORTED;
    return be->cuda_transfer(be->ctx, out, reset);
}
