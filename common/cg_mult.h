/* cg_mult: Lagrange multipliers for K indicator-cost constraints (DESIGN.md section 4).
 *   softmax (default): logits z (K+1) init 0.02, lambda = softmax(z/T), lambda_R = lambda_0;
 *       loss -sum_k lambda_k (c_k - d_k), Adam (lr 0.03, 0.9/0.999, eps 1e-5), closed-form
 *       gradient dL/dz_i = -(1/T) lambda_i (g_i - gbar), g_0 = 0, g_k = c_k - d_k,
 *       gbar = sum_{k>=1} lambda_k g_k. Adam is bias-corrected (PyTorch form):
 *       z -= lr m_hat / (sqrt(v_hat) + eps), m_hat = m/(1-b1^t), v_hat = v/(1-b2^t).
 *   projected: lambda_R = 1, lambda_k <- clamp(lambda_k + lr (c_k - d_k), 0, upper)
 *       (upper = 0: no upper bound).
 *   pid: lambda_R = 1, e = c_k - d_k, I <- max(0, I + Ki e) (anti-windup; I starts at the
 *        constraint's fixed_lambda, so Ki sum(e) offset by the initial lambda),
 *        lambda_k = max(0, Kp e + I + Kd (e - e_prev)); no derivative term on the first update.
 *   projected and pid start from each constraint's fixed_lambda (projected: clamped to upper).
 *   fixed: lambda_R = lambda_reward, lambda_k = fixed_lambda, never updated.
 * The learner is the one writer; the lambdas are broadcast with the weights.
 * Threading: one owner. */
#ifndef CG_MULT_H
#define CG_MULT_H

#include <stddef.h>
#include <stdint.h>

#include "cg_config.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_mult cg_mult_t;

/* From the run config: kind and hyperparameters from [multipliers], K and thresholds
 * (and fixed/initial lambdas) from [constraints]. Caller destroys. NULL (logged) if a value
 * the kind reads is out of range (K > CG_MAX_COSTS, threshold outside [0,1], ...). */
cg_mult_t *cg_mult_new(const cg_config_t *cfg);
void cg_mult_destroy(cg_mult_t **self_p);

int32_t cg_mult_n_constraints(const cg_mult_t *self);
/* One update from the batch's violation rates c (K). Rates must be finite and in [0,1],
 * else CG_ERR_RANGE and nothing changes. */
cg_status_t cg_mult_update(cg_mult_t *self, const float *rate);
/* lambda (K+1): lambda[0] = lambda_R, lambda[1+k] = lambda_k. */
void cg_mult_lambda(const cg_mult_t *self, float *lambda);
/* The gradient of the last update w.r.t. the logits (softmax kind; (K+1)), for tests/logs.
 * Zeros for the other kinds and before the first update. */
void cg_mult_last_grad(const cg_mult_t *self, float *grad);
const float *cg_mult_thresholds(const cg_mult_t *self); /* (K) */

/* State for checkpoints: a flat double array of cg_mult_state_size() values:
 * (kind, K), then softmax: z (K+1), Adam m (K+1), v (K+1), step; projected: lambda (K);
 * pid: lambda (K), integral (K), previous error (K), step; fixed: nothing more. */
size_t cg_mult_state_size(const cg_mult_t *self);
void cg_mult_state_get(const cg_mult_t *self, double *state);
/* CG_ERR_CORRUPT if n is wrong or a value is non-finite or out of range (negative lambda,
 * integral or v, non-integer step ...); CG_ERR_MISMATCH if the state is of another kind or
 * K. On failure nothing changes. */
cg_status_t cg_mult_state_set(cg_mult_t *self, const double *state, size_t n);

#ifdef __cplusplus
}
#endif
#endif
