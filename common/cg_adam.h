/* cg_adam: Adam over a flat parameter arena, with optional global gradient-norm clipping.
 * State (m, v, step count) is one arena so it can be checkpointed and restored.
 * Threading: one owner. */
#ifndef CG_ADAM_H
#define CG_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float lr;
    float beta1;
    float beta2;
    float eps;
    float max_grad_norm; /* 0 = no clipping */
} cg_adam_config_t;

typedef struct cg_adam cg_adam_t;

/* Zeroed moments, step count 0. Returns NULL on an invalid config (lr < 0, betas outside
 * [0, 1), eps < 0, max_grad_norm < 0, or any of them non-finite). Caller destroys. */
cg_adam_t *cg_adam_new(size_t n_params, const cg_adam_config_t *cfg);
void cg_adam_destroy(cg_adam_t **self_p);

/* One step: clips grad in place to max_grad_norm (if set), then updates params
 * (PyTorch's bias-corrected Adam). Returns the gradient's global L2 norm before clipping,
 * computed in double. If that norm is not finite, nothing is changed (params, grad,
 * moments and step count) and the non-finite norm is returned for the caller to report. */
float cg_adam_step(cg_adam_t *self, float *params, float *grad);

size_t cg_adam_n_params(const cg_adam_t *self);
int64_t cg_adam_steps(const cg_adam_t *self);
/* Views of the moment arenas (n_params floats each), owned by the optimiser. */
float *cg_adam_m(cg_adam_t *self);
float *cg_adam_v(cg_adam_t *self);
void cg_adam_set_steps(cg_adam_t *self, int64_t steps);

#ifdef __cplusplus
}
#endif
#endif
