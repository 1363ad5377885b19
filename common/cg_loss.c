/* cg_loss: clipped-surrogate policy loss with optional k3 KL to a reference policy and an
 * entropy bonus, and its gradient with respect to the logits. The CPU reference every
 * other backend's loss is tested against. Each step is computed in double; outputs are
 * float. */
#include "cg_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"

/* Per step, with p = softmax(logits), logp_j = log p_j, a the action, l = logp_a:
 *   d(-surrogate)/dl = -A rho when the unclipped term is the min, 0 when the clipped
 *                      term is strictly smaller (no gradient through the clip);
 *   d(k3)/dl         = 1 - exp(r - l);
 *   dl/dlogits_k     = onehot_k(a) - p_k;
 *   dH/dlogits_k     = -p_k (logp_k + H).
 * so dlogits_k = w [ g (onehot_k(a) - p_k) + c_ent p_k (logp_k + H) ],
 *    g = d(-surrogate)/dl + beta (1 - exp(r - l)). */
void cg_loss_compute(const float *logits, int32_t n_actions, const cg_minibatch_t *mb,
                     const cg_loss_config_t *cfg, float *dlogits, cg_loss_stats_t *stats)
{
    CG_ASSERT(logits && mb && cfg && dlogits && n_actions > 0 && mb->n >= 0);
    const double lo = 1.0 - (double)cfg->clip_eps;
    const double hi = 1.0 + (double)cfg->clip_eps;
    const double c_ent = cfg->ent_coef;
    double loss = 0, pg_loss = 0, kl = 0, entropy = 0, approx_kl = 0;
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

        /* Clipped surrogate. A = 0 contributes nothing (and guards inf * 0). */
        const double adv = mb->adv[i];
        /* The log-ratio is bounded (CG_LOSS_LOG_RATIO_MAX), with no gradient beyond the
         * bound: a behaviour log-prob far below the policy's cannot overflow the ratio. */
        const double raw_log_ratio = logp - (double)mb->logp_old[i];
        const int ratio_bounded = fabs(raw_log_ratio) > CG_LOSS_LOG_RATIO_MAX;
        const double log_ratio =
            fmin(fmax(raw_log_ratio, -CG_LOSS_LOG_RATIO_MAX), CG_LOSS_LOG_RATIO_MAX);
        const double rho = exp(log_ratio);
        double surr = 0, g = 0;
        if (adv != 0) {
            double unclipped = rho * adv;
            double clipped = fmin(fmax(rho, lo), hi) * adv;
            if (clipped < unclipped) {
                surr = clipped;
                n_clipped++;
            } else {
                surr = unclipped;
                g = ratio_bounded ? 0.0 : -adv * rho;
            }
        }

        /* k3 estimator of KL(pi || ref), coefficient beta_i. */
        double k3 = 0, beta = 0;
        if (mb->logp_ref) {
            beta = mb->kl_coef ? (double)mb->kl_coef[i] : (double)cfg->kl_coef;
            double d = (double)mb->logp_ref[i] - logp;
            double ed = exp(d);
            k3 = ed - d - 1.0;
            g += beta * (1.0 - ed);
        }

        const double w = mb->weight[i];
        for (int32_t j = 0; j < n_actions; j++) {
            double logp_j = (double)x[j] - logz;
            double p_j = e[j];
            double dj = g * ((j == a ? 1.0 : 0.0) - p_j) + c_ent * p_j * (logp_j + h);
            dx[j] = (float)(w * dj);
        }

        pg_loss += w * -surr;
        kl += w * k3;
        entropy += w * h;
        approx_kl += w * -log_ratio;
        loss += w * (-surr + beta * k3 - c_ent * h);
    }

    free(e);
    if (stats) {
        memset(stats, 0, sizeof(*stats));
        stats->loss = loss;
        stats->pg_loss = pg_loss;
        stats->kl = kl;
        stats->entropy = entropy;
        stats->approx_kl = approx_kl;
        stats->clip_frac = mb->n > 0 ? (double)n_clipped / (double)mb->n : 0.0;
    }
}
