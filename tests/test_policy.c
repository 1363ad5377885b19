/* test_policy: the MLP policy against an independent double-precision forward written here,
 * its gradient against central finite differences of that double forward, the softmax
 * helpers against direct formulas, sampling frequencies, init determinism and scale, and
 * batch/workspace consistency. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_policy.h"
#include "cg_rng.h"
#include "cg_test.h"

#define REF_MAX_WIDTH 256 /* widest layer the double reference handles */

static cg_policy_shape_t s_shape(int32_t obs, int32_t actions, int32_t n_hidden, int32_t h0,
                                 int32_t h1, cg_activation_t act)
{
    cg_policy_shape_t s;
    memset(&s, 0, sizeof s);
    s.obs_dim = obs;
    s.n_actions = actions;
    s.n_hidden = n_hidden;
    s.hidden[0] = h0;
    s.hidden[1] = h1;
    s.activation = act;
    return s;
}

static void s_fill_uniform(float *x, size_t n, float lo, float hi, cg_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)cg_rng_uniform(rng);
}

/* A policy with all parameters (biases too) uniform in [-0.5, 0.5], so every term of the
 * gradient is exercised and the output layer is not tiny. */
static cg_policy_t *s_random_policy(const cg_policy_shape_t *shape, uint64_t seed)
{
    cg_policy_t *p = cg_policy_new(shape, seed);
    CG_ASSERT(p);
    cg_rng_t rng;
    cg_rng_seed(&rng, seed, 99);
    s_fill_uniform(cg_policy_params(p), cg_policy_n_params(p), -0.5f, 0.5f, &rng);
    return p;
}

/* Independent reference: logits (n, n_actions) from params in double, one row at a time,
 * straight from the arena layout (per layer W (out, in) row-major, then b (out)). */
static void s_ref_forward(const cg_policy_shape_t *sh, const double *params, const float *obs,
                          int32_t n, double *logits)
{
    double buf[2][REF_MAX_WIDTH];
    CG_ASSERT(sh->obs_dim <= REF_MAX_WIDTH && sh->n_actions <= REF_MAX_WIDTH);
    for (int32_t i = 0; i < n; i++) {
        double *cur = buf[0];
        double *nxt = buf[1];
        int32_t in = sh->obs_dim;
        for (int32_t k = 0; k < in; k++)
            cur[k] = obs[(size_t)i * in + k];
        const double *p = params;
        for (int32_t l = 0; l <= sh->n_hidden; l++) {
            int hidden = l < sh->n_hidden;
            int32_t out = hidden ? sh->hidden[l] : sh->n_actions;
            CG_ASSERT(out <= REF_MAX_WIDTH);
            const double *w = p;
            const double *b = p + (size_t)out * in;
            for (int32_t o = 0; o < out; o++) {
                double s = b[o];
                for (int32_t k = 0; k < in; k++)
                    s += w[(size_t)o * in + k] * cur[k];
                if (hidden)
                    s = sh->activation == CG_ACT_TANH ? tanh(s) : (s > 0.0 ? s : 0.0);
                nxt[o] = s;
            }
            p += (size_t)out * in + out;
            in = out;
            double *t = cur;
            cur = nxt;
            nxt = t;
        }
        for (int32_t a = 0; a < sh->n_actions; a++)
            logits[(size_t)i * sh->n_actions + a] = cur[a];
    }
}

/* L = sum(dlogits * logits) with the double reference. */
static double s_ref_loss(const cg_policy_shape_t *sh, const double *params, const float *obs,
                         int32_t n, const float *dlogits, double *scratch)
{
    s_ref_forward(sh, params, obs, n, scratch);
    double l = 0.0;
    for (size_t k = 0; k < (size_t)n * sh->n_actions; k++)
        l += dlogits[k] * scratch[k];
    return l;
}

#define N_SHAPES 8
static cg_policy_shape_t s_test_shapes(int idx)
{
    cg_activation_t act = idx & 1 ? CG_ACT_RELU : CG_ACT_TANH;
    switch (idx / 2) {
    case 0: return s_shape(5, 3, 0, 0, 0, act);
    case 1: return s_shape(4, 5, 1, 7, 0, act);
    case 2: return s_shape(6, 3, 2, 5, 4, act);
    default: return s_shape(3, 2, 2, 8, 6, act);
    }
}

/* The vectorised tanh against tanh in double: a dense grid over [-12, 12] (saturation
 * included), odd symmetry, and the special values. */
static void test_tanh_accuracy(void)
{
    const size_t m = 2400001;
    float *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    for (size_t k = 0; k < m; k++)
        x[k] = y[k] = (float)((double)k * 1e-5 - 12.0);
    cg_policy_tanh(y, m);
    double worst_abs = 0, worst_rel = 0;
    for (size_t k = 0; k < m; k++) {
        double t = tanh((double)x[k]), e = fabs((double)y[k] - t);
        worst_abs = e > worst_abs ? e : worst_abs;
        if (t != 0)
            worst_rel = e / fabs(t) > worst_rel ? e / fabs(t) : worst_rel;
        CU_ASSERT(fabsf(y[k]) <= 1.0f);
    }
    CU_ASSERT(worst_abs <= 4e-7);
    CU_ASSERT(worst_rel <= 4e-7);
    float s[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f, INFINITY, -INFINITY, 0.5f, -0.5f};
    cg_policy_tanh(s, sizeof s / sizeof s[0]);
    CU_ASSERT_EQUAL(s[0], 0.0f);
    CU_ASSERT_EQUAL(s[1], 0.0f);
    CU_ASSERT(fabsf(s[2] - 1e-30f) <= 1e-36f && fabsf(s[3] + 1e-30f) <= 1e-36f);
    CU_ASSERT_EQUAL(s[4], 1.0f);
    CU_ASSERT_EQUAL(s[5], -1.0f);
    CU_ASSERT_EQUAL(s[6], 1.0f);
    CU_ASSERT_EQUAL(s[7], -1.0f);
    CU_ASSERT_EQUAL(s[8], -s[9]);
    float n[] = {NAN};
    cg_policy_tanh(n, 1);
    CU_ASSERT(isnan(n[0]));
    free(x);
    free(y);
}

static void test_shape_check(void)
{
    cg_policy_shape_t s = s_shape(40, 4, 2, 64, 64, CG_ACT_TANH);
    CU_ASSERT_EQUAL(cg_policy_shape_check(&s), CG_OK);
    CU_ASSERT_EQUAL(cg_policy_shape_n_params(&s),
                    (size_t)(64 * 40 + 64 + 64 * 64 + 64 + 4 * 64 + 4));
    cg_policy_t *p = cg_policy_new(&s, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(cg_policy_n_params(p), cg_policy_shape_n_params(&s));
    CU_ASSERT_EQUAL(cg_policy_shape(p)->hidden[1], 64);
    cg_policy_destroy(&p);
    CU_ASSERT_PTR_NULL(p);
    cg_policy_destroy(&p); /* NULL-safe */

    cg_policy_shape_t zero = s_shape(5, 3, 0, 0, 0, CG_ACT_RELU);
    CU_ASSERT_EQUAL(cg_policy_shape_n_params(&zero), (size_t)(3 * 5 + 3));

    cg_policy_shape_t bad[8];
    for (int i = 0; i < 8; i++)
        bad[i] = s;
    bad[0].obs_dim = 0;
    bad[1].n_actions = 0;
    bad[2].n_hidden = -1;
    bad[3].n_hidden = CG_MAX_LAYERS + 1;
    bad[4].hidden[1] = 0;
    bad[5].activation = (cg_activation_t)7;
    bad[6].obs_dim = CG_POLICY_MAX_DIM + 1;
    bad[7] = s_shape(CG_POLICY_MAX_DIM, 4, 1, CG_POLICY_MAX_DIM, 0, CG_ACT_TANH); /* 2^32 > cap */
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(cg_policy_shape_check(&bad[i]), CG_ERR_SHAPE);
        CU_ASSERT_EQUAL(cg_policy_shape_n_params(&bad[i]), 0);
        CU_ASSERT_PTR_NULL(cg_policy_new(&bad[i], 1));
    }
    CU_ASSERT_EQUAL(cg_policy_shape_check(NULL), CG_ERR_SHAPE);
}

/* Float forward vs the double reference: |f - d| <= 1e-5 (1 + |d|). */
static void test_forward_matches_double(void)
{
    const int32_t n = 13;
    for (int idx = 0; idx < N_SHAPES; idx++) {
        cg_policy_shape_t sh = s_test_shapes(idx);
        cg_policy_t *p = s_random_policy(&sh, 100 + idx);
        cg_rng_t rng;
        cg_rng_seed(&rng, 7, idx);
        float *obs = cg_calloc((size_t)n * sh.obs_dim, sizeof *obs);
        float *logits = cg_calloc((size_t)n * sh.n_actions, sizeof *logits);
        double *ref = cg_calloc((size_t)n * sh.n_actions, sizeof *ref);
        double *pd = cg_calloc(cg_policy_n_params(p), sizeof *pd);
        s_fill_uniform(obs, (size_t)n * sh.obs_dim, -2.0f, 2.0f, &rng);
        for (size_t k = 0; k < cg_policy_n_params(p); k++)
            pd[k] = cg_policy_params(p)[k];
        cg_policy_forward(p, obs, n, logits);
        s_ref_forward(&sh, pd, obs, n, ref);
        double worst = 0.0;
        for (size_t k = 0; k < (size_t)n * sh.n_actions; k++) {
            double e = fabs(logits[k] - ref[k]) / (1.0 + fabs(ref[k]));
            if (e > worst)
                worst = e;
        }
        CU_ASSERT(worst <= 1e-5);
        if (worst > 1e-5)
            printf("\n  shape %d: forward rel error %.3g\n", idx, worst);
        free(pd);
        free(ref);
        free(logits);
        free(obs);
        cg_policy_destroy(&p);
    }
}

/* Backward vs central differences of the double reference for L = sum(dlogits * logits).
 * Tolerance: |g - g_fd| <= 1e-4 |g_fd| + 1e-6 max|g_fd| (float32 gradient vs a double
 * reference whose FD error, h = 1e-5 in double, is ~1e-10; observed worst ~2e-6, and a
 * gradient 0.1% off, e.g. a mis-scaled bias term, fails). */
static void test_gradient_check(void)
{
    const int32_t n = 6;
    const double h = 1e-5;
    for (int idx = 0; idx < N_SHAPES; idx++) {
        cg_policy_shape_t sh = s_test_shapes(idx);
        cg_policy_t *p = s_random_policy(&sh, 200 + idx);
        size_t np = cg_policy_n_params(p);
        cg_rng_t rng;
        cg_rng_seed(&rng, 11, idx);
        float *obs = cg_calloc((size_t)n * sh.obs_dim, sizeof *obs);
        float *logits = cg_calloc((size_t)n * sh.n_actions, sizeof *logits);
        float *dlogits = cg_calloc((size_t)n * sh.n_actions, sizeof *dlogits);
        float *grad = cg_calloc(np, sizeof *grad);
        double *gfd = cg_calloc(np, sizeof *gfd);
        double *pd = cg_calloc(np, sizeof *pd);
        double *scratch = cg_calloc((size_t)n * sh.n_actions, sizeof *scratch);
        s_fill_uniform(obs, (size_t)n * sh.obs_dim, -1.5f, 1.5f, &rng);
        s_fill_uniform(dlogits, (size_t)n * sh.n_actions, -1.0f, 1.0f, &rng);

        cg_policy_forward(p, obs, n, logits);
        cg_policy_backward(p, dlogits, n, grad);

        for (size_t k = 0; k < np; k++)
            pd[k] = cg_policy_params(p)[k];
        double gmax = 0.0;
        for (size_t k = 0; k < np; k++) {
            double keep = pd[k];
            pd[k] = keep + h;
            double lp = s_ref_loss(&sh, pd, obs, n, dlogits, scratch);
            pd[k] = keep - h;
            double lm = s_ref_loss(&sh, pd, obs, n, dlogits, scratch);
            pd[k] = keep;
            gfd[k] = (lp - lm) / (2.0 * h);
            if (fabs(gfd[k]) > gmax)
                gmax = fabs(gfd[k]);
        }
        CU_ASSERT(gmax > 1e-3); /* the check is not vacuous */
        size_t bad = 0;
        double worst = 0.0;
        for (size_t k = 0; k < np; k++) {
            double err = fabs(grad[k] - gfd[k]);
            if (err > 1e-4 * fabs(gfd[k]) + 1e-6 * gmax)
                bad++;
            double rel = err / (fabs(gfd[k]) + 1e-2 * gmax);
            if (rel > worst)
                worst = rel;
        }
        CU_ASSERT_EQUAL(bad, 0);
        if (bad)
            printf("\n  shape %d: %zu of %zu gradient entries off (worst rel %.3g)\n", idx, bad, np,
                   worst);
        free(scratch);
        free(pd);
        free(gfd);
        free(grad);
        free(dlogits);
        free(logits);
        free(obs);
        cg_policy_destroy(&p);
    }
}

/* Calling backward twice on one forward doubles the gradient (it accumulates). */
static void test_backward_accumulates(void)
{
    cg_policy_shape_t sh = s_shape(6, 3, 2, 5, 4, CG_ACT_TANH);
    cg_policy_t *p = s_random_policy(&sh, 5);
    size_t np = cg_policy_n_params(p);
    const int32_t n = 9;
    cg_rng_t rng;
    cg_rng_seed(&rng, 3, 0);
    float obs[9 * 6], logits[9 * 3], dlogits[9 * 3];
    s_fill_uniform(obs, sizeof obs / sizeof *obs, -1.0f, 1.0f, &rng);
    s_fill_uniform(dlogits, sizeof dlogits / sizeof *dlogits, -1.0f, 1.0f, &rng);
    float *g1 = cg_calloc(np, sizeof *g1);
    float *g2 = cg_calloc(np, sizeof *g2);
    cg_policy_forward(p, obs, n, logits);
    cg_policy_backward(p, dlogits, n, g1);
    cg_policy_backward(p, dlogits, n, g2);
    cg_policy_backward(p, dlogits, n, g2);
    for (size_t k = 0; k < np; k++)
        CG_ASSERT_NEAR(g2[k], 2.0f * g1[k], 1e-6 * (1.0 + fabs(g1[k])));
    /* n = 0 is a no-op */
    cg_policy_forward(p, obs, 0, logits);
    cg_policy_backward(p, dlogits, 0, g1);
    free(g2);
    free(g1);
    cg_policy_destroy(&p);
}

/* A large batch first (workspace grows) does not change a later small batch's results:
 * bit-identical to a fresh policy with the same parameters. */
static void test_workspace_reuse(void)
{
    cg_policy_shape_t sh = s_shape(7, 4, 2, 16, 9, CG_ACT_RELU);
    cg_policy_t *a = s_random_policy(&sh, 8);
    cg_policy_t *b = cg_policy_new(&sh, 1);
    size_t np = cg_policy_n_params(a);
    memcpy(cg_policy_params(b), cg_policy_params(a), np * sizeof(float));
    cg_rng_t rng;
    cg_rng_seed(&rng, 4, 0);
    const int32_t big = 1500;
    float *obs = cg_calloc((size_t)big * sh.obs_dim, sizeof *obs);
    float *logits = cg_calloc((size_t)big * sh.n_actions, sizeof *logits);
    float *dl = cg_calloc((size_t)big * sh.n_actions, sizeof *dl);
    s_fill_uniform(obs, (size_t)big * sh.obs_dim, -1.0f, 1.0f, &rng);
    s_fill_uniform(dl, (size_t)big * sh.n_actions, -1.0f, 1.0f, &rng);
    float *ga = cg_calloc(np, sizeof *ga);
    float *gb = cg_calloc(np, sizeof *gb);
    float la[5 * 4], lb[5 * 4];
    cg_policy_forward(a, obs, big, logits);
    cg_policy_backward(a, dl, big, ga);
    memset(ga, 0, np * sizeof *ga);
    cg_policy_forward(a, obs + 100 * sh.obs_dim, 5, la);
    cg_policy_backward(a, dl, 5, ga);
    cg_policy_forward(b, obs + 100 * sh.obs_dim, 5, lb);
    cg_policy_backward(b, dl, 5, gb);
    CU_ASSERT_EQUAL(memcmp(la, lb, sizeof la), 0);
    CU_ASSERT_EQUAL(memcmp(ga, gb, np * sizeof *ga), 0);
    free(gb);
    free(ga);
    free(dl);
    free(logits);
    free(obs);
    cg_policy_destroy(&b);
    cg_policy_destroy(&a);
}

/* Batch of 1000 vs 1000 calls with n = 1: equal to float rounding (BLAS may pick different
 * kernels for one row, so bit equality is not promised), and a repeated batch is
 * bit-identical. */
static void test_batch_vs_rows(void)
{
    cg_policy_shape_t sh = s_shape(40, 4, 2, 64, 64, CG_ACT_TANH);
    cg_policy_t *p = s_random_policy(&sh, 9);
    /* scale to typical magnitudes: W ~ U(-0.5, 0.5) is large for fan-in 64 */
    for (size_t k = 0; k < cg_policy_n_params(p); k++)
        cg_policy_params(p)[k] *= 0.3f;
    const int32_t n = 1000;
    cg_rng_t rng;
    cg_rng_seed(&rng, 5, 0);
    float *obs = cg_calloc((size_t)n * sh.obs_dim, sizeof *obs);
    float *batch = cg_calloc((size_t)n * sh.n_actions, sizeof *batch);
    float *again = cg_calloc((size_t)n * sh.n_actions, sizeof *again);
    s_fill_uniform(obs, (size_t)n * sh.obs_dim, -1.0f, 1.0f, &rng);
    cg_policy_forward(p, obs, n, batch);
    cg_policy_forward(p, obs, n, again);
    CU_ASSERT_EQUAL(memcmp(batch, again, (size_t)n * sh.n_actions * sizeof *batch), 0);
    double worst = 0.0;
    for (int32_t i = 0; i < n; i++) {
        float row[4];
        cg_policy_forward(p, obs + (size_t)i * sh.obs_dim, 1, row);
        for (int32_t a = 0; a < 4; a++) {
            double e = fabs(row[a] - batch[(size_t)i * 4 + a]) / (1.0 + fabs(row[a]));
            if (e > worst)
                worst = e;
        }
    }
    CU_ASSERT(worst <= 1e-6);
    free(again);
    free(batch);
    free(obs);
    cg_policy_destroy(&p);
}

static void test_init_determinism(void)
{
    cg_policy_shape_t sh = s_shape(40, 4, 2, 64, 64, CG_ACT_TANH);
    cg_policy_t *a = cg_policy_new(&sh, 42);
    cg_policy_t *b = cg_policy_new(&sh, 42);
    cg_policy_t *c = cg_policy_new(&sh, 43);
    size_t np = cg_policy_n_params(a);
    CU_ASSERT_EQUAL(memcmp(cg_policy_params(a), cg_policy_params(b), np * sizeof(float)), 0);
    size_t same = 0;
    for (size_t k = 0; k < np; k++)
        same += cg_policy_params(a)[k] == cg_policy_params(c)[k];
    /* only the biases (all 0) agree */
    CU_ASSERT_EQUAL(same, (size_t)(64 + 64 + 4));
    cg_policy_destroy(&c);
    cg_policy_destroy(&b);
    cg_policy_destroy(&a);
}

/* gain^2 * I == W^T W (columns orthonormal, rows > cols) or W W^T (rows <= cols). */
static double s_orthogonality_error(const float *w, int32_t rows, int32_t cols, double gain)
{
    int32_t p = rows > cols ? cols : rows;
    double worst = 0.0;
    for (int32_t i = 0; i < p; i++)
        for (int32_t j = 0; j < p; j++) {
            double s = 0.0;
            if (rows > cols)
                for (int32_t r = 0; r < rows; r++)
                    s += (double)w[r * cols + i] * w[r * cols + j];
            else
                for (int32_t c = 0; c < cols; c++)
                    s += (double)w[i * cols + c] * w[j * cols + c];
            double want = i == j ? gain * gain : 0.0;
            double e = fabs(s - want) / (gain * gain);
            if (e > worst)
                worst = e;
        }
    return worst;
}

/* The documented scheme: orthogonal W, gains 5/3 (tanh) or sqrt(2) (relu) and 0.01 at the
 * output, zero biases; the initial policy is near uniform. */
static void test_init_scheme(void)
{
    for (int act = 0; act < 2; act++) {
        cg_policy_shape_t sh = s_shape(40, 4, 2, 64, 64, act ? CG_ACT_RELU : CG_ACT_TANH);
        cg_policy_t *p = cg_policy_new(&sh, 7);
        const float *prm = cg_policy_params(p);
        double g = act ? sqrt(2.0) : 5.0 / 3.0;
        const float *w0 = prm;          /* (64, 40) */
        const float *b0 = w0 + 64 * 40; /* (64) */
        const float *w1 = b0 + 64;      /* (64, 64) */
        const float *b1 = w1 + 64 * 64; /* (64) */
        const float *w2 = b1 + 64;      /* (4, 64) */
        const float *b2 = w2 + 4 * 64;  /* (4) */
        CU_ASSERT(s_orthogonality_error(w0, 64, 40, g) < 1e-5);
        CU_ASSERT(s_orthogonality_error(w1, 64, 64, g) < 1e-5);
        CU_ASSERT(s_orthogonality_error(w2, 4, 64, 0.01) < 1e-5);
        for (int k = 0; k < 64; k++)
            CU_ASSERT(b0[k] == 0.0f && b1[k] == 0.0f);
        for (int k = 0; k < 4; k++)
            CU_ASSERT(b2[k] == 0.0f);

        const int32_t n = 256;
        cg_rng_t rng;
        cg_rng_seed(&rng, 6, act);
        float *obs = cg_calloc((size_t)n * 40, sizeof *obs);
        float *logits = cg_calloc((size_t)n * 4, sizeof *logits);
        s_fill_uniform(obs, (size_t)n * 40, -1.0f, 1.0f, &rng);
        cg_policy_forward(p, obs, n, logits);
        float mx = 0.0f;
        for (int32_t k = 0; k < n * 4; k++)
            mx = fmaxf(mx, fabsf(logits[k]));
        CU_ASSERT(mx < 0.1f);  /* every probability within ~10% of 1/4 */
        CU_ASSERT(mx > 1e-4f); /* but not degenerate */
        free(logits);
        free(obs);
        cg_policy_destroy(&p);
    }
}

static void test_log_softmax(void)
{
    const float temps[3] = {1.0f, 0.3f, 5.0f};
    cg_rng_t rng;
    cg_rng_seed(&rng, 12, 0);
    for (int trial = 0; trial < 20; trial++) {
        float logits[7], logp[7];
        s_fill_uniform(logits, 7, -4.0f, 4.0f, &rng);
        for (int ti = 0; ti < 3; ti++) {
            double t = temps[ti];
            cg_policy_log_softmax(logits, 7, temps[ti], logp);
            double z = 0.0, psum = 0.0;
            for (int j = 0; j < 7; j++)
                z += exp(logits[j] / t);
            for (int j = 0; j < 7; j++) {
                CG_ASSERT_NEAR(logp[j], log(exp(logits[j] / t) / z), 2e-6 * (1.0 + fabs(logp[j])));
                psum += exp(logp[j]);
            }
            CG_ASSERT_NEAR(psum, 1.0, 1e-6);
        }
    }
    /* numerically stable for large logits and low temperature */
    float big[3] = {1000.0f, 999.0f, -1000.0f}, lp[3];
    cg_policy_log_softmax(big, 3, 1.0f, lp);
    CG_ASSERT_NEAR(lp[0], -log1p(exp(-1.0)), 1e-6);
    CG_ASSERT_NEAR(lp[1], -1.0 - log1p(exp(-1.0)), 1e-6);
    CG_ASSERT_NEAR(lp[2], -2000.0 - log1p(exp(-1.0)), 1e-3);
    cg_policy_log_softmax(big, 3, 0.01f, lp);
    CG_ASSERT_NEAR(lp[0], 0.0, 1e-6);
    CG_ASSERT_NEAR(lp[1], -100.0, 1e-4);
    CU_ASSERT(isfinite(lp[2]));
    float one = 3.0f, lp1;
    cg_policy_log_softmax(&one, 1, 1.0f, &lp1);
    CU_ASSERT_EQUAL(lp1, 0.0f);
}

/* Frequencies over many draws vs softmax(logits / T): chi-square with 4 degrees of freedom
 * below 33 (p ~ 1e-6 under the null), fixed seed. */
static void test_sample_frequencies(void)
{
    const float logits[5] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f};
    const float temps[3] = {1.0f, 0.7f, 2.0f};
    const int32_t draws = 200000;
    cg_rng_t rng;
    cg_rng_seed(&rng, 2024, 1);
    for (int ti = 0; ti < 3; ti++) {
        float logp[5];
        cg_policy_log_softmax(logits, 5, temps[ti], logp);
        int32_t count[5] = {0};
        for (int32_t d = 0; d < draws; d++) {
            int32_t a = cg_policy_sample(logits, 5, temps[ti], &rng, NULL);
            CU_ASSERT_FATAL(a >= 0 && a < 5);
            count[a]++;
        }
        double chi2 = 0.0;
        for (int j = 0; j < 5; j++) {
            double expect = exp(logp[j]) * draws;
            chi2 += (count[j] - expect) * (count[j] - expect) / expect;
        }
        CU_ASSERT(chi2 < 33.0);
        if (chi2 >= 33.0)
            printf("\n  T=%g: chi2 %.2f\n", temps[ti], chi2);
    }
}

static void test_sample_temperature(void)
{
    const float logits[5] = {0.5f, -1.0f, 2.0f, 0.0f, 1.5f};
    cg_rng_t rng;
    cg_rng_seed(&rng, 77, 0);
    /* T = 0.01: the runner-up is exp(-50) as likely as the argmax */
    for (int d = 0; d < 10000; d++)
        CU_ASSERT_EQUAL(cg_policy_sample(logits, 5, 0.01f, &rng, NULL), 2);
    /* T = 1e4: within 3e-4 of uniform; 100000 draws give frequencies within ~0.004 */
    int32_t count[5] = {0};
    const int32_t draws = 100000;
    for (int32_t d = 0; d < draws; d++)
        count[cg_policy_sample(logits, 5, 1e4f, &rng, NULL)]++;
    for (int j = 0; j < 5; j++)
        CG_ASSERT_NEAR((double)count[j] / draws, 0.2, 0.01);
}

/* The returned log-prob is the chosen action's log_softmax at T = 1, whatever T sampled it. */
static void test_sample_logp1(void)
{
    const float temps[4] = {1.0f, 0.1f, 0.5f, 3.0f};
    cg_rng_t rng;
    cg_rng_seed(&rng, 31, 0);
    for (int trial = 0; trial < 200; trial++) {
        float logits[6], logp[6], logp1 = 1.0f;
        s_fill_uniform(logits, 6, -3.0f, 3.0f, &rng);
        cg_policy_log_softmax(logits, 6, 1.0f, logp);
        int32_t a = cg_policy_sample(logits, 6, temps[trial % 4], &rng, &logp1);
        CU_ASSERT_FATAL(a >= 0 && a < 6);
        CG_ASSERT_NEAR(logp1, logp[a], 1e-6);
    }
}

/* The nucleus of logits at temperature t and top_p, computed apart in double: in[j] = 1 for
 * the most probable actions (ties by index) whose probabilities first reach top_p; its mass. */
static double s_nucleus(const float *logits, int32_t n, double t, double top_p, int *in)
{
    double mx = logits[0], sum = 0.0, p[64];
    for (int32_t j = 1; j < n; j++)
        mx = logits[j] > mx ? logits[j] : mx;
    for (int32_t j = 0; j < n; j++)
        sum += p[j] = exp(((double)logits[j] - mx) / t);
    for (int32_t j = 0; j < n; j++)
        p[j] /= sum, in[j] = 0;
    double kept = 0.0;
    while (kept < top_p - 1e-12) {
        int32_t best = -1;
        for (int32_t j = 0; j < n; j++)
            if (!in[j] && (best < 0 || logits[j] > logits[best]))
                best = j;
        if (best < 0)
            break;
        in[best] = 1;
        kept += p[best];
    }
    return kept;
}

/* Top-p never samples outside the nucleus, samples inside it in proportion to the
 * probabilities, reports the log-prob at temperature 1 of the whole distribution, and at
 * top_p = 1 is plain sampling, bit for bit. */
static void test_sample_top_p(void)
{
    cg_rng_t rng, r2;
    cg_rng_seed(&rng, 77, 0);
    float logits[64];
    int32_t order[64];
    int in[64], outside = 0;
    for (int c = 0; c < 300; c++) {
        const int32_t n = 2 + (int32_t)cg_rng_below(&rng, 40);
        for (int32_t j = 0; j < n; j++)
            logits[j] = (float)(4.0 * (cg_rng_uniform(&rng) - 0.5));
        if (c % 7 == 0)
            logits[1] = logits[0]; /* a tie */
        const float t = c % 3 == 0 ? 0.5f : c % 3 == 1 ? 1.0f : 2.0f;
        const float top_p = (float)(0.05 + 0.9 * cg_rng_uniform(&rng));
        s_nucleus(logits, n, t, top_p, in);
        for (int k = 0; k < 200; k++) {
            float lp = 0.0f;
            const int32_t a = cg_policy_sample_top_p(logits, n, t, top_p, order, &rng, &lp);
            outside += a < 0 || a >= n || !in[a];
            float full[64];
            cg_policy_log_softmax(logits, n, 1.0f, full);
            if (k == 0)
                CG_ASSERT_NEAR(lp, full[a], 1e-5);
        }
    }
    CU_ASSERT_EQUAL(outside, 0);

    /* proportions inside the nucleus: p = (0.5, 0.3, 0.15, 0.05), top_p 0.75 keeps the
     * first two, renormalised to 0.625 / 0.375 */
    const float lg[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    int count[4] = {0};
    const int draws = 40000;
    for (int k = 0; k < draws; k++)
        count[cg_policy_sample_top_p(lg, 4, 1.0f, 0.75f, order, &rng, NULL)]++;
    CU_ASSERT_EQUAL(count[2] + count[3], 0);
    CG_ASSERT_NEAR((double)count[0] / draws, 0.625, 0.01);
    /* top_p 1: the plain sampler's draws */
    cg_rng_seed(&rng, 5, 0);
    cg_rng_seed(&r2, 5, 0);
    for (int k = 0; k < 1000; k++) {
        float l1 = 0.0f, l2 = 0.0f;
        CU_ASSERT_EQUAL(cg_policy_sample_top_p(lg, 4, 0.7f, 1.0f, order, &rng, &l1),
                        cg_policy_sample(lg, 4, 0.7f, &r2, &l2));
        CU_ASSERT(l1 == l2);
    }
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"shape check and parameter count", test_shape_check},
        {"tanh within 4e-7 of double tanh", test_tanh_accuracy},
        {"top-p sampling stays in the nucleus", test_sample_top_p},
        {"forward matches double reference", test_forward_matches_double},
        {"gradient matches finite differences", test_gradient_check},
        {"backward accumulates", test_backward_accumulates},
        {"workspace reuse", test_workspace_reuse},
        {"batch equals row by row", test_batch_vs_rows},
        {"init deterministic per seed", test_init_determinism},
        {"init orthogonal, near-uniform policy", test_init_scheme},
        {"log_softmax", test_log_softmax},
        {"sample frequencies match softmax", test_sample_frequencies},
        {"sample temperature extremes", test_sample_temperature},
        {"sample returns T=1 log-prob", test_sample_logp1},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("policy", tests, NULL, NULL);
}
