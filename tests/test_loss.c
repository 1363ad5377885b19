/* test_loss: cg_loss_compute against an independent double-precision reference: gradients
 * by central finite differences on random minibatches, the clip, k3, the episode weighting
 * and the stats on a hand-computed case. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_loss.h"
#include "cg_rng.h"
#include "cg_test.h"

#define MAX_N 64
#define MAX_A 8

/* The reference: the documented loss written directly, softmax without the max shift
 * (test logits are small), min/clip as written, all in double. */
typedef struct {
    int32_t n, n_actions;
    int32_t action[MAX_N];
    double logp_old[MAX_N], adv[MAX_N], weight[MAX_N], logp_ref[MAX_N], kl_coef[MAX_N];
    int has_ref, has_step_kl;
    double clip_eps, kl_coef_cfg, ent_coef;
} ref_batch_t;

static double ref_logp(const double *x, int32_t n_actions, int32_t j)
{
    double z = 0;
    for (int32_t k = 0; k < n_actions; k++)
        z += exp(x[k]);
    return log(exp(x[j]) / z);
}

static double ref_loss(const ref_batch_t *b, const double *logits)
{
    double total = 0;
    for (int32_t i = 0; i < b->n; i++) {
        const double *x = logits + i * b->n_actions;
        double l = ref_logp(x, b->n_actions, b->action[i]);
        double rho = exp(l - b->logp_old[i]);
        double lo = 1 - b->clip_eps, hi = 1 + b->clip_eps;
        double rc = rho < lo ? lo : rho > hi ? hi : rho;
        double surr = fmin(rho * b->adv[i], rc * b->adv[i]);
        double h = 0;
        for (int32_t j = 0; j < b->n_actions; j++) {
            double lj = ref_logp(x, b->n_actions, j);
            h -= exp(lj) * lj;
        }
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

/* Float copies of the reference batch for cg_loss_compute. */
typedef struct {
    float logp_old[MAX_N], adv[MAX_N], weight[MAX_N], logp_ref[MAX_N], kl_coef[MAX_N];
    cg_minibatch_t mb;
    cg_loss_config_t cfg;
} f_batch_t;

static void to_float(const ref_batch_t *b, f_batch_t *f)
{
    for (int32_t i = 0; i < b->n; i++) {
        f->logp_old[i] = (float)b->logp_old[i];
        f->adv[i] = (float)b->adv[i];
        f->weight[i] = (float)b->weight[i];
        f->logp_ref[i] = (float)b->logp_ref[i];
        f->kl_coef[i] = (float)b->kl_coef[i];
    }
    memset(&f->mb, 0, sizeof(f->mb));
    f->mb.n = b->n;
    f->mb.action = b->action;
    f->mb.logp_old = f->logp_old;
    f->mb.adv = f->adv;
    f->mb.weight = f->weight;
    f->mb.logp_ref = b->has_ref ? f->logp_ref : NULL;
    f->mb.kl_coef = b->has_step_kl ? f->kl_coef : NULL;
    f->cfg.clip_eps = (float)b->clip_eps;
    f->cfg.kl_coef = (float)b->kl_coef_cfg;
    f->cfg.ent_coef = (float)b->ent_coef;
}

/* A random minibatch of whole episodes (lengths 1..5) with w = 1/(len * episodes), one
 * advantage per episode (both signs), logp_old = logp + noise so that some ratios fall
 * outside [1-eps, 1+eps], kept 1e-3 away from the kinks so differences are smooth.
 * logits are rounded to float so reference and implementation see the same inputs. */
static void make_batch(cg_rng_t *rng, ref_batch_t *b, double *logits, int zero_adv)
{
    b->n_actions = 2 + (int32_t)cg_rng_below(rng, MAX_A - 1);
    b->clip_eps = 0.2;
    int32_t n_ep = 0, len[MAX_N], n = 0;
    while (n < MAX_N - 5 && n_ep < 10) {
        len[n_ep] = 1 + (int32_t)cg_rng_below(rng, 5);
        n += len[n_ep++];
    }
    b->n = n;
    int32_t i = 0;
    for (int32_t e = 0; e < n_ep; e++) {
        double adv = zero_adv ? 0.0 : cg_rng_normal(rng);
        for (int32_t s = 0; s < len[e]; s++, i++) {
            b->adv[i] = (double)(float)adv;
            b->weight[i] = (double)(float)(1.0 / ((double)len[e] * n_ep));
            b->action[i] = (int32_t)cg_rng_below(rng, (uint32_t)b->n_actions);
            for (int32_t j = 0; j < b->n_actions; j++)
                logits[i * b->n_actions + j] = (double)(float)(1.5 * cg_rng_normal(rng));
            double l = ref_logp(logits + i * b->n_actions, b->n_actions, b->action[i]);
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

/* Checks the loss value against the reference, then each dlogits entry against a central
 * difference of the reference (h = 1e-6, tol = 1e-7 + 1e-5 |fd|); returns the worst
 * err / tol (pass when <= 1). */
static double grad_check(const ref_batch_t *b, double *logits, int32_t *n_clipped)
{
    f_batch_t f;
    to_float(b, &f);
    int32_t na = b->n * b->n_actions;
    float xf[MAX_N * MAX_A], dx[MAX_N * MAX_A];
    for (int32_t k = 0; k < na; k++)
        xf[k] = (float)logits[k];
    cg_loss_stats_t st;
    cg_loss_compute(xf, b->n_actions, &f.mb, &f.cfg, dx, &st);
    CG_ASSERT_NEAR(st.loss, ref_loss(b, logits), 1e-6 * (1 + fabs(st.loss)));
    *n_clipped = (int32_t)lround(st.clip_frac * b->n);

    const double h = 1e-6;
    double worst = 0;
    for (int32_t k = 0; k < na; k++) {
        double x0 = logits[k];
        logits[k] = x0 + h;
        double lp = ref_loss(b, logits);
        logits[k] = x0 - h;
        double lm = ref_loss(b, logits);
        logits[k] = x0;
        double fd = (lp - lm) / (2 * h);
        double tol = 1e-7 + 1e-5 * fabs(fd);
        double r = fabs((double)dx[k] - fd) / tol;
        if (r > worst)
            worst = r;
    }
    return worst;
}

/* Every term against finite differences, alone and together, on fresh random batches. */
static void test_loss_gradient_fd(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 2024, 1);
    static ref_batch_t b;
    static double logits[MAX_N * MAX_A];
    struct {
        const char *name;
        int zero_adv, has_ref, step_kl;
        double beta, ent;
    } cases[] = {
        {"pg only", 0, 0, 0, 0.0, 0.0},
        {"pg + kl (cfg beta)", 0, 1, 0, 0.3, 0.0},
        {"pg + kl (step beta) + entropy", 0, 1, 1, 0.0, 0.05},
        {"entropy only", 1, 0, 0, 0.0, 0.2},
        {"kl only (step beta)", 1, 1, 1, 0.0, 0.0},
        {"pg + entropy, cfg beta ignored without ref", 0, 0, 0, 0.7, 0.1},
    };
    int32_t clipped_total = 0, steps_total = 0;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int rep = 0; rep < 5; rep++) {
            make_batch(&rng, &b, logits, cases[c].zero_adv);
            b.has_ref = cases[c].has_ref;
            b.has_step_kl = cases[c].step_kl;
            b.kl_coef_cfg = cases[c].beta;
            b.ent_coef = cases[c].ent;
            int32_t n_clipped = 0;
            double worst = grad_check(&b, logits, &n_clipped);
            if (worst > 1.0)
                printf("\n  %s rep %d: worst err/tol %.3g\n", cases[c].name, rep, worst);
            CU_ASSERT(worst <= 1.0);
            if (!cases[c].zero_adv) {
                clipped_total += n_clipped;
                steps_total += b.n;
            }
        }
    }
    /* The batches did exercise both branches. */
    CU_ASSERT(clipped_total > steps_total / 10);
    CU_ASSERT(clipped_total < steps_total - steps_total / 10);
}

/* Ratio far outside the range: the clipped branch is the min -> no surrogate gradient;
 * the unclipped branch is the min (same ratios, opposite advantage) -> -A rho gradient. */
static void test_loss_clip(void)
{
    const float logits[4 * 3] = {0.3f, -0.2f, 0.1f, 0.3f, -0.2f, 0.1f,
                                 0.3f, -0.2f, 0.1f, 0.3f, -0.2f, 0.1f};
    const int32_t action[4] = {0, 0, 2, 2};
    double z = exp(0.3) + exp(-0.2) + exp(0.1);
    double p[3] = {exp(0.3) / z, exp(-0.2) / z, exp(0.1) / z};
    double l0 = log(p[0]), l2 = log(p[2]);
    /* rho = 3 with A > 0 (clipped), rho = 3 with A < 0 (unclipped), rho = 0.2 with A < 0
     * (clipped), rho = 0.2 with A > 0 (unclipped). */
    const float logp_old[4] = {(float)(l0 - log(3.0)), (float)(l0 - log(3.0)),
                               (float)(l2 - log(0.2)), (float)(l2 - log(0.2))};
    const float adv[4] = {1.0f, -1.0f, -1.0f, 1.0f};
    const float weight[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    cg_minibatch_t mb = {
        .n = 4, .action = action, .logp_old = logp_old, .adv = adv, .weight = weight};
    cg_loss_config_t cfg = {.clip_eps = 0.2f};
    float dx[12];
    cg_loss_stats_t st;
    cg_loss_compute(logits, 3, &mb, &cfg, dx, &st);
    for (int j = 0; j < 3; j++) {
        CU_ASSERT_EQUAL(dx[0 * 3 + j], 0.0f);
        CU_ASSERT_EQUAL(dx[2 * 3 + j], 0.0f);
        /* d(-min)/dlogits = -A rho (onehot - p) w */
        CG_ASSERT_NEAR(dx[1 * 3 + j], 0.25 * (1.0 * 3.0) * ((j == 0) - p[j]), 1e-5);
        CG_ASSERT_NEAR(dx[3 * 3 + j], 0.25 * (-1.0 * 0.2) * ((j == 2) - p[j]), 1e-6);
    }
    CG_ASSERT_NEAR(st.clip_frac, 0.5, 1e-12);
    /* -min per step: -1.2, +3, +0.8, -0.2 */
    CG_ASSERT_NEAR(st.pg_loss, 0.25 * (-1.2 + 3.0 + 0.8 - 0.2), 1e-5);
}

/* k3 = exp(r-l) - (r-l) - 1 at r = l (0, gradient 0) and r - l = +-1. */
static void test_loss_k3(void)
{
    const float logits[2] = {0.0f, 0.0f};
    const int32_t action[1] = {0};
    const float l = (float)-log(2.0);
    const float zero[1] = {0.0f}, one[1] = {1.0f};
    float ref[1], old[1] = {l};
    cg_minibatch_t mb = {
        .n = 1, .action = action, .logp_old = old, .adv = zero, .weight = one, .logp_ref = ref};
    cg_loss_config_t cfg = {.clip_eps = 0.2f, .kl_coef = 0.5f};
    float dx[2];
    cg_loss_stats_t st;

    ref[0] = l;
    cg_loss_compute(logits, 2, &mb, &cfg, dx, &st);
    CG_ASSERT_NEAR(st.kl, 0.0, 1e-12);
    CG_ASSERT_NEAR(st.loss, 0.0, 1e-12);
    CG_ASSERT_NEAR(dx[0], 0.0, 1e-7); /* r - l is float rounding, not exactly 0 */
    CG_ASSERT_NEAR(dx[1], 0.0, 1e-7);

    const double ds[2] = {1.0, -1.0};
    for (int k = 0; k < 2; k++) {
        double d = ds[k];
        ref[0] = (float)((double)l + d);
        d = (double)ref[0] - (double)l;
        cg_loss_compute(logits, 2, &mb, &cfg, dx, &st);
        double k3 = exp(d) - d - 1;
        CG_ASSERT_NEAR(st.kl, k3, 1e-6);
        CG_ASSERT_NEAR(st.loss, 0.5 * k3, 1e-6);
        /* dloss/dl = beta (1 - e^d); dl/dlogits = onehot - p = (0.5, -0.5) */
        CG_ASSERT_NEAR(dx[0], 0.5 * (1 - exp(d)) * 0.5, 1e-6);
        CG_ASSERT_NEAR(dx[1], -0.5 * (1 - exp(d)) * 0.5, 1e-6);
    }
    /* Per-step beta overrides cfg beta. */
    const float step_beta[1] = {2.0f};
    mb.kl_coef = step_beta;
    ref[0] = (float)((double)l + 1.0);
    double d = (double)ref[0] - (double)l;
    cg_loss_compute(logits, 2, &mb, &cfg, dx, &st);
    CG_ASSERT_NEAR(st.kl, exp(d) - d - 1, 1e-6);
    CG_ASSERT_NEAR(st.loss, 2.0 * (exp(d) - d - 1), 1e-6);
    CG_ASSERT_NEAR(dx[0], 2.0 * (1 - exp(d)) * 0.5, 1e-6);
    /* No reference: no KL term at all, whatever beta says. */
    mb.logp_ref = NULL;
    cg_loss_compute(logits, 2, &mb, &cfg, dx, &st);
    CU_ASSERT_EQUAL(st.kl, 0.0);
    CU_ASSERT_EQUAL(st.loss, 0.0);
    CU_ASSERT_EQUAL(dx[0], 0.0f);
}

/* A behaviour log-prob far below the policy's (-120: a buggy or hostile actor's) bounds the
 * log-ratio at CG_LOSS_LOG_RATIO_MAX with no surrogate gradient: loss and dlogits finite, for
 * either sign of the advantage; inside the bound nothing changes. */
static void test_loss_log_ratio_bounded(void)
{
    const float logits[2] = {0.0f, 0.0f}; /* logp = -log 2 */
    const int32_t action[1] = {0};
    const float one[1] = {1.0f};
    const float advs[2] = {1.0f, -1.0f};
    cg_loss_config_t cfg = {.clip_eps = 0.2f};
    for (int k = 0; k < 2; k++) {
        float old[1] = {-120.0f}, adv[1] = {advs[k]};
        cg_minibatch_t mb = {.n = 1, .action = action, .logp_old = old, .adv = adv, .weight = one};
        float dx[2];
        cg_loss_stats_t st;
        cg_loss_compute(logits, 2, &mb, &cfg, dx, &st);
        CU_ASSERT(isfinite(st.loss) && isfinite(st.approx_kl));
        CU_ASSERT(isfinite(dx[0]) && isfinite(dx[1]));
        CG_ASSERT_NEAR(dx[0], 0.0, 1e-12); /* no gradient through a bounded ratio */
        CG_ASSERT_NEAR(dx[1], 0.0, 1e-12);
        CG_ASSERT_NEAR(st.approx_kl, CG_LOSS_LOG_RATIO_MAX * -1.0, 1e-9);
        if (advs[k] < 0) /* the unclipped term: rho = e^20 */
            CG_ASSERT_NEAR(st.pg_loss, exp(CG_LOSS_LOG_RATIO_MAX),
                           1e-6 * exp(CG_LOSS_LOG_RATIO_MAX));
        /* 19 is inside the bound: the ordinary gradient -A rho (onehot - p) */
        old[0] = (float)(-log(2.0) - 19.0);
        cg_loss_compute(logits, 2, &mb, &cfg, dx, &st);
        if (advs[k] < 0) {
            const double rho = exp(-log(2.0) - (double)old[0]);
            CG_ASSERT_NEAR(dx[0], rho * 0.5, 1e-6 * rho);
        }
    }
}

/* Episodes of 1 and 3 steps, per-step loss -A (ratio 1): weights 1/(len * 2) give the mean
 * of the episode means, (-1 + 0.5) / 2, not the step mean (-1 + 1.5) / 4. */
static void test_loss_episode_weights(void)
{
    const float logits[4 * 4] = {0};
    const int32_t action[4] = {0, 1, 2, 3};
    const float l = (float)-log(4.0);
    const float old[4] = {l, l, l, l};
    const float adv[4] = {1.0f, -0.5f, -0.5f, -0.5f};
    const float weight[4] = {1.0f / 2, 1.0f / 6, 1.0f / 6, 1.0f / 6};
    cg_minibatch_t mb = {.n = 4, .action = action, .logp_old = old, .adv = adv, .weight = weight};
    cg_loss_config_t cfg = {.clip_eps = 0.2f};
    float dx[16];
    cg_loss_stats_t st;
    cg_loss_compute(logits, 4, &mb, &cfg, dx, &st);
    CG_ASSERT_NEAR(st.loss, -0.25, 1e-6);
    CG_ASSERT_NEAR(st.pg_loss, -0.25, 1e-6);
    CG_ASSERT_NEAR(st.clip_frac, 0.0, 1e-12);
}

/* Two steps, two actions, uniform logits, eps 0.2, beta 0.1, c_ent 0.01, w = 0.5 each:
 *   step 0: a=0, rho=1.5, A=+1 -> clipped (1.2), r = l (k3 0); gradient 0 (uniform p
 *           makes the entropy gradient 0 too).
 *   step 1: a=1, rho=1, A=-2 -> -2, r = l + ln 2 -> k3 = 1 - ln 2; g = 2 + 0.1 (1 - 2) = 1.9,
 *           dlogits = 0.5 * 1.9 * (-0.5, 0.5). */
static void test_loss_stats_hand(void)
{
    const float logits[4] = {0, 0, 0, 0};
    const int32_t action[2] = {0, 1};
    const double l = -log(2.0);
    const float old[2] = {(float)(l - log(1.5)), (float)l};
    const float adv[2] = {1.0f, -2.0f};
    const float weight[2] = {0.5f, 0.5f};
    const float ref[2] = {(float)l, (float)(l + log(2.0))};
    cg_minibatch_t mb = {
        .n = 2, .action = action, .logp_old = old, .adv = adv, .weight = weight, .logp_ref = ref};
    cg_loss_config_t cfg = {.clip_eps = 0.2f, .kl_coef = 0.1f, .ent_coef = 0.01f};
    float dx[4];
    cg_loss_stats_t st;
    cg_loss_compute(logits, 2, &mb, &cfg, dx, &st);
    const double ln2 = log(2.0);
    CG_ASSERT_NEAR(st.pg_loss, 0.4, 1e-6);
    CG_ASSERT_NEAR(st.kl, 0.5 * (1 - ln2), 1e-6);
    CG_ASSERT_NEAR(st.entropy, ln2, 1e-6);
    CG_ASSERT_NEAR(st.approx_kl, -0.5 * log(1.5), 1e-6); /* logp_old - logp */
    CG_ASSERT_NEAR(st.clip_frac, 0.5, 1e-12);
    CG_ASSERT_NEAR(st.loss, 0.4 + 0.1 * 0.5 * (1 - ln2) - 0.01 * ln2, 1e-6);
    CG_ASSERT_NEAR(dx[0], 0.0, 1e-7);
    CG_ASSERT_NEAR(dx[1], 0.0, 1e-7);
    CG_ASSERT_NEAR(dx[2], -0.475, 1e-6);
    CG_ASSERT_NEAR(dx[3], 0.475, 1e-6);

    /* Stats may be NULL; an empty minibatch gives zero stats. */
    float dx2[4];
    cg_loss_compute(logits, 2, &mb, &cfg, dx2, NULL);
    CU_ASSERT(memcmp(dx, dx2, sizeof(dx)) == 0);
    mb.n = 0;
    cg_loss_compute(logits, 2, &mb, &cfg, dx2, &st);
    CU_ASSERT_EQUAL(st.loss, 0.0);
    CU_ASSERT_EQUAL(st.clip_frac, 0.0);
}

/* Large logits do not overflow (stable log-softmax). */
static void test_loss_stable(void)
{
    const float logits[3] = {1000.0f, 0.0f, -1000.0f};
    const int32_t action[1] = {1};
    const float old[1] = {-1000.0f}, adv[1] = {-1.0f}, weight[1] = {1.0f};
    cg_minibatch_t mb = {.n = 1, .action = action, .logp_old = old, .adv = adv, .weight = weight};
    cg_loss_config_t cfg = {.clip_eps = 0.2f, .ent_coef = 0.1f};
    float dx[3];
    cg_loss_stats_t st;
    cg_loss_compute(logits, 3, &mb, &cfg, dx, &st);
    CU_ASSERT(isfinite(st.loss));
    for (int j = 0; j < 3; j++)
        CU_ASSERT(isfinite(dx[j]));
    CG_ASSERT_NEAR(st.approx_kl, 0.0, 1e-3);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"gradient_fd", test_loss_gradient_fd},
        {"clip", test_loss_clip},
        {"k3", test_loss_k3},
        {"log-ratio bounded", test_loss_log_ratio_bounded},
        {"episode_weights", test_loss_episode_weights},
        {"stats_hand", test_loss_stats_hand},
        {"stable", test_loss_stable},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("loss", tests, NULL, NULL);
}
