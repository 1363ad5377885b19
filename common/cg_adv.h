/* cg_adv: per-episode advantages of one group (DESIGN.md section 4), CPU reference.
 * Within-group mean and std use the population convention (divide by G);
 * Z_x = (x - mean) / (std + eps); a component with std = 0 gives Z = 0.
 *   grpo:                  A = Z_R
 *   scalarized_rewards:    A = Z_{R_S},  R_S = lambda_R R - sum_k lambda_k C_k
 *   scalarized_advantages: A = lambda_R Z_R - sum_k lambda_k Z_{C_k}   (no renormalisation)
 * Computed in double, stored as float. "std = 0" is exact for one component (a group of
 * equal floats gives exactly 0); under ScRew sigma_RS counts as 0 when it is at most
 * 1e-12 sum_j |w_j| sigma_j (cancellation noise), and then A = 0 and eff weights are 0.
 * MDP-GRPO stabilisers transform the reward component before scalarization:
 *   dual anchor: A_R = (1-alpha) PT(Z_R) + alpha PT(delta), delta = (r-0.5)/sigma_goal,
 *                sigma_goal = 1/(2 sqrt(C))  (C = verifiable checks of the prompt);
 *                PT = identity when prospect is off
 *   prospect:    PT(v) = lambda_plus tanh(beta v) (v >= 0), lambda_minus tanh(beta v) (v < 0)
 *   grpo: A = A_R;  ScAdv: A = lambda_R A_R - sum_k lambda_k Z_{C_k};
 *   ScRew: the stabiliser is applied to Z_{R_S} in place of Z_R (delta still from r).
 * docs/algorithm.md has the formulas, conventions and worked numbers.
 * Not here: multipliers (cg_mult). Threading: pure functions, no allocation. */
#ifndef CG_ADV_H
#define CG_ADV_H

#include <stdbool.h>
#include <stdint.h>

#include "cg_config.h"
#include "cg_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    cg_adv_estimator_t estimator;
    float eps; /* 1e-8 */
    bool dual_anchor;
    cg_anchor_form_t anchor; /* paper */
    float alpha;             /* 0.2 */
    bool prospect;
    float pt_beta;       /* 0.8 */
    float pt_lambda_pos; /* 1.25 */
    float pt_lambda_neg; /* 2.0 */
} cg_adv_config_t;

/* Fills an adv config from the run config ([train] estimator/adv_eps, [stabilisers]). */
void cg_adv_config_from(const cg_config_t *cfg, cg_adv_config_t *out);

/* z (G) = population z-scores of x (G); all zero when std == 0. Returns the std. */
double cg_adv_zscore(const float *x, int32_t G, float eps, float *z);

/* Prospect-theoretic shaping of one value. */
float cg_adv_prospect(float v, float beta, float lambda_pos, float lambda_neg);

/* Advantages of one group.
 *   reward: (G)     cost: (K, G) row-major (constraint k's G indicators contiguous)
 *   lambda: (K+1)   lambda[0] = lambda_R, lambda[1+k] = lambda_k
 *   n_checks: C for the dual anchor (ignored unless cfg->dual_anchor; must be >= 1 then)
 *   adv (G): output.  eff_weight (K+1) or NULL: effective weights w_j sigma_j / sigma_RS for
 *   scalarized_rewards (signed: reward positive, costs negative), w itself for
 *   scalarized_advantages, (1, 0...) for grpo; all zero if sigma_RS == 0 under ScRew.
 *   Under grpo, cost and lambda are not read (may be NULL); otherwise lambda is required and
 *   cost too when K > 0.
 * Returns CG_ERR_INVAL for G < 1, K < 0, K > CG_MAX_COSTS, n_checks < 1 with dual_anchor,
 * a missing array, an unknown estimator or eps < 0; CG_ERR_NONFINITE for a NaN/Inf input.
 * On failure adv and eff_weight are not written. */
cg_status_t cg_adv_group(const cg_adv_config_t *cfg, int32_t G, int32_t K, const float *reward,
                         const float *cost, const float *lambda, int32_t n_checks, float *adv,
                         float *eff_weight);

/* Asymmetric-KL coefficient for an episode with advantage a: kl_neg if a < 0 else kl_pos. */
float cg_adv_kl_coef(float a, float kl_neg, float kl_pos);

#ifdef __cplusplus
}
#endif
#endif
