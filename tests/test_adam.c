/* test_adam: Adam against hand-computed steps and an independent double implementation,
 * gradient-norm clipping, convergence on a quadratic, and bit-identical resumption from
 * saved state (m, v, step count). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_adam.h"
#include "cg_alloc.h"
#include "cg_rng.h"
#include "cg_test.h"

static cg_adam_config_t s_cfg(float lr, float eps, float max_norm)
{
    cg_adam_config_t c = {
        .lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = eps, .max_grad_norm = max_norm};
    return c;
}

/* With a constant gradient, bias correction makes m_hat = g and v_hat = g^2 at every step,
 * so each step moves p by -lr * g / (|g| + eps). lr 0.1, eps 0.1:
 *   g = 0.5:  -0.1 * 0.5 / 0.6   = -0.0833333
 *   g = -0.25: +0.1 * 0.25 / 0.35 = +0.0714286
 *   g = 2:    -0.1 * 2 / 2.1     = -0.0952381 */
static void test_hand_computed(void)
{
    cg_adam_config_t cfg = s_cfg(0.1f, 0.1f, 0.0f);
    cg_adam_t *adam = cg_adam_new(4, &cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(adam);
    CU_ASSERT_EQUAL(cg_adam_n_params(adam), 4);
    CU_ASSERT_EQUAL(cg_adam_steps(adam), 0);
    float p[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    float g[4] = {0.5f, -0.25f, 0.0f, 2.0f};
    float norm = cg_adam_step(adam, p, g);
    CG_ASSERT_NEAR(norm, 2.0766560, 1e-6); /* sqrt(0.25 + 0.0625 + 4) */
    CU_ASSERT_EQUAL(cg_adam_steps(adam), 1);
    CG_ASSERT_NEAR(p[0], 0.9166667, 1e-6);
    CG_ASSERT_NEAR(p[1], -1.9285714, 1e-6);
    CU_ASSERT_EQUAL(p[2], 0.5f); /* zero gradient, zero moment: untouched */
    CG_ASSERT_NEAR(p[3], 2.9047619, 1e-6);
    /* m = 0.1 g, v = 0.001 g^2, up to the float rounding of the betas (0.999f is
     * 0.99900001, so 1 - beta2 is 1.3e-5 relative below 0.001) */
    CG_ASSERT_NEAR(cg_adam_m(adam)[0], 0.05, 1e-7);
    CG_ASSERT_NEAR(cg_adam_m(adam)[3], 0.2, 1e-7);
    CG_ASSERT_NEAR(cg_adam_v(adam)[1], 6.25e-5, 6.25e-5 * 2e-5);
    CG_ASSERT_NEAR(cg_adam_v(adam)[3], 0.004, 0.004 * 2e-5);
    cg_adam_step(adam, p, g);
    CG_ASSERT_NEAR(p[0], 0.8333333, 1e-6);
    CG_ASSERT_NEAR(p[1], -1.8571429, 1e-6);
    CG_ASSERT_NEAR(p[3], 2.8095238, 1e-6);
    cg_adam_destroy(&adam);
    CU_ASSERT_PTR_NULL(adam);
    cg_adam_destroy(&adam);
}

/* Reference Adam in double, the textbook form of the brief. */
typedef struct {
    double *m, *v;
    int64_t t;
} ref_adam_t;

static double s_ref_step(ref_adam_t *r, const cg_adam_config_t *c, size_t n, double *p,
                         const float *gf)
{
    double norm = 0.0;
    for (size_t i = 0; i < n; i++)
        norm += (double)gf[i] * gf[i];
    norm = sqrt(norm);
    double scale = 1.0;
    if (c->max_grad_norm > 0 && norm > c->max_grad_norm)
        scale = c->max_grad_norm / (norm + 1e-6);
    r->t++;
    double b1 = c->beta1, b2 = c->beta2;
    for (size_t i = 0; i < n; i++) {
        double g = gf[i] * scale;
        r->m[i] = b1 * r->m[i] + (1 - b1) * g;
        r->v[i] = b2 * r->v[i] + (1 - b2) * g * g;
        double mh = r->m[i] / (1 - pow(b1, (double)r->t));
        double vh = r->v[i] / (1 - pow(b2, (double)r->t));
        p[i] -= c->lr * mh / (sqrt(vh) + c->eps);
    }
    return norm;
}

/* 60 steps of random gradients, with and without clipping: |p - p_ref| <= 1e-5 (1 + |p|). */
static void test_matches_double(void)
{
    const size_t n = 100;
    const float clips[2] = {0.0f, 3.0f};
    for (int ci = 0; ci < 2; ci++) {
        cg_adam_config_t cfg = s_cfg(0.01f, 1e-8f, clips[ci]);
        cg_adam_t *adam = cg_adam_new(n, &cfg);
        ref_adam_t ref = {cg_calloc(n, sizeof(double)), cg_calloc(n, sizeof(double)), 0};
        float *p = cg_calloc(n, sizeof *p);
        float *g = cg_calloc(n, sizeof *g);
        double *pd = cg_calloc(n, sizeof *pd);
        cg_rng_t rng;
        cg_rng_seed(&rng, 17, ci);
        for (size_t i = 0; i < n; i++)
            pd[i] = p[i] = (float)cg_rng_normal(&rng);
        double worst = 0.0;
        int clipped = 0;
        for (int step = 0; step < 60; step++) {
            for (size_t i = 0; i < n; i++)
                g[i] = (float)(0.5 * cg_rng_normal(&rng) + 0.1 * p[i]);
            double want = s_ref_step(&ref, &cfg, n, pd, g);
            float got = cg_adam_step(adam, p, g);
            CG_ASSERT_NEAR(got, want, 1e-6 * want);
            clipped += cfg.max_grad_norm > 0 && want > cfg.max_grad_norm;
            for (size_t i = 0; i < n; i++) {
                double e = fabs(p[i] - pd[i]) / (1.0 + fabs(pd[i]));
                if (e > worst)
                    worst = e;
            }
        }
        CU_ASSERT(worst <= 1e-5);
        if (ci == 1)
            CU_ASSERT(clipped > 30); /* the clipping path was exercised */
        CU_ASSERT_EQUAL(cg_adam_steps(adam), 60);
        free(pd);
        free(g);
        free(p);
        free(ref.v);
        free(ref.m);
        cg_adam_destroy(&adam);
    }
}

static void test_clipping(void)
{
    cg_adam_config_t cfg = s_cfg(0.01f, 1e-8f, 1.0f);
    cg_adam_t *adam = cg_adam_new(2, &cfg);
    float p[2] = {0.0f, 0.0f};
    float g[2] = {3.0f, 4.0f};
    float norm = cg_adam_step(adam, p, g);
    CG_ASSERT_NEAR(norm, 5.0, 1e-6);
    CG_ASSERT_NEAR(g[0], 3.0 / (5.0 + 1e-6), 1e-7);
    CG_ASSERT_NEAR(g[1], 4.0 / (5.0 + 1e-6), 1e-7);
    CG_ASSERT_NEAR(sqrt(g[0] * g[0] + g[1] * g[1]), 1.0, 1e-6);
    CG_ASSERT_NEAR(cg_adam_m(adam)[1], 0.1 * g[1], 1e-7); /* moments see the clipped grad */
    /* below the limit: untouched */
    float small[2] = {0.3f, -0.4f};
    CG_ASSERT_NEAR(cg_adam_step(adam, p, small), 0.5, 1e-6);
    CU_ASSERT(small[0] == 0.3f && small[1] == -0.4f);
    cg_adam_destroy(&adam);

    /* max_grad_norm = 0: no clipping */
    cfg.max_grad_norm = 0.0f;
    adam = cg_adam_new(2, &cfg);
    float big[2] = {300.0f, 400.0f};
    CG_ASSERT_NEAR(cg_adam_step(adam, p, big), 500.0, 1e-3);
    CU_ASSERT(big[0] == 300.0f && big[1] == 400.0f);
    cg_adam_destroy(&adam);
}

/* f(p) = sum a_i (p_i - c_i)^2 from p = 0: Adam gets within 1e-2 of c. */
static void test_quadratic(void)
{
    enum { N = 10 };
    cg_adam_config_t cfg = s_cfg(0.02f, 1e-8f, 0.0f);
    cg_adam_t *adam = cg_adam_new(N, &cfg);
    float a[N], c[N], p[N] = {0}, g[N];
    cg_rng_t rng;
    cg_rng_seed(&rng, 23, 0);
    for (int i = 0; i < N; i++) {
        a[i] = (float)(0.5 + 4.5 * cg_rng_uniform(&rng));
        c[i] = (float)(-2.0 + 4.0 * cg_rng_uniform(&rng));
    }
    double f0 = 0.0, f = 0.0;
    for (int i = 0; i < N; i++)
        f0 += a[i] * c[i] * c[i];
    for (int step = 0; step < 3000; step++) {
        for (int i = 0; i < N; i++)
            g[i] = 2.0f * a[i] * (p[i] - c[i]);
        cg_adam_step(adam, p, g);
    }
    for (int i = 0; i < N; i++) {
        CG_ASSERT_NEAR(p[i], c[i], 1e-2);
        f += a[i] * (p[i] - c[i]) * (p[i] - c[i]);
    }
    CU_ASSERT(f < 1e-4 * f0);
    cg_adam_destroy(&adam);
}

/* Save (params, m, v, steps) after 10 steps; a fresh optimiser restored from them continues
 * bit-identically to the original. */
static void test_restore_bit_identical(void)
{
    enum { N = 50, STEPS = 20 };
    static float grads[STEPS][N];
    cg_rng_t rng;
    cg_rng_seed(&rng, 29, 0);
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < N; i++)
            grads[s][i] = (float)cg_rng_normal(&rng);
    cg_adam_config_t cfg = s_cfg(0.003f, 1e-8f, 5.0f);
    cg_adam_t *a = cg_adam_new(N, &cfg);
    float pa[N], pb[N], g[N], m[N], v[N];
    for (int i = 0; i < N; i++)
        pa[i] = (float)cg_rng_normal(&rng);
    for (int s = 0; s < STEPS / 2; s++) {
        memcpy(g, grads[s], sizeof g);
        cg_adam_step(a, pa, g);
    }
    memcpy(pb, pa, sizeof pb);
    memcpy(m, cg_adam_m(a), sizeof m);
    memcpy(v, cg_adam_v(a), sizeof v);
    int64_t steps = cg_adam_steps(a);
    CU_ASSERT_EQUAL(steps, STEPS / 2);

    cg_adam_t *b = cg_adam_new(N, &cfg);
    memcpy(cg_adam_m(b), m, sizeof m);
    memcpy(cg_adam_v(b), v, sizeof v);
    cg_adam_set_steps(b, steps);
    for (int s = STEPS / 2; s < STEPS; s++) {
        memcpy(g, grads[s], sizeof g);
        float na = cg_adam_step(a, pa, g);
        memcpy(g, grads[s], sizeof g);
        float nb = cg_adam_step(b, pb, g);
        CU_ASSERT_EQUAL(na, nb);
    }
    CU_ASSERT_EQUAL(memcmp(pa, pb, sizeof pa), 0);
    CU_ASSERT_EQUAL(memcmp(cg_adam_m(a), cg_adam_m(b), sizeof m), 0);
    CU_ASSERT_EQUAL(memcmp(cg_adam_v(a), cg_adam_v(b), sizeof v), 0);
    CU_ASSERT_EQUAL(cg_adam_steps(a), cg_adam_steps(b));
    cg_adam_destroy(&b);
    cg_adam_destroy(&a);
}

/* A NaN or inf gradient is reported through the return value and changes nothing. */
static void test_nonfinite_gradient(void)
{
    cg_adam_config_t cfg = s_cfg(0.1f, 1e-8f, 1.0f);
    cg_adam_t *adam = cg_adam_new(3, &cfg);
    float p[3] = {1.0f, 2.0f, 3.0f};
    float g[3] = {0.1f, 0.2f, 0.3f};
    cg_adam_step(adam, p, g);
    float p0[3], m0[3], v0[3];
    memcpy(p0, p, sizeof p);
    memcpy(m0, cg_adam_m(adam), sizeof m0);
    memcpy(v0, cg_adam_v(adam), sizeof v0);
    float bad[3] = {0.1f, NAN, 0.3f};
    CU_ASSERT(isnan(cg_adam_step(adam, p, bad)));
    float inf[3] = {0.1f, INFINITY, 0.3f};
    CU_ASSERT(isinf(cg_adam_step(adam, p, inf)));
    CU_ASSERT(inf[0] == 0.1f);
    CU_ASSERT_EQUAL(memcmp(p, p0, sizeof p), 0);
    CU_ASSERT_EQUAL(memcmp(cg_adam_m(adam), m0, sizeof m0), 0);
    CU_ASSERT_EQUAL(memcmp(cg_adam_v(adam), v0, sizeof v0), 0);
    CU_ASSERT_EQUAL(cg_adam_steps(adam), 1);
    cg_adam_destroy(&adam);
}

static void test_invalid_config(void)
{
    cg_adam_config_t good = s_cfg(1e-3f, 1e-8f, 0.5f);
    cg_adam_config_t bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = good;
    bad[0].lr = -1.0f;
    bad[1].beta1 = 1.0f;
    bad[2].beta2 = -0.1f;
    bad[3].eps = NAN;
    bad[4].max_grad_norm = -1.0f;
    bad[5].lr = INFINITY;
    for (int i = 0; i < 6; i++)
        CU_ASSERT_PTR_NULL(cg_adam_new(10, &bad[i]));
    CU_ASSERT_PTR_NULL(cg_adam_new(10, NULL));
    cg_adam_t *adam = cg_adam_new(10, &good);
    CU_ASSERT_PTR_NOT_NULL(adam);
    cg_adam_destroy(&adam);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"two steps match hand-computed values", test_hand_computed},
        {"steps match a double implementation", test_matches_double},
        {"clipping scales to the max norm", test_clipping},
        {"minimises a quadratic", test_quadratic},
        {"restored state continues bit-identically", test_restore_bit_identical},
        {"non-finite gradient changes nothing", test_nonfinite_gradient},
        {"invalid config rejected", test_invalid_config},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("adam", tests, NULL, NULL);
}
