/* cg_backend: where policy updates run. A backend is a table of function pointers plus a
 * context (ggml style); the CPU backend (cg_policy + cg_loss + cg_adam) is always built and
 * is the reference; a CUDA backend is added only when built with CG_WITH_CUDA, and that
 * define appears in backend selection (cg_backend.c) only.
 * Threading: one thread at a time per backend. Ownership may pass to another thread through
 * a synchronising hand-off (the learner lends it to cg_updater's thread over a ZeroMQ pipe);
 * the CUDA backend makes its device current at every call, so the thread may change. */
#ifndef CG_BACKEND_H
#define CG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "cg_adam.h"
#include "cg_config.h"
#include "cg_loss.h"
#include "cg_policy.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    cg_loss_stats_t loss;
    float grad_norm; /* global L2 norm before clipping */
} cg_update_stats_t;

typedef struct cg_backend_ops {
    const char *name; /* "cpu", "cuda" */
    /* Copies n_params floats in/out of the backend's parameter arena. */
    cg_status_t (*set_params)(void *ctx, const float *params);
    cg_status_t (*get_params)(void *ctx, float *params);
    /* logits (n, n_actions) for obs (n, obs_dim) with the current parameters. */
    cg_status_t (*forward)(void *ctx, const float *obs, int32_t n, float *logits);
    /* One optimiser step on a minibatch: forward, loss, backward, Adam. */
    cg_status_t (*update)(void *ctx, const cg_minibatch_t *mb, const cg_loss_config_t *loss,
                          cg_update_stats_t *stats);
    /* Adam state in/out: m and v (n_params floats each) and the step count. */
    cg_status_t (*get_optim)(void *ctx, float *m, float *v, int64_t *steps);
    cg_status_t (*set_optim)(void *ctx, const float *m, const float *v, int64_t steps);
    /* Optional (NULL: one stream of work, the setting does not apply): host threads an
     * update may use; the result may depend on the count, never on timing. */
    cg_status_t (*set_threads)(void *ctx, int32_t threads, char *err, size_t errlen);
    void (*destroy)(void *ctx);
} cg_backend_ops_t;

typedef struct cg_backend cg_backend_t;

/* Creates the backend for `device`: CPU, CUDA (CG_ERR_UNSUPPORTED with a message in err if
 * not built or no device is present), or AUTO (CUDA when a device is present, else CPU).
 * CUDA and AUTO load the CUDA module (libcg_cuda.so, cg_backend_cuda.h) at this point:
 * CUDA fails with a message if it cannot be loaded, AUTO falls back to the CPU.
 * Initial parameters come from cg_policy_new(shape, seed). NULL + err on failure. */
cg_backend_t *cg_backend_new(cg_device_t device, const cg_policy_shape_t *shape,
                             const cg_adam_config_t *adam, uint64_t seed, char *err, size_t errlen);
void cg_backend_destroy(cg_backend_t **self_p);

const char *cg_backend_name(const cg_backend_t *self);
size_t cg_backend_n_params(const cg_backend_t *self);
const cg_policy_shape_t *cg_backend_shape(const cg_backend_t *self);

cg_status_t cg_backend_set_params(cg_backend_t *self, const float *params);
cg_status_t cg_backend_get_params(cg_backend_t *self, float *params);
cg_status_t cg_backend_forward(cg_backend_t *self, const float *obs, int32_t n, float *logits);
cg_status_t cg_backend_update(cg_backend_t *self, const cg_minibatch_t *mb,
                              const cg_loss_config_t *loss, cg_update_stats_t *stats);
cg_status_t cg_backend_get_optim(cg_backend_t *self, float *m, float *v, int64_t *steps);
/* Host threads for updates (the CPU backend splits each minibatch's rows over them; 1 by
 * default); a no-op for a backend without the setting. Message in err on failure. */
cg_status_t cg_backend_set_threads(cg_backend_t *self, int32_t threads, char *err, size_t errlen);
cg_status_t cg_backend_set_optim(cg_backend_t *self, const float *m, const float *v, int64_t steps);

/* Backend constructors used by cg_backend_new (exposed for tests). Each fills *ops and
 * returns its context, or NULL with a message in err. */
void *cg_backend_cpu_new(const cg_policy_shape_t *shape, const cg_adam_config_t *adam,
                         uint64_t seed, const cg_backend_ops_t **ops, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
