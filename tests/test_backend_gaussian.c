/* test_backend_gaussian: the CPU backend with a Gaussian head. The arena holds log_std after
 * the MLP, initialised to log_std_init; an update equals the manual composition policy ->
 * cg_loss_gaussian_compute -> backward -> Adam bit for bit; a log_std past its bound gets no
 * gradient; rows split over threads agree with one thread; and group-relative updates solve
 * a continuous bandit (the mean moves to the best action, the spread shrinks). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_adam.h"
#include "cg_backend.h"
#include "cg_rng.h"
#include "cg_test.h"

#define OBS 3
#define DIM 2
#define MAXN 64

static cg_policy_shape_t s_shape(void)
{
    cg_policy_shape_t shape = {.obs_dim = OBS,
                               .n_actions = DIM,
                               .n_hidden = 1,
                               .activation = CG_ACT_TANH,
                               .head = CG_HEAD_GAUSSIAN,
                               .log_std_init = -0.5f};
    shape.hidden[0] = 8;
    return shape;
}

static const cg_adam_config_t s_adam = {
    .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .max_grad_norm = 0.5f};
static const cg_loss_config_t s_loss = {.clip_eps = 0.2f, .kl_coef = 0.0f, .ent_coef = 0.01f};

typedef struct {
    float obs[MAXN * OBS], action[MAXN * DIM];
    float logp_old[MAXN], adv[MAXN], weight[MAXN], logp_ref[MAXN];
    cg_minibatch_t mb;
} batch_t;

/* n steps of one-step episodes, actions drawn around 0, a KL reference. */
static void s_make_batch(cg_rng_t *rng, batch_t *b, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < OBS; j++)
            b->obs[i * OBS + j] = (float)cg_rng_normal(rng);
        for (int32_t d = 0; d < DIM; d++)
            b->action[i * DIM + d] = (float)(0.6 * cg_rng_normal(rng));
        b->logp_old[i] = (float)(-1.2 + 0.3 * cg_rng_normal(rng));
        b->logp_ref[i] = (float)(-1.2 + 0.3 * cg_rng_normal(rng));
        b->adv[i] = (float)cg_rng_normal(rng);
        b->weight[i] = 1.0f / (float)n;
    }
    memset(&b->mb, 0, sizeof b->mb);
    b->mb.n = n;
    b->mb.obs = b->obs;
    b->mb.action_f = b->action;
    b->mb.logp_old = b->logp_old;
    b->mb.adv = b->adv;
    b->mb.weight = b->weight;
    b->mb.logp_ref = b->logp_ref;
}

static cg_backend_t *s_cpu(uint64_t seed)
{
    cg_policy_shape_t shape = s_shape();
    char err[256] = "";
    cg_backend_t *be = cg_backend_new(CG_DEVICE_CPU, &shape, &s_adam, seed, err, sizeof err);
    if (!be)
        printf("\n  cg_backend_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    return be;
}

/* The arena: the MLP's (OBS*8 + 8) + (8*DIM + DIM) floats, then DIM log_std = -0.5. */
static void test_gaussian_arena(void)
{
    cg_policy_shape_t shape = s_shape();
    const size_t mlp = OBS * 8 + 8 + 8 * DIM + DIM;
    CU_ASSERT_EQUAL(cg_policy_shape_log_std_offset(&shape), mlp);
    CU_ASSERT_EQUAL(cg_policy_shape_n_params(&shape), mlp + DIM);
    cg_policy_t *p = cg_policy_new(&shape, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(cg_policy_params(p)[mlp], -0.5f);
    CU_ASSERT_EQUAL(cg_policy_params(p)[mlp + 1], -0.5f);
    cg_policy_destroy(&p);
    shape.head = CG_HEAD_CATEGORICAL; /* the same network, no log_std */
    CU_ASSERT_EQUAL(cg_policy_shape_n_params(&shape), mlp);
    shape.head = (cg_head_t)7;
    CU_ASSERT_EQUAL(cg_policy_shape_n_params(&shape), 0);
}

/* One update = forward, cg_loss_gaussian_compute, backward, log_std's gradient, Adam. */
static void test_gaussian_matches_composition(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 9, 0);
    static batch_t b;
    s_make_batch(&rng, &b, 40);
    cg_backend_t *be = s_cpu(5);
    cg_policy_shape_t shape = s_shape();
    cg_policy_t *pol = cg_policy_new(&shape, 5);
    cg_adam_t *adam = cg_adam_new(cg_policy_n_params(pol), &s_adam);
    const size_t np = cg_policy_n_params(pol), off = cg_policy_shape_log_std_offset(&shape);
    float *grad = calloc(np, sizeof *grad), *mean = calloc(40 * DIM, sizeof *mean);
    float *dmean = calloc(40 * DIM, sizeof *dmean), *got = calloc(np, sizeof *got);
    for (int step = 0; step < 3; step++) {
        cg_update_stats_t st;
        CU_ASSERT_EQUAL_FATAL(cg_backend_update(be, &b.mb, &s_loss, &st), CG_OK);
        memset(grad, 0, np * sizeof *grad);
        float *params = cg_policy_params(pol);
        double dls[DIM] = {0, 0};
        cg_loss_stats_t ls;
        cg_policy_forward(pol, b.obs, 40, mean);
        cg_loss_gaussian_compute(mean, params + off, DIM, &b.mb, &s_loss, dmean, dls, &ls);
        for (int d = 0; d < DIM; d++)
            grad[off + (size_t)d] = (float)dls[d];
        cg_policy_backward(pol, dmean, 40, grad);
        float norm = cg_adam_step(adam, params, grad);
        CU_ASSERT_EQUAL(st.loss.loss, ls.loss);
        CU_ASSERT_EQUAL(st.grad_norm, norm);
        CU_ASSERT_EQUAL_FATAL(cg_backend_get_params(be, got), CG_OK);
        CU_ASSERT(memcmp(got, params, np * sizeof *got) == 0);
    }
    free(grad), free(mean), free(dmean), free(got);
    cg_adam_destroy(&adam);
    cg_policy_destroy(&pol);
    cg_backend_destroy(&be);
}

/* A log_std past its bound: no gradient, so Adam leaves it exactly as it was. */
static void test_gaussian_bound_no_gradient(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 10, 0);
    static batch_t b;
    s_make_batch(&rng, &b, 32);
    cg_backend_t *be = s_cpu(6);
    cg_policy_shape_t shape = s_shape();
    const size_t np = cg_policy_shape_n_params(&shape),
                 off = cg_policy_shape_log_std_offset(&shape);
    float *p = calloc(np, sizeof *p);
    CU_ASSERT_EQUAL_FATAL(cg_backend_get_params(be, p), CG_OK);
    p[off] = 3.0f; /* above CG_POLICY_LOG_STD_MAX */
    CU_ASSERT_EQUAL_FATAL(cg_backend_set_params(be, p), CG_OK);
    cg_update_stats_t st;
    CU_ASSERT_EQUAL_FATAL(cg_backend_update(be, &b.mb, &s_loss, &st), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_backend_get_params(be, p), CG_OK);
    CU_ASSERT_EQUAL(p[off], 3.0f);
    CU_ASSERT(p[off + 1] != -0.5f); /* the other one moved */
    free(p);
    cg_backend_destroy(&be);
}

/* 1 thread and 3 threads (rows split into slices, log_std gradients added in slice order)
 * agree to float rounding. */
static void test_gaussian_threads(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 11, 0);
    static batch_t b;
    s_make_batch(&rng, &b, MAXN);
    cg_backend_t *one = s_cpu(7), *three = s_cpu(7);
    char err[128];
    CU_ASSERT_EQUAL_FATAL(cg_backend_set_threads(three, 3, err, sizeof err), CG_OK);
    cg_policy_shape_t shape = s_shape();
    const size_t np = cg_policy_shape_n_params(&shape);
    float *p1 = calloc(np, sizeof *p1), *p3 = calloc(np, sizeof *p3);
    for (int step = 0; step < 3; step++) {
        cg_update_stats_t s1, s3;
        CU_ASSERT_EQUAL_FATAL(cg_backend_update(one, &b.mb, &s_loss, &s1), CG_OK);
        CU_ASSERT_EQUAL_FATAL(cg_backend_update(three, &b.mb, &s_loss, &s3), CG_OK);
        CG_ASSERT_NEAR(s1.loss.loss, s3.loss.loss, 1e-6);
    }
    CU_ASSERT_EQUAL_FATAL(cg_backend_get_params(one, p1), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_backend_get_params(three, p3), CG_OK);
    for (size_t k = 0; k < np; k++)
        CG_ASSERT_NEAR(p1[k], p3[k], 1e-5);
    free(p1), free(p3);
    cg_backend_destroy(&one);
    cg_backend_destroy(&three);
}

/* A continuous bandit: one fixed observation, reward -(|a - target|^2); groups of 16 samples,
 * advantages standardised within the group, one update per group. After 300 updates the
 * mean is within 0.1 of target and the standard deviation has shrunk below its start. */
static void test_gaussian_bandit(void)
{
    cg_backend_t *be = s_cpu(8);
    cg_rng_t rng;
    cg_rng_seed(&rng, 12, 0);
    const float target[DIM] = {0.7f, -0.4f};
    enum { G = 16 };
    static batch_t b;
    float mean[DIM];
    cg_policy_shape_t shape = s_shape();
    const size_t np = cg_policy_shape_n_params(&shape),
                 off = cg_policy_shape_log_std_offset(&shape);
    float *p = calloc(np, sizeof *p);
    for (int it = 0; it < 300; it++) {
        for (int j = 0; j < OBS; j++)
            b.obs[j] = 0.5f;
        CU_ASSERT_EQUAL_FATAL(cg_backend_forward(be, b.obs, 1, mean), CG_OK);
        CU_ASSERT_EQUAL_FATAL(cg_backend_get_params(be, p), CG_OK);
        double r[G], mu = 0, var = 0;
        for (int i = 0; i < G; i++) {
            memcpy(b.obs + i * OBS, b.obs, OBS * sizeof(float));
            cg_policy_gaussian_sample(mean, p + off, DIM, 1.0f, &rng, b.action + i * DIM,
                                      &b.logp_old[i]);
            r[i] = 0;
            for (int d = 0; d < DIM; d++)
                r[i] -= pow(b.action[i * DIM + d] - target[d], 2);
            mu += r[i] / G;
        }
        for (int i = 0; i < G; i++)
            var += (r[i] - mu) * (r[i] - mu) / (G - 1);
        for (int i = 0; i < G; i++) {
            b.adv[i] = (float)((r[i] - mu) / (sqrt(var) + 1e-8));
            b.weight[i] = 1.0f / G;
        }
        b.mb = (cg_minibatch_t){.n = G,
                                .obs = b.obs,
                                .action_f = b.action,
                                .logp_old = b.logp_old,
                                .adv = b.adv,
                                .weight = b.weight};
        const cg_loss_config_t loss = {.clip_eps = 0.2f};
        cg_update_stats_t st;
        CU_ASSERT_EQUAL_FATAL(cg_backend_update(be, &b.mb, &loss, &st), CG_OK);
    }
    CU_ASSERT_EQUAL_FATAL(cg_backend_forward(be, b.obs, 1, mean), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_backend_get_params(be, p), CG_OK);
    printf(" (mean %.3f %.3f, log_std %.3f %.3f)", (double)mean[0], (double)mean[1], (double)p[off],
           (double)p[off + 1]);
    CG_ASSERT_NEAR(mean[0], target[0], 0.1);
    CG_ASSERT_NEAR(mean[1], target[1], 0.1);
    CU_ASSERT(p[off] < -0.5f && p[off + 1] < -0.5f);
    free(p);
    cg_backend_destroy(&be);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"arena and log_std_init", test_gaussian_arena},
        {"update matches the composition", test_gaussian_matches_composition},
        {"no gradient past the log-std bound", test_gaussian_bound_no_gradient},
        {"rows split over threads", test_gaussian_threads},
        {"continuous bandit", test_gaussian_bandit},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("backend_gaussian", tests, NULL, NULL);
}
