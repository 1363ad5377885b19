/* test_backend_cuda: the CUDA backend against the CPU reference (cg_backend_cpu), on fresh
 * random minibatches over several shapes (0-3 hidden layers, widths 8-512, 2-31 actions,
 * 40-4096 steps; and the Gaussian head on three shapes), tanh and relu, with and without
 * the KL and entropy terms, with the
 * config's beta and with per-step KL coefficients; minibatch sizes that grow and shrink
 * on one backend; and its state round trips. CG_TEST_CUDA_CASES=N runs the first N shapes.
 * Tolerances (float32), calibrated by running this suite with the CPU backend against
 * itself on inputs perturbed by 2-16 ulp, with a margin of 10x and more:
 *   logits                          |d| <= 1e-4 |cpu| + 1e-5 max(1, max|cpu|)
 *   loss statistics, gradient norm  |d| <= 1e-4 |cpu| + 1e-5 (clip_frac: 2 ties)
 *   after 1 step (Adam lr 1e-3): parameters |d| <= 1e-4 |cpu| + 1e-5; Adam m (= 0.1 g)
 *     and v |d| <= 1e-4 |cpu| + 1e-5 max|cpu|; up to 0.1% of the elements (at least 2)
 *     may miss: a relu pre-activation or a gradient element within rounding of 0 flips a
 *     mask or the sign of an Adam step (+-lr);
 *   after 5 steps: ||cuda - cpu|| / ||cpu|| of the parameter change, m and v <= 1e-3 (tanh)
 *     or 5e-2 (relu, whose flipped masks feed on through later steps; seen up to 1.2e-2).
 * The worst element and the relative errors are printed either way.
 * Without a CUDA device: checks that device=cuda fails with the message and its hint (not
 * a fallback), then reports the suite as skipped (exit 77). Either way it first checks that
 * a CUDA module that cannot be loaded (CG_CUDA_MODULE pointing nowhere) is an error with a
 * hint for device=cuda and a CPU fallback for device=auto. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_backend.h"
#include "cg_backend_cuda.h"
#include "cg_rng.h"
#include "cg_test.h"

static const cg_adam_config_t s_adam = {
    .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .max_grad_norm = 0.0f};

/* A random minibatch and its storage: episodes of 1..8 steps, w = 1/(len * episodes),
 * behaviour and reference log-probs near uniform (ratios spread enough to clip; every 97th
 * behaviour log-prob -120, beyond CG_LOSS_LOG_RATIO_MAX),
 * asymmetric per-step KL coefficients (0.025 for negative advantages, else 0.01). */
typedef struct {
    int32_t obs_dim, n_actions;
    float *obs;
    int32_t *action;
    float *action_f; /* (n, n_actions) a Gaussian head's actions (s_batch_gaussian) */
    float *logp_old, *adv, *weight, *logp_ref, *kl_coef;
    cg_minibatch_t mb;
} batch_t;

static void s_batch_fill(batch_t *b, cg_rng_t *rng, int32_t n, int32_t obs_dim, int32_t n_actions)
{
    b->obs_dim = obs_dim;
    b->n_actions = n_actions;
    b->obs = cg_realloc(b->obs, (size_t)n * (size_t)obs_dim, sizeof(float));
    b->action = cg_realloc(b->action, (size_t)n, sizeof(int32_t));
    float **cols[5] = {&b->logp_old, &b->adv, &b->weight, &b->logp_ref, &b->kl_coef};
    for (int c = 0; c < 5; c++)
        *cols[c] = cg_realloc(*cols[c], (size_t)n, sizeof(float));
    int32_t i = 0, n_ep = 0;
    int32_t *len = cg_calloc((size_t)n, sizeof(int32_t));
    while (i < n) {
        int32_t l = 1 + (int32_t)cg_rng_below(rng, 8);
        len[n_ep++] = l < n - i ? l : n - i;
        i += len[n_ep - 1];
    }
    const double uniform = -log((double)n_actions);
    i = 0;
    for (int32_t e = 0; e < n_ep; e++) {
        float adv = (float)cg_rng_normal(rng);
        for (int32_t s = 0; s < len[e]; s++, i++) {
            for (int32_t j = 0; j < obs_dim; j++)
                b->obs[(size_t)i * obs_dim + j] = (float)cg_rng_normal(rng);
            b->action[i] = (int32_t)cg_rng_below(rng, (uint64_t)n_actions);
            b->logp_old[i] = (float)(uniform + 0.3 * cg_rng_normal(rng));
            if (i % 97 == 96) /* a wrong behaviour log-prob: the bounded log-ratio */
                b->logp_old[i] = -120.0f;
            b->logp_ref[i] = (float)(uniform + 0.3 * cg_rng_normal(rng));
            b->kl_coef[i] = adv < 0 ? 0.025f : 0.01f;
            b->adv[i] = adv;
            b->weight[i] = 1.0f / (float)(len[e] * n_ep);
        }
    }
    free(len);
    memset(&b->mb, 0, sizeof(b->mb));
    b->mb.n = n;
    b->mb.obs = b->obs;
    b->mb.action = b->action;
    b->mb.logp_old = b->logp_old;
    b->mb.adv = b->adv;
    b->mb.weight = b->weight;
}

/* Turns b (filled for n rows) into a Gaussian head's minibatch: actions ~ N(0, 0.6^2) per
 * dimension, behaviour log-densities those of N(0, e^-0.5) plus noise (every 97th -120, as
 * above), reference ones likewise. */
static void s_batch_gaussian(batch_t *b, cg_rng_t *rng, int32_t n)
{
    const int32_t A = b->n_actions;
    b->action_f = cg_realloc(b->action_f, (size_t)n * (size_t)A, sizeof(float));
    float zero[64] = {0}, ls[64];
    CG_ASSERT(A <= 64);
    for (int32_t d = 0; d < A; d++)
        ls[d] = -0.5f;
    for (int32_t i = 0; i < n; i++) {
        float *a = b->action_f + (size_t)i * (size_t)A;
        for (int32_t d = 0; d < A; d++)
            a[d] = (float)(0.6 * cg_rng_normal(rng));
        const double lp = cg_policy_gaussian_logp(zero, ls, A, a);
        b->logp_old[i] = i % 97 == 96 ? -120.0f : (float)(lp + 0.3 * cg_rng_normal(rng));
        b->logp_ref[i] = (float)(lp + 0.3 * cg_rng_normal(rng));
    }
    b->mb.action = NULL;
    b->mb.action_f = b->action_f;
}

static void s_batch_free(batch_t *b)
{
    free(b->obs);
    free(b->action);
    free(b->action_f);
    free(b->logp_old);
    free(b->adv);
    free(b->weight);
    free(b->logp_ref);
    free(b->kl_coef);
    memset(b, 0, sizeof(*b));
}

static double s_absmax(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* ||got - want|| / ||want|| in double (0 when both are 0). */
static double s_rel_l2(const float *got, const float *want, size_t n)
{
    double d = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        w += (double)want[i] * want[i];
    }
    return d == 0 ? 0 : w > 0 ? sqrt(d / w) : INFINITY;
}

/* Elementwise |got - want| <= abs + rel |want| for all but `budget` elements; prints the
 * number of misses and the worst one. 1 when within budget. */
static int s_close(const char *what, const float *got, const float *want, size_t n, double rel,
                   double abs_tol, size_t budget)
{
    size_t misses = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double tol = abs_tol + rel * fabs((double)want[i]);
        if (!(d <= tol))
            misses++;
        double excess = isfinite(d) ? d - tol : INFINITY;
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (misses > budget || worst_excess > 0)
        printf("\n    %s: %zu of %zu outside tolerance (budget %zu); worst [%zu] cuda %.9g cpu "
               "%.9g",
               what, misses, n, budget, worst, (double)got[worst], (double)want[worst]);
    return misses <= budget;
}

static size_t s_budget(size_t n)
{
    return n / 1000 > 2 ? n / 1000 : 2;
}

static int s_near(double got, double want, double rel, double abs_tol)
{
    int ok = fabs(got - want) <= abs_tol + rel * fabs(want);
    if (!ok)
        printf("\n    cuda %.12g vs cpu %.12g", got, want);
    return ok;
}

typedef struct {
    int32_t obs_dim, n_actions, n_hidden, hidden[3];
    cg_activation_t act;
    int32_t n; /* steps per minibatch */
} case_t;

/* obs, actions, hidden layers, widths, activation, steps per minibatch */
/* clang-format off */
static const case_t s_cases[] = {
    { 5,  4, 2, {16, 8},         CG_ACT_TANH,   40},
    {17,  9, 2, {64, 64},        CG_ACT_RELU, 1000},
    { 3,  2, 0, {0},             CG_ACT_TANH,  257},
    {33, 31, 3, {256, 128, 64},  CG_ACT_TANH, 3000},
    { 8,  5, 2, {512, 512},      CG_ACT_RELU, 4096},
};
/* clang-format on */
#define N_ALL_CASES ((int)(sizeof(s_cases) / sizeof(s_cases[0])))

/* The shape cases to run: all, or the first CG_TEST_CUDA_CASES (1..all) — the host
 * emulation's quick CI entry skips the largest, which takes it minutes. */
static int s_n_cases(void)
{
    const char *v = getenv("CG_TEST_CUDA_CASES");
    int n = v ? atoi(v) : N_ALL_CASES;
    return n >= 1 && n <= N_ALL_CASES ? n : N_ALL_CASES;
}
#define N_CASES s_n_cases()

static cg_policy_shape_t s_shape(const case_t *c)
{
    cg_policy_shape_t shape = {.obs_dim = c->obs_dim,
                               .n_actions = c->n_actions,
                               .n_hidden = c->n_hidden,
                               .activation = c->act};
    for (int32_t l = 0; l < c->n_hidden; l++)
        shape.hidden[l] = c->hidden[l];
    return shape;
}

static cg_backend_t *s_new(cg_device_t device, const cg_policy_shape_t *shape,
                           const cg_adam_config_t *adam, uint64_t seed)
{
    char err[512];
    cg_backend_t *be = cg_backend_new(device, shape, adam, seed, err, sizeof(err));
    if (!be)
        printf("\n  cg_backend_new: %s\n", err);
    return be;
}

/* Same seed, same parameters bit for bit; the forward agrees over growing and shrinking
 * row counts, at the initial (near-uniform) parameters and at larger random ones. */
static void test_cuda_forward(void)
{
    for (int k = 0; k < N_CASES; k++) {
        cg_policy_shape_t shape = s_shape(&s_cases[k]);
        cg_backend_t *cpu = s_new(CG_DEVICE_CPU, &shape, &s_adam, 100 + (uint64_t)k);
        cg_backend_t *gpu = s_new(CG_DEVICE_CUDA, &shape, &s_adam, 100 + (uint64_t)k);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cpu);
        CU_ASSERT_PTR_NOT_NULL_FATAL(gpu);
        CU_ASSERT_STRING_EQUAL(cg_backend_name(gpu), "cuda");
        size_t np = cg_backend_n_params(cpu);
        CU_ASSERT_EQUAL(cg_backend_n_params(gpu), np);
        float *p = cg_calloc(np, sizeof(float)), *q = cg_calloc(np, sizeof(float));
        CU_ASSERT_EQUAL(cg_backend_get_params(cpu, p), CG_OK);
        CU_ASSERT_EQUAL(cg_backend_get_params(gpu, q), CG_OK);
        CU_ASSERT(memcmp(p, q, np * sizeof(float)) == 0);

        cg_rng_t rng;
        cg_rng_seed(&rng, 7, (uint64_t)k);
        batch_t b = {0};
        const int32_t rows[4] = {1, 37, s_cases[k].n, 20};
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) { /* random parameters, logits of order 1-10 */
                for (size_t i = 0; i < np; i++)
                    p[i] = (float)(0.3 * cg_rng_normal(&rng));
                CU_ASSERT_EQUAL(cg_backend_set_params(cpu, p), CG_OK);
                CU_ASSERT_EQUAL(cg_backend_set_params(gpu, p), CG_OK);
            }
            for (int r = 0; r < 4; r++) {
                int32_t n = rows[r];
                s_batch_fill(&b, &rng, n, shape.obs_dim, shape.n_actions);
                size_t nl = (size_t)n * (size_t)shape.n_actions;
                float *lc = cg_calloc(nl, sizeof(float)), *lg = cg_calloc(nl, sizeof(float));
                CU_ASSERT_EQUAL(cg_backend_forward(cpu, b.obs, n, lc), CG_OK);
                CU_ASSERT_EQUAL(cg_backend_forward(gpu, b.obs, n, lg), CG_OK);
                double scale = s_absmax(lc, nl) > 1 ? s_absmax(lc, nl) : 1;
                CU_ASSERT(s_close("logits", lg, lc, nl, 1e-4, 1e-5 * scale, 0));
                free(lg);
                free(lc);
            }
        }
        s_batch_free(&b);
        free(q);
        free(p);
        cg_backend_destroy(&gpu);
        cg_backend_destroy(&cpu);
    }
}

/* The loss variants: none, config beta + entropy, per-step beta + entropy, per-step beta
 * with a tighter clip. */
static void s_loss_variant(int v, batch_t *b, cg_loss_config_t *lc)
{
    const cg_loss_config_t cfgs[4] = {
        {.clip_eps = 0.2f},
        {.clip_eps = 0.2f, .kl_coef = 0.05f, .ent_coef = 0.01f},
        {.clip_eps = 0.2f, .ent_coef = 0.01f},
        {.clip_eps = 0.1f},
    };
    *lc = cfgs[v];
    b->mb.logp_ref = v == 0 ? NULL : b->logp_ref;
    b->mb.kl_coef = v >= 2 ? b->kl_coef : NULL;
}

static int s_stats_close(const cg_update_stats_t *g, const cg_update_stats_t *c, int32_t n)
{
    int ok = 1;
    ok &= s_near(g->loss.loss, c->loss.loss, 1e-4, 1e-5);
    ok &= s_near(g->loss.pg_loss, c->loss.pg_loss, 1e-4, 1e-5);
    ok &= s_near(g->loss.kl, c->loss.kl, 1e-4, 1e-5);
    ok &= s_near(g->loss.entropy, c->loss.entropy, 1e-4, 1e-5);
    ok &= s_near(g->loss.approx_kl, c->loss.approx_kl, 1e-4, 1e-5);
    ok &= s_near(g->loss.clip_frac, c->loss.clip_frac, 0, 2.5 / n); /* <= 2 ratio ties */
    ok &= s_near(g->grad_norm, c->grad_norm, 1e-4, 1e-5);
    return ok;
}

/* Five updates on fresh minibatches through both backends: statistics every step; Adam
 * state and parameters after the first and the fifth. Every case x loss variant, with and
 * without gradient clipping. */
static void test_cuda_update(void)
{
    batch_t b = {0};
    for (int k = 0; k < N_CASES; k++) {
        for (int v = 0; v < 4; v++) {
            cg_policy_shape_t shape = s_shape(&s_cases[k]);
            cg_adam_config_t adam = s_adam;
            adam.max_grad_norm = (v & 1) ? 0.05f : 0.0f; /* clips in some cases */
            uint64_t seed = 1000 + 10 * (uint64_t)k + (uint64_t)v;
            cg_backend_t *cpu = s_new(CG_DEVICE_CPU, &shape, &adam, seed);
            cg_backend_t *gpu = s_new(CG_DEVICE_CUDA, &shape, &adam, seed);
            CU_ASSERT_PTR_NOT_NULL_FATAL(cpu);
            CU_ASSERT_PTR_NOT_NULL_FATAL(gpu);
            size_t np = cg_backend_n_params(cpu);
            float *pc = cg_calloc(np, sizeof(float)), *pg = cg_calloc(np, sizeof(float));
            float *mc = cg_calloc(np, sizeof(float)), *mg = cg_calloc(np, sizeof(float));
            float *vc = cg_calloc(np, sizeof(float)), *vg = cg_calloc(np, sizeof(float));
            float *p0 = cg_calloc(np, sizeof(float));
            CU_ASSERT_EQUAL(cg_backend_get_params(cpu, p0), CG_OK);
            cg_rng_t rng;
            cg_rng_seed(&rng, seed, 1);
            printf("\n  case %d (%d layers, n %d, %s) loss %d:", k, (int)shape.n_hidden + 1,
                   (int)s_cases[k].n, shape.activation == CG_ACT_RELU ? "relu" : "tanh", v);
            for (int step = 1; step <= 5; step++) {
                cg_loss_config_t lc;
                s_batch_fill(&b, &rng, s_cases[k].n, shape.obs_dim, shape.n_actions);
                s_loss_variant(v, &b, &lc);
                cg_update_stats_t sc, sg;
                CU_ASSERT_EQUAL_FATAL(cg_backend_update(cpu, &b.mb, &lc, &sc), CG_OK);
                CU_ASSERT_EQUAL_FATAL(cg_backend_update(gpu, &b.mb, &lc, &sg), CG_OK);
                CU_ASSERT(s_stats_close(&sg, &sc, b.mb.n));
                if (step != 1 && step != 5)
                    continue;
                int64_t tc = -1, tg = -2;
                CU_ASSERT_EQUAL(cg_backend_get_params(cpu, pc), CG_OK);
                CU_ASSERT_EQUAL(cg_backend_get_params(gpu, pg), CG_OK);
                CU_ASSERT_EQUAL(cg_backend_get_optim(cpu, mc, vc, &tc), CG_OK);
                CU_ASSERT_EQUAL(cg_backend_get_optim(gpu, mg, vg, &tg), CG_OK);
                CU_ASSERT_EQUAL(tc, step);
                CU_ASSERT_EQUAL(tg, step);
                if (step == 1) {
                    CU_ASSERT(s_close("params", pg, pc, np, 1e-4, 1e-5, s_budget(np)));
                    CU_ASSERT(
                        s_close("adam m", mg, mc, np, 1e-4, 1e-5 * s_absmax(mc, np), s_budget(np)));
                    CU_ASSERT(
                        s_close("adam v", vg, vc, np, 1e-4, 1e-5 * s_absmax(vc, np), s_budget(np)));
                    printf(" step 1 ok;");
                    continue;
                }
                const double tol = shape.activation == CG_ACT_RELU ? 5e-2 : 1e-3;
                for (size_t i = 0; i < np; i++) { /* parameter changes over the 5 steps */
                    pc[i] -= p0[i];
                    pg[i] -= p0[i];
                }
                double ep = s_rel_l2(pg, pc, np), em = s_rel_l2(mg, mc, np);
                double ev = s_rel_l2(vg, vc, np);
                printf(" step 5 relative errors: change %.2g, m %.2g, v %.2g", ep, em, ev);
                CU_ASSERT(ep <= tol && em <= tol && ev <= tol);
            }
            free(p0);
            free(vg);
            free(vc);
            free(mg);
            free(mc);
            free(pg);
            free(pc);
            cg_backend_destroy(&gpu);
            cg_backend_destroy(&cpu);
        }
    }
    s_batch_free(&b);
    printf("\n");
}

/* The Gaussian head (continuous actions): the same comparison as test_cuda_update, with
 * its tolerances, on two shapes (one the navigation simulator's), each loss variant, the
 * log-std gradient summed over the rows on the device; and a log-std past its bound gets
 * no update on either backend. */
static void test_cuda_gaussian(void)
{
    static const case_t cases[] = {{5, 2, 2, {16, 8}, CG_ACT_TANH, 40},
                                   {26, 2, 2, {64, 64}, CG_ACT_TANH, 1000},
                                   {7, 3, 1, {32}, CG_ACT_RELU, 300}};
    batch_t b = {0};
    for (int k = 0; k < 3; k++) {
        for (int v = 0; v < 4; v++) {
            cg_policy_shape_t shape = s_shape(&cases[k]);
            shape.head = CG_HEAD_GAUSSIAN;
            shape.log_std_init = -0.5f;
            uint64_t seed = 5000 + 10 * (uint64_t)k + (uint64_t)v;
            cg_backend_t *cpu = s_new(CG_DEVICE_CPU, &shape, &s_adam, seed);
            cg_backend_t *gpu = s_new(CG_DEVICE_CUDA, &shape, &s_adam, seed);
            CU_ASSERT_PTR_NOT_NULL_FATAL(cpu);
            CU_ASSERT_PTR_NOT_NULL_FATAL(gpu);
            const size_t np = cg_backend_n_params(cpu);
            CU_ASSERT_EQUAL_FATAL(cg_backend_n_params(gpu), np);
            float *pc = cg_calloc(np, sizeof(float)), *pg = cg_calloc(np, sizeof(float));
            float *p0 = cg_calloc(np, sizeof(float));
            CU_ASSERT_EQUAL(cg_backend_get_params(cpu, p0), CG_OK);
            if (v == 3) { /* a log-std past its bound: no gradient, no update */
                p0[np - 1] = 3.0f;
                CU_ASSERT_EQUAL(cg_backend_set_params(cpu, p0), CG_OK);
                CU_ASSERT_EQUAL(cg_backend_set_params(gpu, p0), CG_OK);
            }
            cg_rng_t rng;
            cg_rng_seed(&rng, seed, 1);
            printf("\n  gaussian case %d (%d layers, n %d, A %d) loss %d:", k,
                   (int)shape.n_hidden + 1, (int)cases[k].n, (int)shape.n_actions, v);
            for (int step = 1; step <= 5; step++) {
                cg_loss_config_t lc;
                s_batch_fill(&b, &rng, cases[k].n, shape.obs_dim, shape.n_actions);
                s_batch_gaussian(&b, &rng, cases[k].n);
                s_loss_variant(v, &b, &lc);
                cg_update_stats_t sc, sg;
                CU_ASSERT_EQUAL_FATAL(cg_backend_update(cpu, &b.mb, &lc, &sc), CG_OK);
                CU_ASSERT_EQUAL_FATAL(cg_backend_update(gpu, &b.mb, &lc, &sg), CG_OK);
                CU_ASSERT(s_stats_close(&sg, &sc, b.mb.n));
                CU_ASSERT_EQUAL(cg_backend_get_params(cpu, pc), CG_OK);
                CU_ASSERT_EQUAL(cg_backend_get_params(gpu, pg), CG_OK);
                if (step == 1) {
                    CU_ASSERT(s_close("params", pg, pc, np, 1e-4, 1e-5, s_budget(np)));
                    CU_ASSERT(s_close("log_std", pg + np - shape.n_actions,
                                      pc + np - shape.n_actions, (size_t)shape.n_actions, 1e-4,
                                      1e-5, 0));
                }
                if (v == 3) {
                    CU_ASSERT_EQUAL(pc[np - 1], 3.0f);
                    CU_ASSERT_EQUAL(pg[np - 1], 3.0f);
                }
            }
            for (size_t i = 0; i < np; i++) { /* parameter changes over the 5 steps */
                pc[i] -= p0[i];
                pg[i] -= p0[i];
            }
            const double ep = s_rel_l2(pg, pc, np);
            printf(" step 5 relative error of the change %.2g", ep);
            CU_ASSERT(ep <= (shape.activation == CG_ACT_RELU ? 5e-2 : 1e-3));
            free(p0);
            free(pg);
            free(pc);
            cg_backend_destroy(&gpu);
            cg_backend_destroy(&cpu);
        }
    }
    s_batch_free(&b);
    printf("\n");
}

/* One pair of backends through minibatches whose sizes grow past the CUDA backend's row
 * capacity and fall below it (1 to 3000 rows, either side of the 256-step loss blocks), so
 * its row buffers, loss partials and norm partials are regrown between updates: statistics
 * every update, and the parameter change so far (tanh tolerance of test_cuda_update). */
static void test_cuda_rows(void)
{
    const case_t *c = &s_cases[0];
    cg_policy_shape_t shape = s_shape(c);
    cg_adam_config_t adam = s_adam;
    adam.max_grad_norm = 0.05f;
    cg_backend_t *cpu = s_new(CG_DEVICE_CPU, &shape, &adam, 77);
    cg_backend_t *gpu = s_new(CG_DEVICE_CUDA, &shape, &adam, 77);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cpu);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gpu);
    size_t np = cg_backend_n_params(cpu);
    float *p0 = cg_calloc(np, sizeof(float));
    float *pc = cg_calloc(np, sizeof(float)), *pg = cg_calloc(np, sizeof(float));
    CU_ASSERT_EQUAL(cg_backend_get_params(cpu, p0), CG_OK);
    cg_rng_t rng;
    cg_rng_seed(&rng, 31, 0);
    batch_t b = {0};
    const int32_t rows[] = {40, 1000, 7, 3000, 1, 257, 256};
    for (int r = 0; r < (int)(sizeof(rows) / sizeof(rows[0])); r++) {
        cg_loss_config_t lc;
        s_batch_fill(&b, &rng, rows[r], shape.obs_dim, shape.n_actions);
        s_loss_variant(r % 4, &b, &lc);
        cg_update_stats_t sc, sg;
        CU_ASSERT_EQUAL_FATAL(cg_backend_update(cpu, &b.mb, &lc, &sc), CG_OK);
        CU_ASSERT_EQUAL_FATAL(cg_backend_update(gpu, &b.mb, &lc, &sg), CG_OK);
        CU_ASSERT(s_stats_close(&sg, &sc, rows[r]));
        CU_ASSERT_EQUAL(cg_backend_get_params(cpu, pc), CG_OK);
        CU_ASSERT_EQUAL(cg_backend_get_params(gpu, pg), CG_OK);
        for (size_t i = 0; i < np; i++) {
            pc[i] -= p0[i];
            pg[i] -= p0[i];
        }
        double ep = s_rel_l2(pg, pc, np);
        if (!(ep <= 1e-3))
            printf("\n    %d rows: relative error of the parameter change %.2g", (int)rows[r], ep);
        CU_ASSERT(ep <= 1e-3);
    }
    s_batch_free(&b);
    free(pg);
    free(pc);
    free(p0);
    cg_backend_destroy(&gpu);
    cg_backend_destroy(&cpu);
}

/* set/get of parameters and Adam state are exact; a CPU backend's state moved into the
 * CUDA backend continues as the CPU one does; a NaN advantage changes nothing and returns
 * CG_ERR_NONFINITE as on the CPU; the transfer counters count. */
static void test_cuda_state(void)
{
    const case_t *c = &s_cases[1];
    cg_policy_shape_t shape = s_shape(c);
    cg_backend_t *cpu = s_new(CG_DEVICE_CPU, &shape, &s_adam, 5);
    cg_backend_t *gpu = s_new(CG_DEVICE_CUDA, &shape, &s_adam, 6); /* other initial weights */
    CU_ASSERT_PTR_NOT_NULL_FATAL(cpu);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gpu);
    size_t np = cg_backend_n_params(cpu);
    float *p = cg_calloc(np, sizeof(float)), *q = cg_calloc(np, sizeof(float));
    float *m = cg_calloc(np, sizeof(float)), *v = cg_calloc(np, sizeof(float));
    float *m2 = cg_calloc(np, sizeof(float)), *v2 = cg_calloc(np, sizeof(float));
    cg_rng_t rng;
    cg_rng_seed(&rng, 99, 0);
    batch_t b = {0};
    cg_loss_config_t lc = {.clip_eps = 0.2f, .ent_coef = 0.01f};

    for (size_t i = 0; i < np; i++) {
        p[i] = (float)cg_rng_normal(&rng);
        m[i] = (float)(1e-3 * cg_rng_normal(&rng));
        v[i] = (float)(1e-6 * cg_rng_uniform(&rng));
    }
    CU_ASSERT_EQUAL(cg_backend_set_params(gpu, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(gpu, q), CG_OK);
    CU_ASSERT(memcmp(p, q, np * sizeof(float)) == 0);
    CU_ASSERT_EQUAL(cg_backend_set_optim(gpu, m, v, 41), CG_OK);
    int64_t steps = 0;
    CU_ASSERT_EQUAL(cg_backend_get_optim(gpu, m2, v2, &steps), CG_OK);
    CU_ASSERT(memcmp(m, m2, np * sizeof(float)) == 0);
    CU_ASSERT(memcmp(v, v2, np * sizeof(float)) == 0);
    CU_ASSERT_EQUAL(steps, 41);

    /* CPU state after 3 updates -> CUDA; one more update each. */
    for (int k = 0; k < 3; k++) {
        s_batch_fill(&b, &rng, c->n, shape.obs_dim, shape.n_actions);
        CU_ASSERT_EQUAL(cg_backend_update(cpu, &b.mb, &lc, NULL), CG_OK);
    }
    CU_ASSERT_EQUAL(cg_backend_get_params(cpu, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_optim(cpu, m, v, &steps), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_set_params(gpu, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_set_optim(gpu, m, v, steps), CG_OK);
    s_batch_fill(&b, &rng, c->n, shape.obs_dim, shape.n_actions);
    CU_ASSERT_EQUAL(cg_backend_update(cpu, &b.mb, &lc, NULL), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_update(gpu, &b.mb, &lc, NULL), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(cpu, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(gpu, q), CG_OK);
    CU_ASSERT(s_close("params after transplant", q, p, np, 1e-4, 1e-5, s_budget(np)));
    CU_ASSERT_EQUAL(cg_backend_get_optim(cpu, m, v, &steps), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_optim(gpu, m2, v2, &steps), CG_OK);
    CU_ASSERT_EQUAL(steps, 4);
    CU_ASSERT(
        s_close("adam m after transplant", m2, m, np, 1e-4, 1e-5 * s_absmax(m, np), s_budget(np)));
    CU_ASSERT(
        s_close("adam v after transplant", v2, v, np, 1e-4, 1e-5 * s_absmax(v, np), s_budget(np)));

    /* NaN advantage: CG_ERR_NONFINITE, nothing changes, grad_norm 0 as on the CPU. */
    b.adv[3] = NAN;
    cg_update_stats_t sc, sg;
    CU_ASSERT_EQUAL(cg_backend_update(cpu, &b.mb, &lc, &sc), CG_ERR_NONFINITE);
    CU_ASSERT_EQUAL(cg_backend_update(gpu, &b.mb, &lc, &sg), CG_ERR_NONFINITE);
    CU_ASSERT(isnan(sg.loss.loss));
    CU_ASSERT_EQUAL(sg.grad_norm, sc.grad_norm);
    CU_ASSERT_EQUAL(cg_backend_get_params(gpu, p), CG_OK);
    CU_ASSERT(memcmp(p, q, np * sizeof(float)) == 0);
    CU_ASSERT_EQUAL(cg_backend_get_optim(gpu, m, v, &steps), CG_OK);
    CU_ASSERT(memcmp(m, m2, np * sizeof(float)) == 0);
    CU_ASSERT(memcmp(v, v2, np * sizeof(float)) == 0);
    CU_ASSERT_EQUAL(steps, 4);
    b.adv[3] = 1.0f;
    b.action[0] = shape.n_actions; /* bad input is caught before the device */
    CU_ASSERT_EQUAL(cg_backend_update(gpu, &b.mb, &lc, NULL), CG_ERR_RANGE);

    /* Transfer counters: one upload per update that ran, one download per get_params. */
    cg_backend_cuda_transfer_t x;
    CU_ASSERT_EQUAL(cg_backend_cuda_transfer(cpu, &x, 0), CG_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(cg_backend_cuda_transfer(gpu, &x, 1), CG_OK);
    CU_ASSERT_EQUAL(x.n_uploads, 2);
    CU_ASSERT_EQUAL(x.n_downloads, 3);
    CU_ASSERT(x.upload_ms > 0 && x.download_ms > 0);
    CU_ASSERT_EQUAL(cg_backend_cuda_transfer(gpu, &x, 0), CG_OK);
    CU_ASSERT_EQUAL(x.n_uploads + x.n_downloads, 0);

    s_batch_free(&b);
    free(v2);
    free(m2);
    free(v);
    free(m);
    free(q);
    free(p);
    cg_backend_destroy(&gpu);
    cg_backend_destroy(&cpu);
}

/* p(action) under a backend's current policy at one observation. */
static double s_prob(cg_backend_t *be, const float *obs, int32_t n_actions, int32_t a, float *lg)
{
    CU_ASSERT_EQUAL(cg_backend_forward(be, obs, 1, lg), CG_OK);
    double mx = lg[0], z = 0;
    for (int32_t j = 1; j < n_actions; j++)
        mx = lg[j] > mx ? lg[j] : mx;
    for (int32_t j = 0; j < n_actions; j++)
        z += exp(lg[j] - mx);
    return exp(lg[a] - mx) / z;
}

/* A short training run: the 4-armed bandit of test_backend (arm 3 pays), group-normalised
 * advantages, trained on each backend with the same sampling stream; both converge. */
static void test_cuda_bandit(void)
{
    const case_t *c = &s_cases[0];
    cg_policy_shape_t shape = s_shape(c);
    const float obs[5] = {1.0f, 0.5f, -0.5f, 0.0f, 0.25f};
    const int32_t g = 16, n_act = 4;
    double p_end[2];
    for (int dev = 0; dev < 2; dev++) {
        cg_backend_t *be = s_new(dev ? CG_DEVICE_CUDA : CG_DEVICE_CPU, &shape, &s_adam, 21);
        CU_ASSERT_PTR_NOT_NULL_FATAL(be);
        cg_rng_t rng;
        cg_rng_seed(&rng, 123, 0);
        batch_t b = {0};
        s_batch_fill(&b, &rng, g, shape.obs_dim, n_act);
        cg_loss_config_t lc = {.clip_eps = 0.2f};
        float lg[4];
        for (int it = 0; it < 150; it++) {
            (void)s_prob(be, obs, n_act, 3, lg);
            double mx = lg[0], z = 0;
            for (int32_t j = 1; j < n_act; j++)
                mx = lg[j] > mx ? lg[j] : mx;
            for (int32_t j = 0; j < n_act; j++)
                z += exp(lg[j] - mx);
            double r[16], mean = 0, var = 0;
            for (int32_t i = 0; i < g; i++) {
                double u = cg_rng_uniform(&rng), cum = 0;
                int32_t a = n_act - 1;
                for (int32_t j = 0; j < n_act; j++) {
                    cum += exp(lg[j] - mx) / z;
                    if (u < cum) {
                        a = j;
                        break;
                    }
                }
                memcpy(b.obs + i * 5, obs, sizeof(obs));
                b.action[i] = a;
                b.logp_old[i] = (float)(lg[a] - mx - log(z));
                b.weight[i] = 1.0f / (float)g;
                r[i] = a == 3 ? 1.0 : 0.0;
                mean += r[i] / g;
            }
            for (int32_t i = 0; i < g; i++)
                var += (r[i] - mean) * (r[i] - mean) / g;
            for (int32_t i = 0; i < g; i++)
                b.adv[i] = (float)((r[i] - mean) / (sqrt(var) + 1e-8));
            for (int e = 0; e < 2; e++)
                CU_ASSERT_EQUAL_FATAL(cg_backend_update(be, &b.mb, &lc, NULL), CG_OK);
        }
        p_end[dev] = s_prob(be, obs, n_act, 3, lg);
        s_batch_free(&b);
        cg_backend_destroy(&be);
    }
    printf(" p(arm 3) cpu %.4f cuda %.4f ", p_end[0], p_end[1]);
    CU_ASSERT(p_end[0] > 0.95);
    CU_ASSERT(p_end[1] > 0.95);
}

/* Without a device: device=cuda is an error naming the reason with a hint (no fallback),
 * and the transfer counters are unsupported on a CPU backend. 1 when all hold. */
static int s_check_no_device(void)
{
    cg_policy_shape_t shape = s_shape(&s_cases[0]);
    char err[512] = "";
    cg_backend_t *be = cg_backend_new(CG_DEVICE_CUDA, &shape, &s_adam, 1, err, sizeof(err));
    int ok = be == NULL && strstr(err, "no CUDA device is available") && strstr(err, "hint:");
    printf("device=cuda without a device: %s\n", err);
    cg_backend_destroy(&be);
    be = cg_backend_new(CG_DEVICE_AUTO, &shape, &s_adam, 1, err, sizeof(err));
    ok = ok && be && strcmp(cg_backend_name(be), "cpu") == 0;
    cg_backend_cuda_transfer_t x;
    ok = ok && be && cg_backend_cuda_transfer(be, &x, 0) == CG_ERR_UNSUPPORTED;
    cg_backend_destroy(&be);
    return ok;
}

/* CG_CUDA_MODULE pointing nowhere: device=cuda names the module, the loader's reason and a
 * hint; device=auto falls back to the CPU. The variable is restored. 1 when all hold. */
static int s_check_missing_module(void)
{
    const char *old = getenv("CG_CUDA_MODULE");
    char *saved = old ? cg_strdup(old) : NULL;
    const char *missing = "/nonexistent/libcg_cuda.so";
    setenv("CG_CUDA_MODULE", missing, 1);
    cg_policy_shape_t shape = s_shape(&s_cases[0]);
    char err[1024] = "";
    cg_backend_t *be = cg_backend_new(CG_DEVICE_CUDA, &shape, &s_adam, 1, err, sizeof(err));
    int ok = be == NULL && strstr(err, "CUDA backend module") && strstr(err, missing) &&
             strstr(err, "cannot be loaded") && strstr(err, "hint:");
    printf("device=cuda without its module: %s\n", err);
    cg_backend_destroy(&be);
    be = cg_backend_new(CG_DEVICE_AUTO, &shape, &s_adam, 1, err, sizeof(err));
    ok = ok && be && strcmp(cg_backend_name(be), "cpu") == 0;
    cg_backend_destroy(&be);
    if (saved)
        setenv("CG_CUDA_MODULE", saved, 1);
    else
        unsetenv("CG_CUDA_MODULE");
    free(saved);
    return ok;
}

/* The suite runs where a CUDA backend can be created. A module that cannot be loaded is a
 * failure in a build with CUDA (the module is built with this test); no device is a skip. */
int main(void)
{
    if (!s_check_missing_module()) {
        printf("FAILED: a missing CUDA module did not fail as documented\n");
        return 1;
    }
    cg_policy_shape_t shape = s_shape(&s_cases[0]);
    char err[512] = "";
    cg_backend_t *probe = cg_backend_new(CG_DEVICE_CUDA, &shape, &s_adam, 1, err, sizeof(err));
    const int have_device = probe != NULL;
    cg_backend_destroy(&probe);
    if (!have_device && !strstr(err, "no CUDA device is available")) {
        printf("FAILED: cannot create a CUDA backend: %s\n", err);
        return 1;
    }
    if (!have_device) {
        char reason[600];
        snprintf(reason, sizeof(reason), "%s", err);
        if (!s_check_no_device()) {
            printf("FAILED: device=cuda without a device did not fail as documented\n");
            return 1;
        }
        cg_test_skip(reason);
    }
    CU_TestInfo tests[] = {
        {"forward", test_cuda_forward},
        {"update", test_cuda_update},
        {"rows", test_cuda_rows},
        {"state", test_cuda_state},
        {"bandit", test_cuda_bandit},
        {"gaussian", test_cuda_gaussian},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("backend_cuda", tests, NULL, NULL);
}
