/* test_gaussian: the diagonal Gaussian head (cg_policy_gaussian_*, cg_loss_gaussian_compute)
 * against closed forms (log-density, entropy, the sampler's moments at a temperature, the
 * log-std bound) and against an independent double-precision reference of the loss, whose
 * gradients with respect to the mean and the log-std are checked by central differences on
 * random minibatches (clip, k3 with either beta, entropy). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_loss.h"
#include "cg_policy.h"
#include "cg_rng.h"
#include "cg_test.h"

#define MAX_N 48
#define MAX_D 4
#define LOG_2PI 1.8378770664093453

/* log N(a; mu, sigma^2) of one coordinate, written from the density itself. */
static double ref_log_density(double a, double mu, double log_sigma)
{
    double sigma = exp(log_sigma);
    return log(exp(-(a - mu) * (a - mu) / (2 * sigma * sigma)) / (sigma * sqrt(2 * M_PI)));
}

/* Closed forms: N(1; 0, 1) = -1/2 - log sqrt(2 pi); a 2-D case with sigma = (1, 2) and
 * mean (0.5, -1); the entropy sum_d log sigma_d + d/2 log(2 pi e). */
static void test_gaussian_closed_forms(void)
{
    const float mean1[1] = {0.0f}, ls1[1] = {0.0f}, a1[1] = {1.0f};
    CG_ASSERT_NEAR(cg_policy_gaussian_logp(mean1, ls1, 1, a1), -0.5 - 0.5 * LOG_2PI, 1e-12);
    const float mean2[2] = {0.5f, -1.0f}, ls2[2] = {0.0f, (float)M_LN2}, a2[2] = {1.5f, 3.0f};
    /* z = (1, 2): -(1 + 4)/2 - log 2 - log(2 pi) */
    CG_ASSERT_NEAR(cg_policy_gaussian_logp(mean2, ls2, 2, a2),
                   -2.5 - (double)(float)M_LN2 - LOG_2PI, 1e-7);
    CG_ASSERT_NEAR(cg_policy_gaussian_logp(mean2, ls2, 2, a2),
                   ref_log_density(1.5, 0.5, 0.0) + ref_log_density(3.0, -1.0, (float)M_LN2), 1e-9);
    CG_ASSERT_NEAR(cg_policy_gaussian_entropy(ls2, 2), (double)(float)M_LN2 + LOG_2PI + 1.0, 1e-12);
}

/* log sigma is bounded to [CG_POLICY_LOG_STD_MIN, CG_POLICY_LOG_STD_MAX] wherever it is used. */
static void test_gaussian_log_std_bound(void)
{
    CU_ASSERT_EQUAL(cg_policy_log_std_bound(-9.0f), CG_POLICY_LOG_STD_MIN);
    CU_ASSERT_EQUAL(cg_policy_log_std_bound(7.0f), CG_POLICY_LOG_STD_MAX);
    CU_ASSERT_EQUAL(cg_policy_log_std_bound(-0.25f), -0.25f);
    const float mean[1] = {0.0f}, a[1] = {0.5f};
    const float far[1] = {40.0f}, at[1] = {CG_POLICY_LOG_STD_MAX};
    CU_ASSERT_EQUAL(cg_policy_gaussian_logp(mean, far, 1, a),
                    cg_policy_gaussian_logp(mean, at, 1, a));
    CU_ASSERT_EQUAL(cg_policy_gaussian_entropy(far, 1), cg_policy_gaussian_entropy(at, 1));
    const float low[1] = {-1e30f};
    CU_ASSERT(isfinite(cg_policy_gaussian_logp(mean, low, 1, a)));
}

/* Samples at temperature tau have mean mu and standard deviation sigma sqrt(tau) per
 * coordinate; logp1 is the sample's log-density at tau = 1; equal seeds, equal samples. */
static void test_gaussian_sample(void)
{
    const float mean[2] = {0.7f, -2.0f}, ls[2] = {-0.5f, 0.3f};
    const float taus[3] = {1.0f, 0.25f, 0.1f};
    for (int t = 0; t < 3; t++) {
        cg_rng_t rng;
        cg_rng_seed(&rng, 11, (uint64_t)t);
        const int n = 200000;
        double s[2] = {0}, s2[2] = {0};
        for (int k = 0; k < n; k++) {
            float a[2], lp;
            cg_policy_gaussian_sample(mean, ls, 2, taus[t], &rng, a, &lp);
            if (k < 100)
                CG_ASSERT_NEAR(lp, cg_policy_gaussian_logp(mean, ls, 2, a), 1e-5);
            for (int d = 0; d < 2; d++) {
                s[d] += a[d];
                s2[d] += (double)a[d] * a[d];
            }
        }
        for (int d = 0; d < 2; d++) {
            double m = s[d] / n, sd = sqrt(s2[d] / n - m * m);
            double want = exp((double)ls[d]) * sqrt((double)taus[t]);
            CG_ASSERT_NEAR(m, mean[d], 5.0 * want / sqrt(n));
            CG_ASSERT_NEAR(sd, want, 0.01 * want);
        }
    }
    cg_rng_t r1, r2;
    cg_rng_seed(&r1, 5, 0);
    cg_rng_seed(&r2, 5, 0);
    float a1[2], a2[2];
    cg_policy_gaussian_sample(mean, ls, 2, 0.5f, &r1, a1, NULL);
    cg_policy_gaussian_sample(mean, ls, 2, 0.5f, &r2, a2, NULL);
    CU_ASSERT(memcmp(a1, a2, sizeof a1) == 0);
}

/* ---- the loss against a double reference ---- */

typedef struct {
    int32_t n, dim;
    double action[MAX_N * MAX_D];
    double logp_old[MAX_N], adv[MAX_N], weight[MAX_N], logp_ref[MAX_N], kl_coef[MAX_N];
    int has_ref, has_step_kl;
    double clip_eps, kl_coef_cfg, ent_coef;
} ref_batch_t;

/* The documented loss written directly: the density from ref_log_density, min/clip as
 * written, k3, the entropy in closed form; params = mean (n, dim) then log_std (dim). */
static double ref_loss(const ref_batch_t *b, const double *mean, const double *log_std)
{
    double total = 0, h = 0;
    for (int32_t d = 0; d < b->dim; d++)
        h += log_std[d] + 0.5 * (LOG_2PI + 1.0);
    for (int32_t i = 0; i < b->n; i++) {
        double l = 0;
        for (int32_t d = 0; d < b->dim; d++)
            l += ref_log_density(b->action[i * b->dim + d], mean[i * b->dim + d], log_std[d]);
        double rho = exp(l - b->logp_old[i]);
        double lo = 1 - b->clip_eps, hi = 1 + b->clip_eps;
        double rc = rho < lo ? lo : rho > hi ? hi : rho;
        double surr = fmin(rho * b->adv[i], rc * b->adv[i]);
        double kl = 0;
        if (b->has_ref) {
            double beta = b->has_step_kl ? b->kl_coef[i] : b->kl_coef_cfg;
            double r = b->logp_ref[i];
            kl = beta * (exp(r - l) - (r - l) - 1);
        }
        total += b->weight[i] * (-surr + kl - b->ent_coef * h);
    }
    return total;
}

/* A random minibatch: episodes of 1..4 steps, w = 1/(len * episodes), actions drawn from the
 * Gaussian itself, logp_old = logp + noise with the ratio kept 1e-3 away from the clip's
 * kinks, all inputs rounded to float so that both sides see the same numbers. */
static void make_batch(cg_rng_t *rng, ref_batch_t *b, double *mean, double *log_std)
{
    b->dim = 1 + (int32_t)cg_rng_below(rng, MAX_D);
    b->clip_eps = 0.2;
    for (int32_t d = 0; d < b->dim; d++)
        log_std[d] = (double)(float)(-1.0 + cg_rng_uniform(rng));
    int32_t n_ep = 0, len[MAX_N], n = 0;
    while (n < MAX_N - 4 && n_ep < 10) {
        len[n_ep] = 1 + (int32_t)cg_rng_below(rng, 4);
        n += len[n_ep++];
    }
    b->n = n;
    for (int32_t e = 0, i = 0; e < n_ep; e++) {
        double adv = (double)(float)cg_rng_normal(rng);
        for (int32_t s = 0; s < len[e]; s++, i++) {
            b->adv[i] = adv;
            b->weight[i] = (double)(float)(1.0 / ((double)len[e] * n_ep));
            double l = 0;
            for (int32_t d = 0; d < b->dim; d++) {
                int32_t k = i * b->dim + d;
                mean[k] = (double)(float)cg_rng_normal(rng);
                b->action[k] = (double)(float)(mean[k] + exp(log_std[d]) * cg_rng_normal(rng));
                l += ref_log_density(b->action[k], mean[k], log_std[d]);
            }
            for (;;) {
                double old = (double)(float)(l + 0.6 * (cg_rng_uniform(rng) - 0.5));
                double rho = exp(l - old);
                if (fabs(rho - (1 - b->clip_eps)) > 1e-3 && fabs(rho - (1 + b->clip_eps)) > 1e-3) {
                    b->logp_old[i] = old;
                    break;
                }
            }
            b->logp_ref[i] = (double)(float)(l + 0.5 * cg_rng_normal(rng));
            b->kl_coef[i] = (double)(float)(0.05 + 0.5 * cg_rng_uniform(rng));
        }
    }
}

/* cg_loss_gaussian_compute on b: the loss against the reference, then every d/dmean and
 * d/dlog_std against a central difference of the reference (h = 1e-6, tol = 1e-7 + 1e-5
 * |fd|, 1e-4 for the log-std sums over the batch). Returns the worst err / tol. */
static double grad_check(ref_batch_t *b, double *mean, double *log_std, int32_t *n_clipped)
{
    float logp_old[MAX_N], adv[MAX_N], weight[MAX_N], logp_ref[MAX_N], kl_coef[MAX_N];
    float action[MAX_N * MAX_D], mf[MAX_N * MAX_D], dmean[MAX_N * MAX_D], lsf[MAX_D];
    const int32_t na = b->n * b->dim;
    for (int32_t i = 0; i < b->n; i++) {
        logp_old[i] = (float)b->logp_old[i];
        adv[i] = (float)b->adv[i];
        weight[i] = (float)b->weight[i];
        logp_ref[i] = (float)b->logp_ref[i];
        kl_coef[i] = (float)b->kl_coef[i];
    }
    for (int32_t k = 0; k < na; k++) {
        action[k] = (float)b->action[k];
        mf[k] = (float)mean[k];
    }
    for (int32_t d = 0; d < b->dim; d++)
        lsf[d] = (float)log_std[d];
    cg_minibatch_t mb = {.n = b->n,
                         .action_f = action,
                         .logp_old = logp_old,
                         .adv = adv,
                         .weight = weight,
                         .logp_ref = b->has_ref ? logp_ref : NULL,
                         .kl_coef = b->has_step_kl ? kl_coef : NULL};
    cg_loss_config_t cfg = {.clip_eps = (float)b->clip_eps,
                            .kl_coef = (float)b->kl_coef_cfg,
                            .ent_coef = (float)b->ent_coef};
    double dls[MAX_D] = {0};
    cg_loss_stats_t st;
    cg_loss_gaussian_compute(mf, lsf, b->dim, &mb, &cfg, dmean, dls, &st);
    CG_ASSERT_NEAR(st.loss, ref_loss(b, mean, log_std), 1e-6 * (1 + fabs(st.loss)));
    *n_clipped = (int32_t)lround(st.clip_frac * b->n);

    const double h = 1e-6;
    double worst = 0;
    for (int32_t k = 0; k < na + b->dim; k++) {
        double *x = k < na ? &mean[k] : &log_std[k - na];
        double x0 = *x;
        *x = x0 + h;
        double lp = ref_loss(b, mean, log_std);
        *x = x0 - h;
        double lm = ref_loss(b, mean, log_std);
        *x = x0;
        double fd = (lp - lm) / (2 * h);
        double got = k < na ? (double)dmean[k] : dls[k - na];
        double tol = 1e-7 + (k < na ? 1e-5 : 1e-4) * fabs(fd);
        double r = fabs(got - fd) / tol;
        if (r > worst)
            worst = r;
    }
    return worst;
}

static void test_gaussian_loss_gradient_fd(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 2026, 17);
    static ref_batch_t b;
    double mean[MAX_N * MAX_D], log_std[MAX_D];
    struct {
        const char *name;
        int has_ref, step_kl;
        double beta, ent;
    } cases[] = {
        {"pg only", 0, 0, 0.0, 0.0},
        {"pg + kl (cfg beta)", 1, 0, 0.3, 0.0},
        {"pg + kl (step beta) + entropy", 1, 1, 0.0, 0.05},
        {"pg + entropy", 0, 0, 0.0, 0.2},
    };
    int32_t clipped_total = 0, steps_total = 0;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int rep = 0; rep < 8; rep++) {
            make_batch(&rng, &b, mean, log_std);
            b.has_ref = cases[c].has_ref;
            b.has_step_kl = cases[c].step_kl;
            b.kl_coef_cfg = cases[c].beta;
            b.ent_coef = cases[c].ent;
            int32_t n_clipped = 0;
            double worst = grad_check(&b, mean, log_std, &n_clipped);
            if (worst > 1.0)
                printf("\n  %s rep %d (dim %d): worst err/tol %.3g\n", cases[c].name, rep, b.dim,
                       worst);
            CU_ASSERT(worst <= 1.0);
            clipped_total += n_clipped;
            steps_total += b.n;
        }
    }
    /* The batches did exercise both branches of the clip. */
    CU_ASSERT(clipped_total > steps_total / 10);
    CU_ASSERT(clipped_total < steps_total - steps_total / 10);
}

/* On-policy (logp_old = logp), no KL, no entropy: the gradient is -w A dlogp, i.e. d/dmean =
 * -w A (a - mu) / sigma^2 and d/dlog_std = -w A (z^2 - 1), by hand for one step; the stats
 * (loss = -w A, entropy, approx_kl 0, nothing clipped). */
static void test_gaussian_loss_hand(void)
{
    const float mean[2] = {0.5f, -1.0f}, ls[2] = {0.0f, (float)M_LN2}, action[2] = {1.5f, 3.0f};
    const float logp_old[1] = {(float)cg_policy_gaussian_logp(mean, ls, 2, action)};
    const float adv[1] = {2.0f}, weight[1] = {0.5f};
    cg_minibatch_t mb = {
        .n = 1, .action_f = action, .logp_old = logp_old, .adv = adv, .weight = weight};
    cg_loss_config_t cfg = {.clip_eps = 0.2f};
    float dmean[2];
    double dls[2] = {0, 0};
    cg_loss_stats_t st;
    cg_loss_gaussian_compute(mean, ls, 2, &mb, &cfg, dmean, dls, &st);
    /* z = (1, 2), sigma = (1, 2): dmean = -1 * (1/1, 2/2), dls = -1 * (0, 3) */
    CG_ASSERT_NEAR(dmean[0], -1.0, 1e-6);
    CG_ASSERT_NEAR(dmean[1], -1.0, 1e-6);
    CG_ASSERT_NEAR(dls[0], 0.0, 1e-6);
    CG_ASSERT_NEAR(dls[1], -3.0, 1e-6);
    CG_ASSERT_NEAR(st.loss, -1.0, 1e-6);
    CG_ASSERT_NEAR(st.entropy, 0.5 * ((double)(float)M_LN2 + LOG_2PI + 1.0), 1e-7);
    CG_ASSERT_NEAR(st.approx_kl, 0.0, 1e-6); /* logp_old rounded to float */
    CU_ASSERT_EQUAL(st.clip_frac, 0.0);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"closed forms", test_gaussian_closed_forms},
        {"log-std bound", test_gaussian_log_std_bound},
        {"sample moments at a temperature", test_gaussian_sample},
        {"loss gradient by finite differences", test_gaussian_loss_gradient_fd},
        {"loss by hand", test_gaussian_loss_hand},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("gaussian", tests, NULL, NULL);
}
