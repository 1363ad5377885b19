/* test_adv: the advantage estimators against DESIGN.md section 4's worked numbers and
 * against an independent double-precision reference on random groups (reweighting theorem,
 * K = 0 reduction, zero-variance components, stabiliser bounds and composition). */
#include <math.h>
#include <string.h>

#include "cg_adv.h"
#include "cg_rng.h"
#include "cg_test.h"

#define N_RANDOM 2000
#define MAXG 64

static cg_adv_config_t s_cfg(cg_adv_estimator_t est)
{
    cg_adv_config_t c = {
        .estimator = est,
        .eps = 1e-8f,
        .dual_anchor = false,
        .alpha = 0.2f,
        .prospect = false,
        .pt_beta = 0.8f,
        .pt_lambda_pos = 1.25f,
        .pt_lambda_neg = 2.0f,
    };
    return c;
}

/* ---- independent reference (double, textbook formulas) ---- */

static double s_ref_mean(const double *x, int G)
{
    double s = 0.0;
    for (int i = 0; i < G; i++)
        s += x[i];
    return s / G;
}

static double s_ref_cov(const double *x, const double *y, int G)
{
    double mx = s_ref_mean(x, G), my = s_ref_mean(y, G), s = 0.0;
    for (int i = 0; i < G; i++)
        s += (x[i] - mx) * (y[i] - my);
    return s / G;
}

/* z-scores with the population std; returns the std; sd == 0 gives z == 0. */
static double s_ref_z(const double *x, int G, double eps, double *z)
{
    double mu = s_ref_mean(x, G), sd = sqrt(s_ref_cov(x, x, G));
    for (int i = 0; i < G; i++)
        z[i] = sd > 0.0 ? (x[i] - mu) / (sd + eps) : 0.0;
    return sd;
}

static double s_ref_pt(double v)
{
    return (v >= 0.0 ? 1.25 : 2.0) * tanh(0.8 * v);
}

/* ---- random groups ---- */

typedef struct {
    int G, K;
    float reward[MAXG];
    float cost[CG_MAX_COSTS * MAXG];
    float lambda[CG_MAX_COSTS + 1];
} group_t;

/* One component: binary with a random rate, continuous normal, or (sometimes) constant. */
static void s_fill(cg_rng_t *rng, float *x, int G, int allow_const)
{
    uint32_t kind = cg_rng_below(rng, allow_const ? 4 : 3);
    double p = cg_rng_uniform(rng), c = cg_rng_below(rng, 2) ? 1.0 : cg_rng_normal(rng);
    for (int i = 0; i < G; i++) {
        switch (kind) {
        case 0:
        case 1: x[i] = cg_rng_uniform(rng) < p ? 1.0f : 0.0f; break;
        case 2: x[i] = (float)(cg_rng_normal(rng) * 2.0 + 0.3); break;
        default: x[i] = (float)c; break;
        }
    }
}

static void s_random_group(cg_rng_t *rng, group_t *g, int K)
{
    g->G = 2 + (int)cg_rng_below(rng, MAXG - 1);
    g->K = K >= 0 ? K : (int)cg_rng_below(rng, 6);
    s_fill(rng, g->reward, g->G, 0);
    for (int k = 0; k < g->K; k++)
        s_fill(rng, g->cost + k * g->G, g->G, 1);
    for (int j = 0; j <= g->K; j++)
        g->lambda[j] = (float)(0.01 + cg_rng_uniform(rng));
}

/* ---- tests ---- */

static void test_zscore(void)
{
    const float x[4] = {1, 2, 3, 4};
    float z[4];
    double sd = cg_adv_zscore(x, 4, 0.0f, z);
    CG_ASSERT_NEAR(sd, sqrt(1.25), 1e-15);
    for (int i = 0; i < 4; i++)
        CG_ASSERT_NEAR(z[i], (x[i] - 2.5) / sqrt(1.25), 1e-6);
    const float c[5] = {0.7f, 0.7f, 0.7f, 0.7f, 0.7f};
    float zc[5] = {9, 9, 9, 9, 9};
    CU_ASSERT(cg_adv_zscore(c, 5, 1e-8f, zc) == 0.0);
    for (int i = 0; i < 5; i++)
        CU_ASSERT(zc[i] == 0.0f);
    CU_ASSERT(cg_adv_zscore(c, 1, 1e-8f, zc) == 0.0);
    CU_ASSERT(zc[0] == 0.0f);
    /* population std and z of a binary vector: mean 0.25, std sqrt(3)/4 */
    const float b[4] = {1, 0, 0, 0};
    float zb[4];
    CG_ASSERT_NEAR(cg_adv_zscore(b, 4, 0.0f, zb), sqrt(3.0) / 4.0, 1e-15);
    CG_ASSERT_NEAR(zb[0], sqrt(3.0), 1e-6);
    CG_ASSERT_NEAR(zb[1], -1.0 / sqrt(3.0), 1e-6);
}

static const float W_R[8] = {1, 1, 1, 0, 0, 1, 0, 1};
static const float W_C[16] = {0, 0, 1, 0, 0, 0, 0, 0,  /* C_1 */
                              0, 1, 1, 0, 1, 0, 0, 1}; /* C_2 */
static const float W_LAMBDA[3] = {0.6f, 0.3f, 0.1f};

static void test_worked_g8(void)
{
    float z[8], rs[8];
    CG_ASSERT_NEAR(cg_adv_zscore(W_R, 8, 1e-8f, z), 0.4841229, 1e-7);
    CG_ASSERT_NEAR(cg_adv_zscore(W_C, 8, 1e-8f, z), 0.3307189, 1e-7);
    CG_ASSERT_NEAR(cg_adv_zscore(W_C + 8, 8, 1e-8f, z), 0.5, 1e-7);
    for (int i = 0; i < 8; i++)
        rs[i] = 0.6f * W_R[i] - 0.3f * W_C[i] - 0.1f * W_C[8 + i];
    CG_ASSERT_NEAR(cg_adv_zscore(rs, 8, 1e-8f, z), 0.2758510, 1e-7);

    const double screw[8] = {1.132858,  0.770344, -0.317200, -1.042229,
                             -1.404744, 1.132858, -1.042229, 0.770344};
    const double scadv[8] = {0.678147,  0.478147, -0.428967, -0.561207,
                             -0.761207, 0.678147, -0.561207, 0.478147};
    const double eff[3] = {1.0530098, -0.3596713, -0.1812573};
    float a[8], w[3];
    cg_adv_config_t cfg = s_cfg(CG_ADV_SCALARIZED_REWARDS);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 8, 2, W_R, W_C, W_LAMBDA, 0, a, w), CG_OK);
    for (int i = 0; i < 8; i++)
        CG_ASSERT_NEAR(a[i], screw[i], 1e-6);
    for (int j = 0; j < 3; j++)
        CG_ASSERT_NEAR(w[j], eff[j], 1e-6);
    cfg = s_cfg(CG_ADV_SCALARIZED_ADVANTAGES);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 8, 2, W_R, W_C, W_LAMBDA, 0, a, w), CG_OK);
    for (int i = 0; i < 8; i++)
        CG_ASSERT_NEAR(a[i], scadv[i], 1e-6);
    CU_ASSERT(w[0] == 0.6f && w[1] == -0.3f && w[2] == -0.1f);
    cfg = s_cfg(CG_ADV_GRPO);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 8, 2, W_R, W_C, W_LAMBDA, 0, a, w), CG_OK);
    CU_ASSERT(w[0] == 1.0f && w[1] == 0.0f && w[2] == 0.0f);
    cg_adv_zscore(W_R, 8, 1e-8f, z);
    for (int i = 0; i < 8; i++)
        CU_ASSERT(a[i] == z[i]);
}

static void test_mdp_worked(void)
{
    cg_adv_config_t cfg = s_cfg(CG_ADV_GRPO);
    cfg.dual_anchor = true;
    cfg.prospect = true;
    struct {
        int C;
        float r[4];
        double a[4];
    } cases[] = {
        {3, {1.0f / 3, 1.0f / 3, 1.0f / 3, 1.0f / 3}, {-0.17265, -0.17265, -0.17265, -0.17265}},
        {3, {0, 0, 0, 0}, {-0.35288, -0.35288, -0.35288, -0.35288}},
        {3, {1, 1, 1, 1}, {0.22055, 0.22055, 0.22055, 0.22055}},
        {2, {0, 0.5f, 1, 1}, {-1.66138, -0.37862, 0.82202, 0.82202}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        float a[4];
        CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 0, cases[c].r, NULL, NULL, cases[c].C, a, NULL),
                        CG_OK);
        for (int i = 0; i < 4; i++)
            CG_ASSERT_NEAR(a[i], cases[c].a[i], 5e-6);
    }
    CG_ASSERT_NEAR(cg_adv_prospect(1.0f, 0.8f, 1.25f, 2.0f), 0.83005, 5e-6);
    CG_ASSERT_NEAR(cg_adv_prospect(-1.0f, 0.8f, 1.25f, 2.0f), -1.32807, 5e-6);
    CU_ASSERT(cg_adv_prospect(0.0f, 0.8f, 1.25f, 2.0f) == 0.0f);
    CU_ASSERT(cg_adv_prospect(50.0f, 0.8f, 1.25f, 2.0f) <= 1.25f);
    CU_ASSERT(cg_adv_prospect(-50.0f, 0.8f, 1.25f, 2.0f) >= -2.0f);
}

/* The dual anchor in the form of the authors' code ([stabilisers] anchor = code):
 * delta = (r - max(0.5, mean r)) / sqrt(G / 4C), prospect on, alpha = 0.2, grpo. By hand for
 * G = 4, C = 3, r = 0 (all): mean 0 -> mu_goal 0.5, sigma_goal = sqrt(4/12) = 0.577350,
 * delta = -0.866025, PT(delta) = 2 tanh(-0.692820) = -1.199582, Z = 0 (no variance), so
 * A = 0.2 * -1.199582 = -0.239916. An all-pass group (r = 1) and a tied one above 0.5
 * (r = 0.75) have delta = 0: A = 0 (the paper's form gives +0.22055 and +0.12805). The
 * others were computed in double by an independent python3 script (docs/algorithm.md). */
static void test_anchor_code_form(void)
{
    cg_adv_config_t cfg = s_cfg(CG_ADV_GRPO);
    cfg.dual_anchor = true;
    cfg.prospect = true;
    cfg.anchor = CG_ANCHOR_CODE;
    struct {
        int C;
        float r[4];
        double a[4];
    } cases[] = {
        {3, {0, 0, 0, 0}, {-0.23992, -0.23992, -0.23992, -0.23992}},
        {3, {1, 1, 1, 1}, {0, 0, 0, 0}},
        {2, {0.75f, 0.75f, 0.75f, 0.75f}, {0, 0, 0, 0}},
        {3, {1.0f / 3, 1.0f / 3, 1.0f / 3, 1.0f / 3}, {-0.09077, -0.09077, -0.09077, -0.09077}},
        {2, {0, 0.5f, 1, 1}, {-1.58033, -0.43481, 0.71928, 0.71928}},
        {4, {0, 0.25f, 0.25f, 1}, {-1.32807, -0.56881, -0.56881, 1.03607}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        float a[4];
        CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 0, cases[c].r, NULL, NULL, cases[c].C, a, NULL),
                        CG_OK);
        for (int i = 0; i < 4; i++)
            CG_ASSERT_NEAR(a[i], cases[c].a[i], 5e-6);
    }
    /* the paper's form, the default, is unchanged by the new key */
    cfg.anchor = CG_ANCHOR_PAPER;
    float r[4] = {0, 0.5f, 1, 1}, a[4];
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 0, r, NULL, NULL, 2, a, NULL), CG_OK);
    CG_ASSERT_NEAR(a[0], -1.66138, 5e-6);
    /* an unknown form is refused */
    cfg.anchor = (cg_anchor_form_t)7;
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 0, r, NULL, NULL, 2, a, NULL), CG_ERR_INVAL);
}

/* With prospect on, every advantage of grpo (with or without the dual anchor) lies in
 * (-lambda_minus, lambda_plus) for realistic groups (G <= 64, r in [0,1], C <= 6). */
static void test_prospect_bounds(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 11, 1);
    for (int t = 0; t < N_RANDOM; t++) {
        cg_adv_config_t cfg = s_cfg(CG_ADV_GRPO);
        cfg.prospect = true;
        cfg.dual_anchor = cg_rng_below(&rng, 2);
        int G = 1 + (int)cg_rng_below(&rng, MAXG), C = 1 + (int)cg_rng_below(&rng, 6);
        float r[MAXG], a[MAXG];
        int levels = cg_rng_below(&rng, 2);
        for (int i = 0; i < G; i++)
            r[i] = levels ? (float)cg_rng_below(&rng, (uint32_t)C + 1) / (float)C
                          : (float)cg_rng_uniform(&rng);
        if (cg_rng_below(&rng, 8) == 0) /* a lone outlier: the largest |z| a group allows */
            for (int i = 1; i < G; i++)
                r[i] = r[0] == 0.0f ? 1.0f : 0.0f;
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&cfg, G, 0, r, NULL, NULL, C, a, NULL), CG_OK);
        for (int i = 0; i < G; i++) {
            CU_ASSERT(a[i] > -2.0f && a[i] < 1.25f);
        }
    }
    /* Extreme inputs: float rounding may land on the bound, never beyond it. */
    cg_adv_config_t cfg = s_cfg(CG_ADV_GRPO);
    cfg.prospect = true;
    cfg.dual_anchor = true;
    float r[4] = {-1e30f, 1e30f, 0, 0}, a[4];
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 0, r, NULL, NULL, 6, a, NULL), CG_OK);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(a[i] >= -2.0f && a[i] <= 1.25f);
}

/* Theorem: A_ScRew = sum_j (w_j sigma_j / sigma_RS) Z_j, sigma_RS = sqrt(w' Sigma w);
 * std(A_ScRew) = sigma_RS / (sigma_RS + eps) ~ 1; ScAdv is the explicit sum with weights w. */
static void test_reweighting_theorem(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 12, 2);
    int n_checked = 0;
    for (int t = 0; t < N_RANDOM; t++) {
        group_t g;
        s_random_group(&rng, &g, -1);
        int G = g.G, K = g.K, n = K + 1;
        double x[CG_MAX_COSTS + 1][MAXG], z[CG_MAX_COSTS + 1][MAXG], w[CG_MAX_COSTS + 1],
            sd[CG_MAX_COSTS + 1];
        for (int i = 0; i < G; i++)
            x[0][i] = g.reward[i];
        for (int k = 0; k < K; k++)
            for (int i = 0; i < G; i++)
                x[1 + k][i] = g.cost[k * G + i];
        for (int j = 0; j < n; j++) {
            w[j] = j == 0 ? g.lambda[0] : -(double)g.lambda[j];
            sd[j] = s_ref_z(x[j], G, 1e-8, z[j]);
        }
        double var_rs = 0.0;
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                var_rs += w[a] * w[b] * s_ref_cov(x[a], x[b], G);
        double sd_rs = sqrt(var_rs > 0.0 ? var_rs : 0.0);

        float adv[MAXG], eff[CG_MAX_COSTS + 1];
        cg_adv_config_t cfg = s_cfg(CG_ADV_SCALARIZED_REWARDS);
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&cfg, G, K, g.reward, g.cost, g.lambda, 0, adv, eff),
                              CG_OK);
        if (sd_rs > 1e-6) {
            n_checked++;
            double m = 0.0, s2 = 0.0;
            for (int i = 0; i < G; i++)
                m += adv[i];
            m /= G;
            for (int i = 0; i < G; i++)
                s2 += (adv[i] - m) * (adv[i] - m);
            CG_ASSERT_NEAR(m, 0.0, 1e-5);
            CG_ASSERT_NEAR(sqrt(s2 / G), sd_rs / (sd_rs + 1e-8), 1e-5);
            if (sd_rs > 1e-3)
                CG_ASSERT_NEAR(sqrt(s2 / G), 1.0, 1e-5);
            for (int j = 0; j < n; j++)
                CG_ASSERT_NEAR(eff[j], w[j] * sd[j] / sd_rs, 1e-5 * (1.0 + fabs(eff[j])));
            for (int i = 0; i < G; i++) {
                double sum = 0.0;
                for (int j = 0; j < n; j++)
                    sum += w[j] * sd[j] / sd_rs * z[j][i];
                CG_ASSERT_NEAR(adv[i], sum, 1e-5 * (1.0 + fabs(sum)));
            }
        } else if (sd_rs == 0.0) {
            for (int i = 0; i < G; i++)
                CU_ASSERT(adv[i] == 0.0f);
            for (int j = 0; j < n; j++)
                CU_ASSERT(eff[j] == 0.0f);
        }

        cfg = s_cfg(CG_ADV_SCALARIZED_ADVANTAGES);
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&cfg, G, K, g.reward, g.cost, g.lambda, 0, adv, eff),
                              CG_OK);
        for (int j = 0; j < n; j++)
            CU_ASSERT(eff[j] == (float)w[j]);
        for (int i = 0; i < G; i++) {
            double sum = 0.0;
            for (int j = 0; j < n; j++)
                sum += w[j] * z[j][i];
            CG_ASSERT_NEAR(adv[i], sum, 1e-6 * (1.0 + fabs(sum)));
        }
    }
    CU_ASSERT(n_checked > N_RANDOM / 2);
}

/* K = 0 with lambda_R = 1: all three estimators are GRPO, bit for bit. With another
 * lambda_R, ScRew is still GRPO (scale invariance) and ScAdv is lambda_R times it. */
static void test_k0_is_grpo(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 13, 3);
    for (int t = 0; t < N_RANDOM; t++) {
        group_t g;
        s_random_group(&rng, &g, 0);
        float a0[MAXG], a1[MAXG], a2[MAXG], one = 1.0f;
        cg_adv_config_t c0 = s_cfg(CG_ADV_GRPO), c1 = s_cfg(CG_ADV_SCALARIZED_REWARDS),
                        c2 = s_cfg(CG_ADV_SCALARIZED_ADVANTAGES);
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&c0, g.G, 0, g.reward, NULL, NULL, 0, a0, NULL), CG_OK);
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&c1, g.G, 0, g.reward, NULL, &one, 0, a1, NULL), CG_OK);
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&c2, g.G, 0, g.reward, NULL, &one, 0, a2, NULL), CG_OK);
        CU_ASSERT(memcmp(a0, a1, sizeof(float) * (size_t)g.G) == 0);
        CU_ASSERT(memcmp(a0, a2, sizeof(float) * (size_t)g.G) == 0);
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&c1, g.G, 0, g.reward, NULL, g.lambda, 0, a1, NULL),
                              CG_OK);
        CU_ASSERT_EQUAL_FATAL(cg_adv_group(&c2, g.G, 0, g.reward, NULL, g.lambda, 0, a2, NULL),
                              CG_OK);
        /* equal up to eps: Z of lambda_R R is (x - mu) / (sigma + eps / lambda_R) */
        double rs[MAXG], zrs[MAXG];
        for (int i = 0; i < g.G; i++)
            rs[i] = (double)g.lambda[0] * g.reward[i];
        s_ref_z(rs, g.G, 1e-8, zrs);
        for (int i = 0; i < g.G; i++) {
            CG_ASSERT_NEAR(a1[i], zrs[i], 1e-6 * (1.0 + fabs(zrs[i])));
            CG_ASSERT_NEAR(a1[i], a0[i], 1e-5 + 1e-6 / g.lambda[0] * fabs(a0[i]));
            CG_ASSERT_NEAR(a2[i], g.lambda[0] * (double)a0[i], 1e-6);
        }
    }
}

/* A cost that is constant within the group changes nothing, bit for bit, wherever it sits;
 * its effective weight is 0. */
static void test_constant_cost(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 14, 4);
    for (int t = 0; t < N_RANDOM; t++) {
        group_t g, h;
        s_random_group(&rng, &g, (int)cg_rng_below(&rng, 5));
        int G = g.G, K = g.K, pos = (int)cg_rng_below(&rng, (uint32_t)K + 1);
        float c =
            cg_rng_below(&rng, 3) == 0 ? (float)cg_rng_normal(&rng) : (float)cg_rng_below(&rng, 2);
        /* h = g with a constant cost inserted as cost number pos */
        h.G = G;
        h.K = K + 1;
        memcpy(h.reward, g.reward, sizeof(float) * (size_t)G);
        h.lambda[0] = g.lambda[0];
        for (int k = 0, src = 0; k < h.K; k++) {
            if (k == pos) {
                for (int i = 0; i < G; i++)
                    h.cost[k * G + i] = c;
                h.lambda[1 + k] = (float)(0.01 + cg_rng_uniform(&rng));
            } else {
                memcpy(h.cost + k * G, g.cost + src * G, sizeof(float) * (size_t)G);
                h.lambda[1 + k] = g.lambda[1 + src];
                src++;
            }
        }
        for (int e = CG_ADV_SCALARIZED_REWARDS; e <= CG_ADV_SCALARIZED_ADVANTAGES; e++) {
            cg_adv_config_t cfg = s_cfg((cg_adv_estimator_t)e);
            float ag[MAXG], ah[MAXG], wg[CG_MAX_COSTS + 1], wh[CG_MAX_COSTS + 1];
            CU_ASSERT_EQUAL_FATAL(cg_adv_group(&cfg, G, K, g.reward, g.cost, g.lambda, 0, ag, wg),
                                  CG_OK);
            CU_ASSERT_EQUAL_FATAL(cg_adv_group(&cfg, G, h.K, h.reward, h.cost, h.lambda, 0, ah, wh),
                                  CG_OK);
            CU_ASSERT(memcmp(ag, ah, sizeof(float) * (size_t)G) == 0);
            if (e == CG_ADV_SCALARIZED_REWARDS) {
                CU_ASSERT(wh[1 + pos] == 0.0f);
                for (int k = 0, src = 0; k < h.K; k++)
                    if (k != pos)
                        CU_ASSERT(wh[1 + k] == wg[1 + src++]);
                CU_ASSERT(wh[0] == wg[0]);
            }
        }
    }
}

/* R = C_1 = C_2 varying and lambda_R = lambda_1 + lambda_2: R_S is constant in exact
 * arithmetic, but the double sum leaves ~1e-17 of noise. That must count as zero variance. */
static void test_cancellation_is_zero(void)
{
    const float r[3] = {1, 0, 0}, c[6] = {1, 0, 0, 1, 0, 0}, lambda[3] = {0.75f, 0.5f, 0.25f};
    for (int e = 0; e < 2; e++) {
        cg_adv_config_t cfg = s_cfg(CG_ADV_SCALARIZED_REWARDS);
        cfg.eps = e ? 0.0f : 1e-8f;
        float a[3] = {9, 9, 9}, w[3] = {9, 9, 9};
        CU_ASSERT_EQUAL(cg_adv_group(&cfg, 3, 2, r, c, lambda, 0, a, w), CG_OK);
        for (int i = 0; i < 3; i++) {
            CU_ASSERT(a[i] == 0.0f);
            CU_ASSERT(w[i] == 0.0f);
        }
    }
}

/* Zero-variance groups: every estimator gives 0; the dual anchor still gives alpha PT(delta). */
static void test_zero_variance_group(void)
{
    const float r[4] = {0.5f, 0.5f, 0.5f, 0.5f}, c[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    const float lambda[3] = {0.5f, 0.3f, 0.2f};
    for (int e = 0; e <= CG_ADV_SCALARIZED_ADVANTAGES; e++) {
        cg_adv_config_t cfg = s_cfg((cg_adv_estimator_t)e);
        float a[4];
        CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 2, r, c, lambda, 0, a, NULL), CG_OK);
        for (int i = 0; i < 4; i++)
            CU_ASSERT(a[i] == 0.0f);
    }
    const float r1[2] = {1, 1};
    cg_adv_config_t cfg = s_cfg(CG_ADV_GRPO);
    cfg.dual_anchor = true; /* prospect off: PT = identity, delta = 0.5 * 2 sqrt(4) = 2 */
    float a[2];
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 0, r1, NULL, NULL, 4, a, NULL), CG_OK);
    CG_ASSERT_NEAR(a[0], 0.2 * 2.0, 1e-7);
    CG_ASSERT_NEAR(a[1], 0.2 * 2.0, 1e-7);
}

/* Stabilisers under each estimator, against the reference:
 *   grpo: A = A_R;  ScAdv: A = lambda_R A_R - sum lambda_k Z_k;  ScRew: stabilise Z_{R_S}. */
static void test_stabilisers_compose(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 15, 5);
    for (int t = 0; t < N_RANDOM; t++) {
        group_t g;
        s_random_group(&rng, &g, -1);
        int G = g.G, K = g.K, C = 1 + (int)cg_rng_below(&rng, 6);
        bool dual = cg_rng_below(&rng, 2), pros = !dual || cg_rng_below(&rng, 2);
        for (int i = 0; i < G; i++) /* rewards as a fraction of C checks met */
            g.reward[i] = (float)cg_rng_below(&rng, (uint32_t)C + 1) / (float)C;
        double x[CG_MAX_COSTS + 1][MAXG], z[CG_MAX_COSTS + 1][MAXG], rs[MAXG], zrs[MAXG];
        for (int i = 0; i < G; i++) {
            x[0][i] = g.reward[i];
            rs[i] = (double)g.lambda[0] * g.reward[i];
        }
        for (int k = 0; k < K; k++)
            for (int i = 0; i < G; i++) {
                x[1 + k][i] = g.cost[k * G + i];
                rs[i] -= (double)g.lambda[1 + k] * g.cost[k * G + i];
            }
        for (int j = 0; j <= K; j++)
            s_ref_z(x[j], G, 1e-8, z[j]);
        s_ref_z(rs, G, 1e-8, zrs);
        double sg = 1.0 / (2.0 * sqrt((double)C));
        for (int e = 0; e <= CG_ADV_SCALARIZED_ADVANTAGES; e++) {
            cg_adv_config_t cfg = s_cfg((cg_adv_estimator_t)e);
            cfg.dual_anchor = dual;
            cfg.prospect = pros;
            float a[MAXG];
            CU_ASSERT_EQUAL_FATAL(cg_adv_group(&cfg, G, K, g.reward, g.cost, g.lambda, C, a, NULL),
                                  CG_OK);
            for (int i = 0; i < G; i++) {
                double zin = e == CG_ADV_SCALARIZED_REWARDS ? zrs[i] : z[0][i];
                double pz = pros ? s_ref_pt(zin) : zin;
                double delta = (g.reward[i] - 0.5) / sg;
                double ar = dual ? 0.8 * pz + 0.2 * (pros ? s_ref_pt(delta) : delta) : pz;
                double ref = ar;
                if (e == CG_ADV_SCALARIZED_ADVANTAGES) {
                    ref = g.lambda[0] * ar;
                    for (int k = 0; k < K; k++)
                        ref -= g.lambda[1 + k] * z[1 + k][i];
                }
                /* alpha is 0.2f, not 0.2: allow for it */
                CG_ASSERT_NEAR(a[i], ref, 2e-6 * (1.0 + fabs(ref)));
            }
        }
    }
}

/* docs/algorithm.md's composed example: G=4, C=2, r=(0,0.5,1,1), one cost (1,0,0,1),
 * lambda=(0.6,0.4), dual anchor + prospect (values from an independent python3 computation). */
static void test_composed_worked(void)
{
    const float r[4] = {0, 0.5f, 1, 1}, c[4] = {1, 0, 0, 1}, lambda[2] = {0.6f, 0.4f};
    const double scadv[4] = {-1.3968268, 0.1728280, 0.8932138, 0.0932138};
    const double screw[4] = {-1.6892399, 0.2686158, 0.9363724, 0.2578906};
    float a[4], w[2];
    cg_adv_config_t cfg = s_cfg(CG_ADV_SCALARIZED_ADVANTAGES);
    cfg.dual_anchor = true;
    cfg.prospect = true;
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 1, r, c, lambda, 2, a, w), CG_OK);
    for (int i = 0; i < 4; i++)
        CG_ASSERT_NEAR(a[i], scadv[i], 1e-6);
    cfg.estimator = CG_ADV_SCALARIZED_REWARDS;
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 4, 1, r, c, lambda, 2, a, w), CG_OK);
    for (int i = 0; i < 4; i++)
        CG_ASSERT_NEAR(a[i], screw[i], 1e-6);
    CG_ASSERT_NEAR(w[0], 0.6849776, 1e-6);
    CG_ASSERT_NEAR(w[1], -0.5507427, 1e-6);
}

static void test_kl_coef(void)
{
    CU_ASSERT(cg_adv_kl_coef(-0.5f, 0.025f, 0.01f) == 0.025f);
    CU_ASSERT(cg_adv_kl_coef(-1e-30f, 0.025f, 0.01f) == 0.025f);
    CU_ASSERT(cg_adv_kl_coef(0.0f, 0.025f, 0.01f) == 0.01f);
    CU_ASSERT(cg_adv_kl_coef(-0.0f, 0.025f, 0.01f) == 0.01f);
    CU_ASSERT(cg_adv_kl_coef(0.7f, 0.025f, 0.01f) == 0.01f);
}

static void test_invalid(void)
{
    cg_adv_config_t cfg = s_cfg(CG_ADV_SCALARIZED_ADVANTAGES);
    const float r[2] = {0, 1}, c[2] = {1, 0}, lambda[2] = {0.5f, 0.5f};
    float a[2] = {7, 7};
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 0, 1, r, c, lambda, 0, a, NULL), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, -1, r, c, lambda, 0, a, NULL), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, CG_MAX_COSTS + 1, r, c, lambda, 0, a, NULL),
                    CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, NULL, lambda, 0, a, NULL), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, c, NULL, 0, a, NULL), CG_ERR_INVAL);
    cfg.dual_anchor = true;
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, c, lambda, 0, a, NULL), CG_ERR_INVAL);
    cfg.dual_anchor = false;
    cfg.eps = -1.0f;
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, c, lambda, 0, a, NULL), CG_ERR_INVAL);
    cfg.eps = 1e-8f;
    const float rn[2] = {0, NAN}, cn[2] = {INFINITY, 0}, ln[2] = {0.5f, NAN};
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, rn, c, lambda, 0, a, NULL), CG_ERR_NONFINITE);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, cn, lambda, 0, a, NULL), CG_ERR_NONFINITE);
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, c, ln, 0, a, NULL), CG_ERR_NONFINITE);
    CU_ASSERT(a[0] == 7.0f && a[1] == 7.0f);
    /* grpo reads neither costs nor lambdas */
    cfg.estimator = CG_ADV_GRPO;
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, NULL, NULL, 0, a, NULL), CG_OK);
    CG_ASSERT_NEAR(a[0], -1.0, 1e-7);
    CG_ASSERT_NEAR(a[1], 1.0, 1e-7);
    cfg.estimator = (cg_adv_estimator_t)7;
    CU_ASSERT_EQUAL(cg_adv_group(&cfg, 2, 1, r, c, lambda, 0, a, NULL), CG_ERR_INVAL);
}

static void test_config_from(void)
{
    cg_config_t rc;
    memset(&rc, 0, sizeof(rc));
    rc.estimator = CG_ADV_SCALARIZED_REWARDS;
    rc.adv_eps = 1e-6f;
    rc.dual_anchor = true;
    rc.anchor = CG_ANCHOR_CODE;
    rc.da_alpha = 0.3f;
    rc.prospect = true;
    rc.pt_beta = 0.7f;
    rc.pt_lambda_pos = 1.5f;
    rc.pt_lambda_neg = 2.5f;
    cg_adv_config_t c;
    cg_adv_config_from(&rc, &c);
    CU_ASSERT(c.estimator == CG_ADV_SCALARIZED_REWARDS && c.eps == 1e-6f && c.dual_anchor &&
              c.alpha == 0.3f && c.prospect && c.pt_beta == 0.7f && c.pt_lambda_pos == 1.5f &&
              c.pt_lambda_neg == 2.5f && c.anchor == CG_ANCHOR_CODE);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"zscore population convention", test_zscore},
        {"DESIGN worked example G=8 (ScRew, ScAdv)", test_worked_g8},
        {"DESIGN MDP-GRPO worked values", test_mdp_worked},
        {"dual anchor, the authors' code form", test_anchor_code_form},
        {"prospect bounds on random groups", test_prospect_bounds},
        {"reweighting theorem on random groups", test_reweighting_theorem},
        {"K=0 reduces to GRPO", test_k0_is_grpo},
        {"constant cost changes nothing", test_constant_cost},
        {"cancellation noise is zero variance", test_cancellation_is_zero},
        {"zero-variance groups", test_zero_variance_group},
        {"stabilisers compose with estimators", test_stabilisers_compose},
        {"composed worked example (docs)", test_composed_worked},
        {"asymmetric KL coefficient", test_kl_coef},
        {"invalid arguments", test_invalid},
        {"config mapping", test_config_from},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("adv", tests, NULL, NULL);
}
