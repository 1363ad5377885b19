/* test_backend: the CPU backend equals the manual composition policy -> loss -> backward ->
 * Adam bit for bit; parameter and optimiser state round trips; updates move the policy the
 * right way and solve a bandit; device selection and its messages. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_backend.h"
#include "cg_rng.h"
#include "cg_test.h"

#define OBS 5
#define ACT 4
#define MAXN 96

static cg_policy_shape_t s_shape(cg_activation_t act)
{
    cg_policy_shape_t shape = {.obs_dim = OBS, .n_actions = ACT, .n_hidden = 2, .activation = act};
    shape.hidden[0] = 16;
    shape.hidden[1] = 8;
    return shape;
}

static const cg_adam_config_t s_adam = {
    .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .max_grad_norm = 0.5f};

/* Storage behind a random minibatch: episodes of 1..4 steps, w = 1/(len * episodes). */
typedef struct {
    float obs[MAXN * OBS];
    int32_t action[MAXN];
    float logp_old[MAXN], adv[MAXN], weight[MAXN], logp_ref[MAXN], kl_coef[MAXN];
    cg_minibatch_t mb;
} batch_t;

static void s_make_batch(cg_rng_t *rng, batch_t *b, int32_t max_steps)
{
    int32_t len[MAXN], n_ep = 0, n = 0;
    while (n_ep < 12) {
        int32_t l = 1 + (int32_t)cg_rng_below(rng, 4);
        if (n + l > max_steps)
            break;
        len[n_ep++] = l;
        n += l;
    }
    int32_t i = 0;
    for (int32_t e = 0; e < n_ep; e++) {
        float adv = (float)cg_rng_normal(rng);
        for (int32_t s = 0; s < len[e]; s++, i++) {
            for (int32_t j = 0; j < OBS; j++)
                b->obs[i * OBS + j] = (float)cg_rng_normal(rng);
            b->action[i] = (int32_t)cg_rng_below(rng, ACT);
            b->logp_old[i] = (float)(-log((double)ACT) + 0.3 * cg_rng_normal(rng));
            b->logp_ref[i] = (float)(-log((double)ACT) + 0.3 * cg_rng_normal(rng));
            b->kl_coef[i] = adv < 0 ? 0.025f : 0.01f;
            b->adv[i] = adv;
            b->weight[i] = 1.0f / (float)(len[e] * n_ep);
        }
    }
    memset(&b->mb, 0, sizeof(b->mb));
    b->mb.n = n;
    b->mb.obs = b->obs;
    b->mb.action = b->action;
    b->mb.logp_old = b->logp_old;
    b->mb.adv = b->adv;
    b->mb.weight = b->weight;
    b->mb.logp_ref = b->logp_ref;
    b->mb.kl_coef = b->kl_coef;
}

static const cg_loss_config_t s_loss = {.clip_eps = 0.2f, .kl_coef = 0.0f, .ent_coef = 0.01f};

static cg_backend_t *s_cpu(cg_activation_t act, uint64_t seed)
{
    cg_policy_shape_t shape = s_shape(act);
    char err[256];
    cg_backend_t *be = cg_backend_new(CG_DEVICE_CPU, &shape, &s_adam, seed, err, sizeof(err));
    if (!be)
        printf("\n  cg_backend_new: %s\n", err);
    return be;
}

/* Backend update == the composition by hand, bit for bit, over several minibatches of
 * different sizes (workspace growth), both activations. */
static void test_backend_matches_composition(void)
{
    static batch_t b;
    for (int act = 0; act < 2; act++) {
        cg_policy_shape_t shape = s_shape((cg_activation_t)act);
        cg_backend_t *be = s_cpu((cg_activation_t)act, 77);
        CU_ASSERT_PTR_NOT_NULL_FATAL(be);
        CU_ASSERT_STRING_EQUAL(cg_backend_name(be), "cpu");
        cg_policy_t *pol = cg_policy_new(&shape, 77);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pol);
        size_t np = cg_policy_n_params(pol);
        CU_ASSERT_EQUAL(cg_backend_n_params(be), np);
        CU_ASSERT_EQUAL(cg_backend_shape(be)->n_actions, ACT);
        cg_adam_t *adam = cg_adam_new(np, &s_adam);
        float *grad = calloc(np, sizeof(float));
        float *got = calloc(np, sizeof(float));
        static float logits[MAXN * ACT], dlogits[MAXN * ACT];

        CU_ASSERT_EQUAL(cg_backend_get_params(be, got), CG_OK);
        CU_ASSERT(memcmp(got, cg_policy_params(pol), np * sizeof(float)) == 0);

        cg_rng_t rng;
        cg_rng_seed(&rng, 5, (uint64_t)act);
        const int32_t sizes[4] = {8, 40, 20, 90};
        for (int k = 0; k < 4; k++) {
            s_make_batch(&rng, &b, sizes[k]);
            if (k == 2)
                b.mb.kl_coef = NULL; /* cfg beta path */
            cg_loss_config_t lc = s_loss;
            lc.kl_coef = 0.05f;

            cg_update_stats_t st;
            CU_ASSERT_EQUAL_FATAL(cg_backend_update(be, &b.mb, &lc, &st), CG_OK);

            cg_loss_stats_t ls;
            memset(grad, 0, np * sizeof(float));
            cg_policy_forward(pol, b.mb.obs, b.mb.n, logits);
            cg_loss_compute(logits, ACT, &b.mb, &lc, dlogits, &ls);
            cg_policy_backward(pol, dlogits, b.mb.n, grad);
            float gn = cg_adam_step(adam, cg_policy_params(pol), grad);

            CU_ASSERT_EQUAL(cg_backend_get_params(be, got), CG_OK);
            CU_ASSERT(memcmp(got, cg_policy_params(pol), np * sizeof(float)) == 0);
            CU_ASSERT(memcmp(&st.loss, &ls, sizeof(ls)) == 0);
            CU_ASSERT_EQUAL(st.grad_norm, gn);
            CU_ASSERT(gn > 0);
        }
        /* forward through the backend == policy forward */
        float lb[MAXN * ACT];
        CU_ASSERT_EQUAL(cg_backend_forward(be, b.mb.obs, b.mb.n, lb), CG_OK);
        cg_policy_forward(pol, b.mb.obs, b.mb.n, logits);
        CU_ASSERT(memcmp(lb, logits, (size_t)b.mb.n * ACT * sizeof(float)) == 0);

        free(got);
        free(grad);
        cg_adam_destroy(&adam);
        cg_policy_destroy(&pol);
        cg_backend_destroy(&be);
        CU_ASSERT_PTR_NULL(be);
    }
    cg_backend_destroy(NULL);
}

/* Rows split over threads: the same thread count gives the same bits run after run; other
 * counts agree to rounding (gradient sums in another order); small minibatches are not split
 * (bit-identical to one thread); a count out of range is refused. */
static void test_backend_threads(void)
{
    enum { N = 1000, UPDATES = 5 };
    float *obs = malloc(sizeof(float) * N * OBS), *lp = malloc(sizeof(float) * N),
          *adv = malloc(sizeof(float) * N), *w = malloc(sizeof(float) * N);
    int32_t *act = malloc(sizeof(int32_t) * N);
    CU_ASSERT_FATAL(obs && lp && adv && w && act);
    cg_rng_t rng;
    cg_rng_seed(&rng, 11, 3);
    for (int32_t i = 0; i < N; i++) {
        for (int32_t j = 0; j < OBS; j++)
            obs[i * OBS + j] = (float)cg_rng_normal(&rng);
        act[i] = (int32_t)cg_rng_below(&rng, ACT);
        lp[i] = (float)(-log((double)ACT) + 0.3 * cg_rng_normal(&rng));
        adv[i] = (float)cg_rng_normal(&rng);
        w[i] = 1.0f / N;
    }
    const int32_t threads[3] = {1, 3, 3};
    cg_backend_t *be[3];
    cg_update_stats_t st[3][UPDATES];
    char err[256];
    for (int b = 0; b < 3; b++) {
        be[b] = s_cpu(CG_ACT_TANH, 9);
        CU_ASSERT_PTR_NOT_NULL_FATAL(be[b]);
        CU_ASSERT_EQUAL_FATAL(cg_backend_set_threads(be[b], threads[b], err, sizeof err), CG_OK);
        for (int u = 0; u < UPDATES; u++) {
            int32_t n = N - 150 * u; /* 1000 .. 400 rows */
            cg_minibatch_t mb = {
                .n = n, .obs = obs, .action = act, .logp_old = lp, .adv = adv, .weight = w};
            CU_ASSERT_EQUAL_FATAL(cg_backend_update(be[b], &mb, &s_loss, &st[b][u]), CG_OK);
        }
    }
    size_t np = cg_backend_n_params(be[0]);
    float *p[3];
    for (int b = 0; b < 3; b++) {
        p[b] = calloc(np, sizeof(float));
        CU_ASSERT_EQUAL(cg_backend_get_params(be[b], p[b]), CG_OK);
    }
    CU_ASSERT(memcmp(p[1], p[2], np * sizeof(float)) == 0);
    CU_ASSERT(memcmp(st[1], st[2], sizeof st[1]) == 0);
    double worst = 0;
    for (size_t i = 0; i < np; i++)
        worst = fmax(worst, fabs((double)p[0][i] - (double)p[1][i]));
    CU_ASSERT(worst < 1e-4);
    for (int u = 0; u < UPDATES; u++) {
        CU_ASSERT(fabs(st[0][u].loss.loss - st[1][u].loss.loss) <=
                  1e-5 * (1 + fabs(st[0][u].loss.loss)));
        CU_ASSERT(fabs(st[0][u].loss.clip_frac - st[1][u].loss.clip_frac) <= 0.01);
        CU_ASSERT(fabsf(st[0][u].grad_norm - st[1][u].grad_norm) <=
                  1e-4f * (1 + st[0][u].grad_norm));
    }
    /* 100 rows: one slice whatever the count, so the very same bits as one thread */
    cg_backend_t *one = s_cpu(CG_ACT_TANH, 9), *three = s_cpu(CG_ACT_TANH, 9);
    CU_ASSERT_EQUAL(cg_backend_set_threads(three, 3, err, sizeof err), CG_OK);
    cg_minibatch_t small = {
        .n = 100, .obs = obs, .action = act, .logp_old = lp, .adv = adv, .weight = w};
    cg_update_stats_t s1, s3;
    CU_ASSERT_EQUAL(cg_backend_update(one, &small, &s_loss, &s1), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_update(three, &small, &s_loss, &s3), CG_OK);
    CU_ASSERT(memcmp(&s1, &s3, sizeof s1) == 0);
    CU_ASSERT_EQUAL(cg_backend_get_params(one, p[0]), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(three, p[1]), CG_OK);
    CU_ASSERT(memcmp(p[0], p[1], np * sizeof(float)) == 0);
    /* out of range */
    CU_ASSERT_EQUAL(cg_backend_set_threads(one, 0, err, sizeof err), CG_ERR_RANGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[learner] threads"));
    CU_ASSERT_EQUAL(cg_backend_set_threads(one, 65, err, sizeof err), CG_ERR_RANGE);
    CU_ASSERT_EQUAL(cg_backend_update(one, &small, &s_loss, &s1), CG_OK); /* still usable */
    cg_backend_destroy(&one);
    cg_backend_destroy(&three);
    for (int b = 0; b < 3; b++) {
        free(p[b]);
        cg_backend_destroy(&be[b]);
    }
    free(obs), free(lp), free(adv), free(w), free(act);
}

/* Parameters and Adam state copied out of one backend into another make the two continue
 * identically. */
static void test_backend_state_round_trip(void)
{
    static batch_t b;
    cg_backend_t *a = s_cpu(CG_ACT_TANH, 1), *c = s_cpu(CG_ACT_TANH, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    size_t np = cg_backend_n_params(a);
    float *p = calloc(np, sizeof(float)), *m = calloc(np, sizeof(float));
    float *v = calloc(np, sizeof(float)), *q = calloc(np, sizeof(float));
    float *m2 = calloc(np, sizeof(float)), *v2 = calloc(np, sizeof(float));
    cg_rng_t rng;
    cg_rng_seed(&rng, 9, 0);

    /* set then get returns the same bytes */
    for (size_t k = 0; k < np; k++)
        p[k] = (float)cg_rng_normal(&rng);
    CU_ASSERT_EQUAL(cg_backend_set_params(c, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(c, q), CG_OK);
    CU_ASSERT(memcmp(p, q, np * sizeof(float)) == 0);

    int64_t steps = -1;
    CU_ASSERT_EQUAL(cg_backend_get_optim(a, m, v, &steps), CG_OK);
    CU_ASSERT_EQUAL(steps, 0);
    for (int k = 0; k < 3; k++) {
        s_make_batch(&rng, &b, 30);
        CU_ASSERT_EQUAL(cg_backend_update(a, &b.mb, &s_loss, NULL), CG_OK);
    }
    CU_ASSERT_EQUAL(cg_backend_get_params(a, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_optim(a, m, v, &steps), CG_OK);
    CU_ASSERT_EQUAL(steps, 3);
    CU_ASSERT_EQUAL(cg_backend_set_params(c, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_set_optim(c, m, v, steps), CG_OK);
    int64_t steps2 = 0;
    CU_ASSERT_EQUAL(cg_backend_get_optim(c, m2, v2, &steps2), CG_OK);
    CU_ASSERT(memcmp(m, m2, np * sizeof(float)) == 0);
    CU_ASSERT(memcmp(v, v2, np * sizeof(float)) == 0);
    CU_ASSERT_EQUAL(steps2, 3);

    s_make_batch(&rng, &b, 30);
    CU_ASSERT_EQUAL(cg_backend_update(a, &b.mb, &s_loss, NULL), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_update(c, &b.mb, &s_loss, NULL), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(a, p), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(c, q), CG_OK);
    CU_ASSERT(memcmp(p, q, np * sizeof(float)) == 0);

    CU_ASSERT_EQUAL(cg_backend_set_optim(c, m, v, -1), CG_ERR_INVAL);
    free(v2);
    free(m2);
    free(q);
    free(v);
    free(m);
    free(p);
    cg_backend_destroy(&c);
    cg_backend_destroy(&a);
}

static double s_prob(cg_backend_t *be, const float *obs, int32_t a, double *logp)
{
    float lg[ACT];
    CU_ASSERT_EQUAL(cg_backend_forward(be, obs, 1, lg), CG_OK);
    double mx = lg[0], z = 0;
    for (int j = 1; j < ACT; j++)
        mx = lg[j] > mx ? lg[j] : mx;
    for (int j = 0; j < ACT; j++)
        z += exp(lg[j] - mx);
    if (logp)
        *logp = lg[a] - mx - log(z);
    return exp(lg[a] - mx) / z;
}

/* Positive advantage on action 2 raises its probability; negative lowers it. */
static void test_backend_update_direction(void)
{
    static batch_t b;
    const float sign[2] = {1.0f, -1.0f};
    for (int k = 0; k < 2; k++) {
        cg_backend_t *be = s_cpu(CG_ACT_TANH, 3);
        CU_ASSERT_PTR_NOT_NULL_FATAL(be);
        cg_rng_t rng;
        cg_rng_seed(&rng, 11, 0);
        const int32_t n = 8;
        for (int32_t j = 0; j < OBS; j++)
            b.obs[j] = (float)cg_rng_normal(&rng);
        double logp;
        double p0 = s_prob(be, b.obs, 2, &logp);
        for (int32_t i = 0; i < n; i++) {
            if (i > 0)
                memcpy(b.obs + i * OBS, b.obs, OBS * sizeof(float));
            b.action[i] = 2;
            b.logp_old[i] = (float)logp;
            b.adv[i] = sign[k];
            b.weight[i] = 1.0f / (float)n;
        }
        cg_minibatch_t mb = {.n = n,
                             .obs = b.obs,
                             .action = b.action,
                             .logp_old = b.logp_old,
                             .adv = b.adv,
                             .weight = b.weight};
        cg_loss_config_t lc = {.clip_eps = 0.2f};
        cg_update_stats_t st;
        CU_ASSERT_EQUAL(cg_backend_update(be, &mb, &lc, &st), CG_OK);
        CG_ASSERT_NEAR(st.loss.pg_loss, -sign[k], 1e-5); /* ratio 1 */
        CU_ASSERT_EQUAL(st.loss.clip_frac, 0.0);
        double p1 = s_prob(be, b.obs, 2, NULL);
        CU_ASSERT(k == 0 ? p1 > p0 + 1e-4 : p1 < p0 - 1e-4);
        cg_backend_destroy(&be);
    }
}

/* A one-step bandit (4 arms, arm 3 pays 1): group-normalised advantages, sampled at T=1,
 * two epochs per batch; the policy converges to arm 3. */
static void test_backend_bandit(void)
{
    static batch_t b;
    cg_backend_t *be = s_cpu(CG_ACT_TANH, 21);
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    cg_rng_t rng;
    cg_rng_seed(&rng, 123, 0);
    const int32_t g = 16;
    const float obs[OBS] = {1.0f, 0.5f, -0.5f, 0.0f, 0.25f};
    cg_loss_config_t lc = {.clip_eps = 0.2f};
    double p = 0;
    for (int it = 0; it < 150; it++) {
        float lg[ACT];
        CU_ASSERT_EQUAL_FATAL(cg_backend_forward(be, obs, 1, lg), CG_OK);
        double mx = lg[0], z = 0;
        for (int j = 1; j < ACT; j++)
            mx = lg[j] > mx ? lg[j] : mx;
        for (int j = 0; j < ACT; j++)
            z += exp(lg[j] - mx);
        double r[MAXN], mean = 0, var = 0;
        for (int32_t i = 0; i < g; i++) {
            double u = cg_rng_uniform(&rng), c = 0;
            int32_t a = ACT - 1;
            for (int32_t j = 0; j < ACT; j++) {
                c += exp(lg[j] - mx) / z;
                if (u < c) {
                    a = j;
                    break;
                }
            }
            memcpy(b.obs + i * OBS, obs, sizeof(obs));
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
        cg_minibatch_t mb = {.n = g,
                             .obs = b.obs,
                             .action = b.action,
                             .logp_old = b.logp_old,
                             .adv = b.adv,
                             .weight = b.weight};
        for (int e = 0; e < 2; e++)
            CU_ASSERT_EQUAL_FATAL(cg_backend_update(be, &mb, &lc, NULL), CG_OK);
        p = s_prob(be, obs, 3, NULL);
    }
    printf(" p(arm 3) = %.4f ", p);
    CU_ASSERT(p > 0.95);
    cg_backend_destroy(&be);
}

/* Bad input is a status, and leaves the parameters alone. */
static void test_backend_bad_input(void)
{
    static batch_t b;
    cg_backend_t *be = s_cpu(CG_ACT_RELU, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    size_t np = cg_backend_n_params(be);
    float *p0 = calloc(np, sizeof(float)), *p1 = calloc(np, sizeof(float));
    CU_ASSERT_EQUAL(cg_backend_get_params(be, p0), CG_OK);
    cg_rng_t rng;
    cg_rng_seed(&rng, 4, 4);
    s_make_batch(&rng, &b, 20);

    b.action[3] = ACT;
    CU_ASSERT_EQUAL(cg_backend_update(be, &b.mb, &s_loss, NULL), CG_ERR_RANGE);
    b.action[3] = -1;
    CU_ASSERT_EQUAL(cg_backend_update(be, &b.mb, &s_loss, NULL), CG_ERR_RANGE);
    b.action[3] = 0;
    b.adv[5] = NAN;
    cg_update_stats_t st;
    CU_ASSERT_EQUAL(cg_backend_update(be, &b.mb, &s_loss, &st), CG_ERR_NONFINITE);
    b.adv[5] = 1.0f;
    cg_minibatch_t empty = b.mb;
    empty.n = 0;
    CU_ASSERT_EQUAL(cg_backend_update(be, &empty, &s_loss, NULL), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_backend_update(be, NULL, &s_loss, NULL), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_backend_forward(be, b.obs, -1, p1), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_backend_get_params(be, p1), CG_OK);
    CU_ASSERT(memcmp(p0, p1, np * sizeof(float)) == 0);
    int64_t steps = -1;
    CU_ASSERT_EQUAL(cg_backend_get_optim(be, p1, p1, &steps), CG_OK);
    CU_ASSERT_EQUAL(steps, 0);
    free(p1);
    free(p0);
    cg_backend_destroy(&be);
}

/* A minibatch whose rows are gathered on demand (cg_minibatch_t.fill, as the learner's
 * batches are): every row is filled exactly once, before it is read, by the slice that uses
 * it; the result is the very bits of the same rows handed over already filled; a bad action
 * that only the fill reveals is CG_ERR_RANGE with the parameters untouched. */
#define S_FILL_N 256 /* rows: three slices of 64 or more */
typedef struct {
    float obs[S_FILL_N * OBS];
    int32_t action[S_FILL_N];
    float logp_old[S_FILL_N], adv[S_FILL_N], weight[S_FILL_N];
} s_rows_t;

typedef struct {
    const s_rows_t *src;
    s_rows_t *dst;
    int32_t filled[S_FILL_N];
} s_fill_ctx_t;

static void s_fill_rows(const cg_minibatch_t *mb, int32_t r0, int32_t r1)
{
    s_fill_ctx_t *c = (s_fill_ctx_t *)mb->fill_ctx;
    for (int32_t i = r0; i < r1; i++) {
        memcpy(c->dst->obs + (size_t)i * OBS, c->src->obs + (size_t)i * OBS, OBS * sizeof(float));
        c->dst->action[i] = c->src->action[i];
        c->dst->logp_old[i] = c->src->logp_old[i];
        c->dst->adv[i] = c->src->adv[i];
        c->dst->weight[i] = c->src->weight[i];
        __atomic_add_fetch(&c->filled[i], 1, __ATOMIC_RELAXED);
    }
}

static cg_minibatch_t s_rows_mb(s_rows_t *r)
{
    return (cg_minibatch_t){.n = S_FILL_N,
                            .obs = r->obs,
                            .action = r->action,
                            .logp_old = r->logp_old,
                            .adv = r->adv,
                            .weight = r->weight};
}

static void test_backend_fill(void)
{
    static s_rows_t src, dst;
    static s_fill_ctx_t ctx;
    cg_rng_t rng;
    cg_rng_seed(&rng, 12, 12);
    for (int32_t i = 0; i < S_FILL_N; i++) {
        for (int32_t j = 0; j < OBS; j++)
            src.obs[i * OBS + j] = (float)cg_rng_normal(&rng);
        src.action[i] = (int32_t)cg_rng_below(&rng, ACT);
        src.logp_old[i] = (float)(-log((double)ACT) + 0.3 * cg_rng_normal(&rng));
        src.adv[i] = (float)cg_rng_normal(&rng);
        src.weight[i] = 1.0f / S_FILL_N;
    }
    ctx = (s_fill_ctx_t){.src = &src, .dst = &dst};
    char err[256];
    cg_backend_t *filled = s_cpu(CG_ACT_TANH, 5), *lazy = s_cpu(CG_ACT_TANH, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(filled);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lazy);
    CU_ASSERT_EQUAL(cg_backend_set_threads(filled, 3, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_set_threads(lazy, 3, err, sizeof err), CG_OK);
    cg_minibatch_t ready = s_rows_mb(&src), mb = s_rows_mb(&dst);
    mb.fill = s_fill_rows;
    mb.fill_ctx = &ctx;
    cg_update_stats_t s_f, s_l;
    CU_ASSERT_EQUAL(cg_backend_update(filled, &ready, &s_loss, &s_f), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_update(lazy, &mb, &s_loss, &s_l), CG_OK);
    for (int32_t i = 0; i < S_FILL_N; i++)
        CU_ASSERT_EQUAL(ctx.filled[i], 1);
    CU_ASSERT(memcmp(&s_f, &s_l, sizeof s_f) == 0);
    size_t np = cg_backend_n_params(filled);
    float *p0 = calloc(np, sizeof(float)), *p1 = calloc(np, sizeof(float));
    CU_ASSERT_EQUAL(cg_backend_get_params(filled, p0), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_params(lazy, p1), CG_OK);
    CU_ASSERT(memcmp(p0, p1, np * sizeof(float)) == 0);

    src.action[200] = ACT; /* in the last slice: only its fill sees it */
    CU_ASSERT_EQUAL(cg_backend_update(lazy, &mb, &s_loss, NULL), CG_ERR_RANGE);
    CU_ASSERT_EQUAL(cg_backend_get_params(lazy, p0), CG_OK);
    CU_ASSERT(memcmp(p0, p1, np * sizeof(float)) == 0);
    free(p1);
    free(p0);
    cg_backend_destroy(&lazy);
    cg_backend_destroy(&filled);
}

/* device=cuda without a CUDA backend: NULL and a message naming cuda with a hint.
 * device=auto: cuda when that works, else cpu. Bad shapes and Adam settings: NULL + why. */
static void test_backend_select(void)
{
    cg_policy_shape_t shape = s_shape(CG_ACT_TANH);
    char err[512] = "";
    cg_backend_t *cuda = cg_backend_new(CG_DEVICE_CUDA, &shape, &s_adam, 1, err, sizeof(err));
    const int has_cuda = cuda != NULL;
    if (cuda) {
        CU_ASSERT_STRING_EQUAL(cg_backend_name(cuda), "cuda");
        cg_backend_destroy(&cuda);
    } else {
        printf(" [%s] ", err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "cuda"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    }
    err[0] = '\0';
    cg_backend_t *be = cg_backend_new(CG_DEVICE_AUTO, &shape, &s_adam, 1, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_STRING_EQUAL(cg_backend_name(be), has_cuda ? "cuda" : "cpu");
    cg_backend_destroy(&be);

    cg_policy_shape_t bad = shape;
    bad.n_actions = 0;
    CU_ASSERT_PTR_NULL(cg_backend_new(CG_DEVICE_CPU, &bad, &s_adam, 1, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "shape"));
    cg_adam_config_t bad_adam = s_adam;
    bad_adam.beta1 = 1.5f;
    CU_ASSERT_PTR_NULL(cg_backend_new(CG_DEVICE_CPU, &shape, &bad_adam, 1, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Adam"));
    CU_ASSERT_PTR_NULL(cg_backend_new((cg_device_t)7, &shape, &s_adam, 1, err, sizeof(err)));
    CU_ASSERT_PTR_NULL(cg_backend_new(CG_DEVICE_CPU, &bad, &s_adam, 1, NULL, 0)); /* err optional */
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"rows split over threads", test_backend_threads},
        {"matches_composition", test_backend_matches_composition},
        {"state_round_trip", test_backend_state_round_trip},
        {"update_direction", test_backend_update_direction},
        {"bandit", test_backend_bandit},
        {"bad_input", test_backend_bad_input},
        {"rows filled on demand", test_backend_fill},
        {"select", test_backend_select},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("backend", tests, NULL, NULL);
}
