/* cg_adv: per-episode advantages of one group (grpo, ScRew, ScAdv) and the MDP-GRPO reward
 * stabilisers (dual anchor, prospect shaping). Everything is computed in double and stored
 * as float; the formulas and conventions are written out in docs/algorithm.md.
 * No allocation: per-component statistics live on the stack (K <= CG_MAX_COSTS). */
#include "cg_adv.h"

#include <math.h>
#include <stddef.h>

/* Under ScRew, sigma_RS is treated as zero when it is at most this fraction of
 * sum_j |w_j| sigma_j (its bound by the triangle inequality). Rounding in the weighted sum
 * is below (K+1) * 2^-53 of that bound, so only cancellation noise is caught. */
#define CG_ADV_REL_ZERO 1e-12

/* Population mean and std of x (G) in double, two passes. A group of equal floats gives
 * mean == x exactly (the double sum of G <= 2^29 equal floats is exact), hence std == 0. */
static void s_moments(const float *x, int32_t G, double *mean, double *std)
{
    double sum = 0.0;
    for (int32_t i = 0; i < G; i++)
        sum += (double)x[i];
    double mu = sum / (double)G;
    double ss = 0.0;
    for (int32_t i = 0; i < G; i++) {
        double d = (double)x[i] - mu;
        ss += d * d;
    }
    *mean = mu;
    *std = sqrt(ss / (double)G);
}

static double s_z(double x, double mean, double std, double eps)
{
    return std > 0.0 ? (x - mean) / (std + eps) : 0.0;
}

static double s_prospect(double v, double beta, double lambda_pos, double lambda_neg)
{
    double t = tanh(beta * v);
    return v >= 0.0 ? lambda_pos * t : lambda_neg * t;
}

/* The reward (or ScRew) component after the stabilisers: identity when both are off,
 * PT(z) with prospect alone, (1-alpha) PT(z) + alpha PT(delta) with the dual anchor
 * (PT = identity there when prospect is off). */
static double s_stabilise(const cg_adv_config_t *cfg, double z, double r, double mu_goal,
                          double sigma_goal)
{
    double pz =
        cfg->prospect ? s_prospect(z, cfg->pt_beta, cfg->pt_lambda_pos, cfg->pt_lambda_neg) : z;
    if (!cfg->dual_anchor)
        return pz;
    double delta = (r - mu_goal) / sigma_goal;
    double pd = cfg->prospect
                    ? s_prospect(delta, cfg->pt_beta, cfg->pt_lambda_pos, cfg->pt_lambda_neg)
                    : delta;
    double alpha = (double)cfg->alpha;
    return (1.0 - alpha) * pz + alpha * pd;
}

/* The dual anchor's goal: delta = (r - mu_goal) / sigma_goal. Paper form: mu_goal = 0.5,
 * sigma_goal = 1 / (2 sqrt(C)); code form (the authors' code): mu_goal = max(0.5, the
 * group's mean reward), sigma_goal = sqrt(G / 4C). */
static void s_goal(const cg_adv_config_t *cfg, double mean_r, int32_t G, int32_t n_checks,
                   double *mu_goal, double *sigma_goal)
{
    *mu_goal = 0.5;
    *sigma_goal = 1.0;
    if (!cfg->dual_anchor)
        return;
    if (cfg->anchor == CG_ANCHOR_CODE) {
        *mu_goal = mean_r > 0.5 ? mean_r : 0.5;
        *sigma_goal = sqrt((double)G / (4.0 * (double)n_checks));
    } else {
        *sigma_goal = 0.5 / sqrt((double)n_checks);
    }
}

static int s_all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

void cg_adv_config_from(const cg_config_t *cfg, cg_adv_config_t *out)
{
    CG_ASSERT(cfg && out);
    out->estimator = cfg->estimator;
    out->eps = cfg->adv_eps;
    out->dual_anchor = cfg->dual_anchor;
    out->anchor = cfg->anchor;
    out->alpha = cfg->da_alpha;
    out->prospect = cfg->prospect;
    out->pt_beta = cfg->pt_beta;
    out->pt_lambda_pos = cfg->pt_lambda_pos;
    out->pt_lambda_neg = cfg->pt_lambda_neg;
}

double cg_adv_zscore(const float *x, int32_t G, float eps, float *z)
{
    CG_ASSERT(x && z && G >= 1);
    double mu, sd;
    s_moments(x, G, &mu, &sd);
    for (int32_t i = 0; i < G; i++)
        z[i] = (float)s_z((double)x[i], mu, sd, (double)eps);
    return sd;
}

float cg_adv_prospect(float v, float beta, float lambda_pos, float lambda_neg)
{
    return (float)s_prospect((double)v, (double)beta, (double)lambda_pos, (double)lambda_neg);
}

float cg_adv_kl_coef(float a, float kl_neg, float kl_pos)
{
    return a < 0.0f ? kl_neg : kl_pos;
}

cg_status_t cg_adv_group(const cg_adv_config_t *cfg, int32_t G, int32_t K, const float *reward,
                         const float *cost, const float *lambda, int32_t n_checks, float *adv,
                         float *eff_weight)
{
    if (!cfg || !reward || !adv || G < 1 || K < 0 || K > CG_MAX_COSTS)
        return CG_ERR_INVAL;
    cg_adv_estimator_t est = cfg->estimator;
    if (est != CG_ADV_GRPO && est != CG_ADV_SCALARIZED_REWARDS &&
        est != CG_ADV_SCALARIZED_ADVANTAGES)
        return CG_ERR_INVAL;
    if (!isfinite(cfg->eps) || cfg->eps < 0.0f)
        return CG_ERR_INVAL;
    if (cfg->dual_anchor &&
        (n_checks < 1 || (cfg->anchor != CG_ANCHOR_PAPER && cfg->anchor != CG_ANCHOR_CODE)))
        return CG_ERR_INVAL;
    /* grpo reads neither costs nor multipliers. */
    int32_t nc = est == CG_ADV_GRPO ? 0 : K;
    if (est != CG_ADV_GRPO && (!lambda || (K > 0 && !cost)))
        return CG_ERR_INVAL;
    if (!s_all_finite(reward, (size_t)G) || !s_all_finite(cost, (size_t)nc * (size_t)G) ||
        (est != CG_ADV_GRPO && !s_all_finite(lambda, (size_t)K + 1)))
        return CG_ERR_NONFINITE;

    const double eps = (double)cfg->eps;
    double mu_goal, sigma_goal;
    /* Component j: 0 = reward, 1+k = cost k; signed weights w = (lambda_R, -lambda_k). */
    double mu[CG_MAX_COSTS + 1], sd[CG_MAX_COSTS + 1], w[CG_MAX_COSTS + 1];
    const float *x[CG_MAX_COSTS + 1];
    x[0] = reward;
    for (int32_t k = 0; k < nc; k++)
        x[1 + k] = cost + (size_t)k * (size_t)G;
    for (int32_t j = 0; j <= nc; j++) {
        s_moments(x[j], G, &mu[j], &sd[j]);
        w[j] = est == CG_ADV_GRPO ? 1.0 : (j == 0 ? (double)lambda[0] : -(double)lambda[j]);
    }
    s_goal(cfg, mu[0], G, n_checks, &mu_goal, &sigma_goal);

    if (est == CG_ADV_GRPO) {
        for (int32_t i = 0; i < G; i++) {
            double z = s_z((double)reward[i], mu[0], sd[0], eps);
            adv[i] = (float)s_stabilise(cfg, z, (double)reward[i], mu_goal, sigma_goal);
        }
        if (eff_weight) {
            eff_weight[0] = 1.0f;
            for (int32_t k = 0; k < K; k++)
                eff_weight[1 + k] = 0.0f;
        }
        return CG_OK;
    }

    if (est == CG_ADV_SCALARIZED_ADVANTAGES) {
        for (int32_t i = 0; i < G; i++) {
            double zr = s_z((double)reward[i], mu[0], sd[0], eps);
            double a = w[0] * s_stabilise(cfg, zr, (double)reward[i], mu_goal, sigma_goal);
            for (int32_t j = 1; j <= K; j++)
                a += w[j] * s_z((double)x[j][i], mu[j], sd[j], eps);
            adv[i] = (float)a;
        }
        if (eff_weight)
            for (int32_t j = 0; j <= K; j++)
                eff_weight[j] = (float)w[j];
        return CG_OK;
    }

    /* ScRew. R_S - mean(R_S) = sum_j w_j (x_j - mu_j): built from the centred components, so
     * a component constant in the group contributes an exact zero. */
    double ss = 0.0, bound = 0.0;
    for (int32_t i = 0; i < G; i++) {
        double e = 0.0;
        for (int32_t j = 0; j <= K; j++)
            e += w[j] * ((double)x[j][i] - mu[j]);
        ss += e * e;
    }
    for (int32_t j = 0; j <= K; j++)
        bound += fabs(w[j]) * sd[j];
    double sd_rs = sqrt(ss / (double)G);
    if (sd_rs <= CG_ADV_REL_ZERO * bound)
        sd_rs = 0.0;
    for (int32_t i = 0; i < G; i++) {
        double z = 0.0;
        if (sd_rs > 0.0) {
            double e = 0.0;
            for (int32_t j = 0; j <= K; j++)
                e += w[j] * ((double)x[j][i] - mu[j]);
            z = e / (sd_rs + eps);
        }
        adv[i] = (float)s_stabilise(cfg, z, (double)reward[i], mu_goal, sigma_goal);
    }
    if (eff_weight)
        for (int32_t j = 0; j <= K; j++)
            eff_weight[j] = sd_rs > 0.0 ? (float)(w[j] * sd[j] / sd_rs) : 0.0f;
    return CG_OK;
}
