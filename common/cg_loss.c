/* cg_loss: clipped-surrogate policy loss with optional k3 KL to a reference policy and an
 * entropy bonus, and its gradient with respect to the logits. The CPU reference every
 * other backend's loss is tested against. Each step is computed in double; outputs are
 * float. */
#include "cg_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_policy.h"

/* The terms of one step that depend on its log-prob l alone: the clipped surrogate and the
 * k3 KL. Writes the step's surrogate, k3, beta and bounded log-ratio, counts a clipped step,
 * and returns g = d(-surrogate + beta k3)/dl:
 *   d(-surrogate)/dl = -A rho when the unclipped term is the min, 0 when the clipped
 *                      term is strictly smaller (no gradient through the clip);
 *   d(k3)/dl         = 1 - exp(r - l). */
typedef struct {
    double surr, k3, beta, log_ratio;
} s_step_terms_t;

static inline double s_step_terms(double logp, int32_t i, const cg_minibatch_t *mb,
                                  const cg_loss_config_t *cfg, s_step_terms_t *t,
                                  int64_t *n_clipped)
{
    const double lo = 1.0 - (double)cfg->clip_eps;
    const double hi = 1.0 + (double)cfg->clip_eps;
    /* Clipped surrogate. A = 0 contributes nothing (and guards inf * 0). */
    const double adv = mb->adv[i];
    /* The log-ratio is bounded (CG_LOSS_LOG_RATIO_MAX), with no gradient beyond the
     * bound: a behaviour log-prob far below the policy's cannot overflow the ratio. */
    const double raw_log_ratio = logp - (double)mb->logp_old[i];
    const int ratio_bounded = fabs(raw_log_ratio) > CG_LOSS_LOG_RATIO_MAX;
    t->log_ratio = fmin(fmax(raw_log_ratio, -CG_LOSS_LOG_RATIO_MAX), CG_LOSS_LOG_RATIO_MAX);
    const double rho = exp(t->log_ratio);
    double g = 0;
    t->surr = 0;
    if (adv != 0) {
        double unclipped = rho * adv;
        double clipped = fmin(fmax(rho, lo), hi) * adv;
        if (clipped < unclipped) {
            t->surr = clipped;
            (*n_clipped)++;
        } else {
            t->surr = unclipped;
            g = ratio_bounded ? 0.0 : -adv * rho;
        }
    }

    /* k3 estimator of KL(pi || ref), coefficient beta_i. */
    t->k3 = 0;
    t->beta = 0;
    if (mb->logp_ref) {
        t->beta = mb->kl_coef ? (double)mb->kl_coef[i] : (double)cfg->kl_coef;
        double d = (double)mb->logp_ref[i] - logp;
        double ed = exp(d);
        t->k3 = ed - d - 1.0;
        g += t->beta * (1.0 - ed);
    }
    return g;
}

static void s_write_stats(cg_loss_stats_t *stats, const double sums[5], int64_t n_clipped,
                          int32_t n)
{
    if (!stats)
        return;
    memset(stats, 0, sizeof(*stats));
    stats->loss = sums[0];
    stats->pg_loss = sums[1];
    stats->kl = sums[2];
    stats->entropy = sums[3];
    stats->approx_kl = sums[4];
    stats->clip_frac = n > 0 ? (double)n_clipped / (double)n : 0.0;
}

/* Per step, with p = softmax(logits), logp_j = log p_j, a the action, l = logp_a, g from
 * s_step_terms:
 *   dl/dlogits_k     = onehot_k(a) - p_k;
 *   dH/dlogits_k     = -p_k (logp_k + H).
 * so dlogits_k = w [ g (onehot_k(a) - p_k) + c_ent p_k (logp_k + H) ]. */
void cg_loss_compute(const float *logits, int32_t n_actions, const cg_minibatch_t *mb,
                     const cg_loss_config_t *cfg, float *dlogits, cg_loss_stats_t *stats)
{
    CG_ASSERT(logits && mb && cfg && dlogits && n_actions > 0 && mb->n >= 0);
    const double c_ent = cfg->ent_coef;
    double sums[5] = {0}; /* loss, pg_loss, kl, entropy, approx_kl */
    int64_t n_clipped = 0;
    double *e = cg_calloc((size_t)n_actions, sizeof *e); /* (n_actions) one row's probabilities */

    for (int32_t i = 0; i < mb->n; i++) {
        const float *x = logits + (size_t)i * (size_t)n_actions;
        float *dx = dlogits + (size_t)i * (size_t)n_actions;
        const int32_t a = mb->action[i];
        CG_ASSERT(a >= 0 && a < n_actions);

        /* Stable softmax, one exp per action: p_j = e_j / sum with e_j = exp(x_j - max),
         * logp_j = x_j - logz. */
        double xmax = x[0];
        for (int32_t j = 1; j < n_actions; j++)
            if (x[j] > xmax)
                xmax = x[j];
        double sum = 0;
        for (int32_t j = 0; j < n_actions; j++) {
            e[j] = exp((double)x[j] - xmax);
            sum += e[j];
        }
        const double logz = xmax + log(sum), inv_sum = 1.0 / sum;
        double h = 0;
        for (int32_t j = 0; j < n_actions; j++) {
            e[j] *= inv_sum; /* now p_j */
            h -= e[j] * ((double)x[j] - logz);
        }
        const double logp = (double)x[a] - logz;
        s_step_terms_t t;
        const double g = s_step_terms(logp, i, mb, cfg, &t, &n_clipped);

        const double w = mb->weight[i];
        for (int32_t j = 0; j < n_actions; j++) {
            double logp_j = (double)x[j] - logz;
            double p_j = e[j];
            double dj = g * ((j == a ? 1.0 : 0.0) - p_j) + c_ent * p_j * (logp_j + h);
            dx[j] = (float)(w * dj);
        }

        sums[1] += w * -t.surr;
        sums[2] += w * t.k3;
        sums[3] += w * h;
        sums[4] += w * -t.log_ratio;
        sums[0] += w * (-t.surr + t.beta * t.k3 - c_ent * h);
    }

    free(e);
    s_write_stats(stats, sums, n_clipped, mb->n);
}

/* Per step, with z_d = (a_d - mu_d) / sigma_d, l = sum_d (-z_d^2 / 2 - log sigma_d) - dim/2
 * log 2 pi, H = sum_d log sigma_d + dim/2 log(2 pi e) and g from s_step_terms:
 *   dl/dmu_d         = z_d / sigma_d,   dl/dlog sigma_d = z_d^2 - 1,
 *   dH/dlog sigma_d  = 1 (and 0 for mu),
 * so dmean_d = w g z_d / sigma_d and dlog_std_d += w [ g (z_d^2 - 1) - c_ent ]. */
void cg_loss_gaussian_compute(const float *mean, const float *log_std, int32_t dim,
                              const cg_minibatch_t *mb, const cg_loss_config_t *cfg, float *dmean,
                              double *dlog_std, cg_loss_stats_t *stats)
{
    CG_ASSERT(mean && log_std && mb && mb->action_f && cfg && dmean && dlog_std && dim > 0 &&
              mb->n >= 0);
    const double c_ent = cfg->ent_coef;
    const double h = cg_policy_gaussian_entropy(log_std, dim);
    double sums[5] = {0};
    int64_t n_clipped = 0;
    for (int32_t i = 0; i < mb->n; i++) {
        const float *mu = mean + (size_t)i * (size_t)dim;
        const float *a = mb->action_f + (size_t)i * (size_t)dim;
        float *dmu = dmean + (size_t)i * (size_t)dim;
        const double logp = cg_policy_gaussian_logp(mu, log_std, dim, a);
        s_step_terms_t t;
        const double g = s_step_terms(logp, i, mb, cfg, &t, &n_clipped);
        const double w = mb->weight[i];
        for (int32_t d = 0; d < dim; d++) {
            const double inv_sigma = exp(-(double)cg_policy_log_std_bound(log_std[d]));
            const double z = ((double)a[d] - (double)mu[d]) * inv_sigma;
            dmu[d] = (float)(w * g * z * inv_sigma);
            dlog_std[d] += w * (g * (z * z - 1.0) - c_ent);
        }
        sums[1] += w * -t.surr;
        sums[2] += w * t.k3;
        sums[3] += w * h;
        sums[4] += w * -t.log_ratio;
        sums[0] += w * (-t.surr + t.beta * t.k3 - c_ent * h);
    }
    s_write_stats(stats, sums, n_clipped, mb->n);
}
