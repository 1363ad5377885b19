/* test_mult: the Lagrange multipliers: DESIGN.md's worked Adam step, the softmax
 * simplex, projected clamping, PID anti-windup, fixed, checkpoint state round trips and
 * validation, and the long-run direction of each kind. */
#include <math.h>
#include <string.h>

#include "cg_mult.h"
#include "cg_rng.h"
#include "cg_test.h"

/* A run config with the documented [multipliers] defaults and K constraints. */
static cg_config_t s_config(cg_mult_kind_t kind, int K, const float *threshold)
{
    cg_config_t c;
    memset(&c, 0, sizeof(c));
    c.mult_kind = kind;
    c.mult_lr = 0.03f;
    c.mult_beta1 = 0.9f;
    c.mult_beta2 = 0.999f;
    c.mult_eps = 1e-5f;
    c.mult_init_logit = 0.02f;
    c.mult_temperature = 1.0f;
    c.mult_upper = 0.0f;
    c.mult_kp = 0.1f;
    c.mult_ki = 0.01f;
    c.mult_kd = 0.0f;
    c.fixed_lambda_reward = 1.0f;
    c.n_constraints = K;
    for (int k = 0; k < K; k++) {
        c.constraints[k].name[0] = (char)('a' + k);
        c.constraints[k].threshold = threshold ? threshold[k] : 0.05f;
        c.constraints[k].fixed_lambda = 0.1f;
    }
    return c;
}

static void s_state(const cg_mult_t *m, double *st, size_t *n)
{
    *n = cg_mult_state_size(m);
    CU_ASSERT_FATAL(*n <= 64);
    cg_mult_state_get(m, st);
}

static void test_worked_adam_step(void)
{
    const float d[2] = {0.01f, 0.10f}, c[2] = {0.05f, 0.05f};
    cg_config_t cfg = s_config(CG_MULT_SOFTMAX, 2, d);
    cg_mult_t *m = cg_mult_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(cg_mult_n_constraints(m), 2);
    CU_ASSERT(cg_mult_thresholds(m)[0] == 0.01f && cg_mult_thresholds(m)[1] == 0.10f);
    float lambda[3], grad[3];
    cg_mult_lambda(m, lambda);
    for (int i = 0; i < 3; i++)
        CG_ASSERT_NEAR(lambda[i], 1.0 / 3.0, 1e-7);
    CU_ASSERT_EQUAL(cg_mult_update(m, c), CG_OK);
    cg_mult_last_grad(m, grad);
    CG_ASSERT_NEAR(grad[0], -0.0011111, 1e-6);
    CG_ASSERT_NEAR(grad[1], -0.0144444, 1e-6);
    CG_ASSERT_NEAR(grad[2], +0.0155556, 1e-6);
    double st[64];
    size_t n;
    s_state(m, st, &n);
    CU_ASSERT_EQUAL(n, 2 + 3 * 3 + 1);
    CG_ASSERT_NEAR(st[2], 0.0497324, 1e-6);
    CG_ASSERT_NEAR(st[3], 0.0499792, 1e-6);
    CG_ASSERT_NEAR(st[4], -0.0099807, 1e-6);
    CU_ASSERT(st[11] == 1.0); /* Adam step */
    cg_mult_lambda(m, lambda);
    CG_ASSERT_NEAR(lambda[0], 0.339872, 1e-6);
    CG_ASSERT_NEAR(lambda[1], 0.339956, 1e-6);
    CG_ASSERT_NEAR(lambda[2], 0.320172, 1e-6);
    cg_mult_destroy(&m);
    CU_ASSERT_PTR_NULL(m);
    cg_mult_destroy(&m);
}

static void test_softmax_simplex(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 21, 1);
    for (int K = 0; K <= CG_MAX_COSTS; K++) {
        float d[CG_MAX_COSTS], rate[CG_MAX_COSTS], lambda[CG_MAX_COSTS + 1];
        for (int k = 0; k < K; k++)
            d[k] = (float)cg_rng_uniform(&rng) * 0.3f;
        cg_config_t cfg = s_config(CG_MULT_SOFTMAX, K, d);
        cfg.mult_temperature = K % 2 ? 0.5f : 1.0f;
        cg_mult_t *m = cg_mult_new(&cfg);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        for (int t = 0; t < 300; t++) {
            for (int k = 0; k < K; k++)
                rate[k] = (float)cg_rng_uniform(&rng);
            CU_ASSERT_EQUAL_FATAL(cg_mult_update(m, K ? rate : NULL), CG_OK);
            cg_mult_lambda(m, lambda);
            double sum = 0.0;
            for (int i = 0; i <= K; i++) {
                CU_ASSERT(lambda[i] >= 0.0f && lambda[i] <= 1.0f);
                sum += lambda[i];
            }
            CG_ASSERT_NEAR(sum, 1.0, 1e-6);
        }
        cg_mult_destroy(&m);
    }
}

static void test_projected_clamps(void)
{
    const float d[2] = {0.1f, 0.1f};
    cg_config_t cfg = s_config(CG_MULT_PROJECTED, 2, d);
    cfg.mult_lr = 0.5f;
    cfg.mult_upper = 0.3f;
    cfg.constraints[1].fixed_lambda = 0.9f; /* above upper: starts clamped */
    cg_mult_t *m = cg_mult_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    float lambda[3], grad[3];
    cg_mult_lambda(m, lambda);
    CU_ASSERT(lambda[0] == 1.0f && lambda[1] == 0.1f && lambda[2] == 0.3f);
    const float up[2] = {0.2f, 0.0f}; /* k=0 rises by 0.05 a step, k=1 falls by 0.05 */
    for (int t = 0; t < 20; t++)
        CU_ASSERT_EQUAL(cg_mult_update(m, up), CG_OK);
    cg_mult_lambda(m, lambda);
    CU_ASSERT(lambda[0] == 1.0f && lambda[1] == 0.3f && lambda[2] == 0.0f);
    cg_mult_last_grad(m, grad);
    CU_ASSERT(grad[0] == 0.0f && grad[1] == 0.0f && grad[2] == 0.0f);
    const float once[2] = {0.0f, 0.2f};
    CU_ASSERT_EQUAL(cg_mult_update(m, once), CG_OK);
    cg_mult_lambda(m, lambda);
    CG_ASSERT_NEAR(lambda[1], 0.3 - 0.5 * 0.1, 1e-7);
    CG_ASSERT_NEAR(lambda[2], 0.5 * 0.1, 1e-7);
    cg_mult_destroy(&m);

    /* upper = 0: no upper bound */
    cfg = s_config(CG_MULT_PROJECTED, 1, d);
    m = cg_mult_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const float full = 1.0f;
    for (int t = 0; t < 100; t++)
        CU_ASSERT_EQUAL(cg_mult_update(m, &full), CG_OK);
    cg_mult_lambda(m, lambda);
    CG_ASSERT_NEAR(lambda[1], 0.1 + 100 * 0.03 * (1.0 - (double)0.1f), 1e-5);
    cg_mult_destroy(&m);
}

/* PID against its formula; integral anti-windup at 0; lambda >= 0 always. */
static void test_pid(void)
{
    const float d[1] = {0.2f};
    cg_config_t cfg = s_config(CG_MULT_PID, 1, d);
    cfg.mult_kp = 0.5f;
    cfg.mult_ki = 0.1f;
    cfg.mult_kd = 0.3f;
    cfg.constraints[0].fixed_lambda = 0.05f;
    cg_mult_t *m = cg_mult_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    float lambda[2];
    cg_mult_lambda(m, lambda);
    CU_ASSERT(lambda[0] == 1.0f && lambda[1] == 0.05f);

    /* reference: I <- max(0, I + Ki e), lambda = max(0, Kp e + I + Kd de), no de at first */
    cg_rng_t rng;
    cg_rng_seed(&rng, 22, 2);
    double I = (double)0.05f, prev = 0.0;
    for (int t = 0; t < 200; t++) {
        float c = (float)cg_rng_uniform(&rng) * 0.5f;
        double e = (double)c - (double)0.2f;
        CU_ASSERT_EQUAL_FATAL(cg_mult_update(m, &c), CG_OK);
        I = fmax(0.0, I + (double)0.1f * e);
        double ref = fmax(0.0, (double)0.5f * e + I + (t ? (double)0.3f * (e - prev) : 0.0));
        prev = e;
        cg_mult_lambda(m, lambda);
        CG_ASSERT_NEAR(lambda[1], ref, 1e-7);
        CU_ASSERT(lambda[1] >= 0.0f);
        CU_ASSERT(lambda[0] == 1.0f);
    }
    cg_mult_destroy(&m);

    /* Anti-windup: a long satisfied stretch leaves the integral at 0 (not far below), so a new
     * violation raises lambda at once: lambda = (Kp + Ki) e with Kd = 0. */
    cfg.mult_kd = 0.0f;
    m = cg_mult_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const float ok = 0.0f, bad = 0.6f;
    for (int t = 0; t < 1000; t++)
        CU_ASSERT_EQUAL(cg_mult_update(m, &ok), CG_OK);
    double st[64];
    size_t n;
    s_state(m, st, &n);
    CU_ASSERT_EQUAL(n, 2 + 3 + 1);
    CU_ASSERT(st[2] == 0.0); /* lambda */
    CU_ASSERT(st[3] == 0.0); /* integral */
    CU_ASSERT(st[5] == 1000.0);
    CU_ASSERT_EQUAL(cg_mult_update(m, &bad), CG_OK);
    cg_mult_lambda(m, lambda);
    double e = (double)0.6f - (double)0.2f;
    CG_ASSERT_NEAR(lambda[1], (double)0.5f * e + (double)0.1f * e, 1e-7);
    cg_mult_destroy(&m);
}

static void test_fixed(void)
{
    const float d[3] = {0.01f, 0.1f, 0.5f};
    cg_config_t cfg = s_config(CG_MULT_FIXED, 3, d);
    cfg.fixed_lambda_reward = 0.7f;
    cfg.constraints[0].fixed_lambda = 0.2f;
    cfg.constraints[1].fixed_lambda = 0.0f;
    cfg.constraints[2].fixed_lambda = 3.0f;
    cg_mult_t *m = cg_mult_new(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    cg_rng_t rng;
    cg_rng_seed(&rng, 23, 3);
    for (int t = 0; t < 100; t++) {
        float rate[3], lambda[4];
        for (int k = 0; k < 3; k++)
            rate[k] = (float)cg_rng_uniform(&rng);
        CU_ASSERT_EQUAL(cg_mult_update(m, rate), CG_OK);
        cg_mult_lambda(m, lambda);
        CU_ASSERT(lambda[0] == 0.7f && lambda[1] == 0.2f && lambda[2] == 0.0f && lambda[3] == 3.0f);
    }
    CU_ASSERT_EQUAL(cg_mult_state_size(m), 2);
    cg_mult_destroy(&m);
}

/* get -> new multipliers -> set -> the same updates give bit-identical lambdas and states. */
static void test_state_round_trip(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 24, 4);
    for (int kind = CG_MULT_SOFTMAX; kind <= CG_MULT_FIXED; kind++) {
        const float d[3] = {0.05f, 0.2f, 0.4f};
        cg_config_t cfg = s_config((cg_mult_kind_t)kind, 3, d);
        cfg.mult_kd = 0.2f;
        cfg.mult_upper = kind == CG_MULT_PROJECTED ? 0.8f : 0.0f;
        cg_mult_t *a = cg_mult_new(&cfg);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        float rate[3];
        for (int t = 0; t < 37; t++) {
            for (int k = 0; k < 3; k++)
                rate[k] = (float)cg_rng_uniform(&rng);
            CU_ASSERT_EQUAL_FATAL(cg_mult_update(a, rate), CG_OK);
        }
        double sa[64], sb[64];
        size_t na, nb;
        s_state(a, sa, &na);
        cg_mult_t *b = cg_mult_new(&cfg);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_EQUAL(cg_mult_state_set(b, sa, na), CG_OK);
        s_state(b, sb, &nb);
        CU_ASSERT(na == nb && memcmp(sa, sb, na * sizeof(double)) == 0);
        for (int t = 0; t < 50; t++) {
            for (int k = 0; k < 3; k++)
                rate[k] = (float)cg_rng_uniform(&rng);
            CU_ASSERT_EQUAL_FATAL(cg_mult_update(a, rate), CG_OK);
            CU_ASSERT_EQUAL_FATAL(cg_mult_update(b, rate), CG_OK);
            float la[4], lb[4], ga[4], gb[4];
            cg_mult_lambda(a, la);
            cg_mult_lambda(b, lb);
            cg_mult_last_grad(a, ga);
            cg_mult_last_grad(b, gb);
            CU_ASSERT(memcmp(la, lb, sizeof(la)) == 0);
            CU_ASSERT(memcmp(ga, gb, sizeof(ga)) == 0);
        }
        s_state(a, sa, &na);
        s_state(b, sb, &nb);
        CU_ASSERT(na == nb && memcmp(sa, sb, na * sizeof(double)) == 0);
        cg_mult_destroy(&a);
        cg_mult_destroy(&b);
    }
}

/* Every bad state is refused and leaves the multipliers as they were. */
static void s_expect_reject(cg_mult_t *m, const double *st, size_t n, cg_status_t want)
{
    double before[64], after[64];
    size_t nb, na;
    s_state(m, before, &nb);
    CU_ASSERT_EQUAL(cg_mult_state_set(m, st, n), want);
    s_state(m, after, &na);
    CU_ASSERT(na == nb && memcmp(before, after, na * sizeof(double)) == 0);
}

static void test_state_rejects(void)
{
    const float d[2] = {0.05f, 0.2f}, rate[2] = {0.3f, 0.1f};
    for (int kind = CG_MULT_SOFTMAX; kind <= CG_MULT_FIXED; kind++) {
        cg_config_t cfg = s_config((cg_mult_kind_t)kind, 2, d);
        cfg.mult_upper = kind == CG_MULT_PROJECTED ? 0.5f : 0.0f;
        cg_mult_t *m = cg_mult_new(&cfg);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        for (int t = 0; t < 3; t++)
            CU_ASSERT_EQUAL(cg_mult_update(m, rate), CG_OK);
        double st[64], bad[64];
        size_t n;
        s_state(m, st, &n);
        for (size_t i = 0; i < n; i++) { /* a NaN anywhere */
            memcpy(bad, st, n * sizeof(double));
            bad[i] = NAN;
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            bad[i] = INFINITY;
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
        }
        s_expect_reject(m, st, n + 1, CG_ERR_CORRUPT);
        s_expect_reject(m, st, n - 1, CG_ERR_CORRUPT);
        s_expect_reject(m, st, 0, CG_ERR_CORRUPT);
        s_expect_reject(m, NULL, n, CG_ERR_CORRUPT);
        memcpy(bad, st, n * sizeof(double));
        bad[0] = (double)((kind + 1) % 4); /* another kind */
        s_expect_reject(m, bad, n, CG_ERR_MISMATCH);
        memcpy(bad, st, n * sizeof(double));
        bad[1] = 3.0; /* another K */
        s_expect_reject(m, bad, n, CG_ERR_MISMATCH);
        memcpy(bad, st, n * sizeof(double));
        switch (kind) {
        case CG_MULT_SOFTMAX:
            bad[2 + 2 * 3] = -1e-12; /* negative second moment */
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            memcpy(bad, st, n * sizeof(double));
            bad[n - 1] = 2.5; /* non-integer step */
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            bad[n - 1] = -1.0;
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            break;
        case CG_MULT_PROJECTED:
            bad[2] = -0.01; /* negative lambda */
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            bad[2] = 0.6; /* above upper */
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            break;
        case CG_MULT_PID:
            bad[3] = -0.01; /* negative lambda */
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            memcpy(bad, st, n * sizeof(double));
            bad[4] = -0.5; /* negative integral */
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            memcpy(bad, st, n * sizeof(double));
            bad[6] = 2.0; /* |previous error| > 1 */
            s_expect_reject(m, bad, n, CG_ERR_CORRUPT);
            break;
        default: break;
        }
        CU_ASSERT_EQUAL(cg_mult_state_set(m, st, n), CG_OK);
        cg_mult_destroy(&m);
    }
}

static void test_update_rejects(void)
{
    const float d[2] = {0.05f, 0.2f};
    const float bad[][2] = {{NAN, 0.1f}, {0.1f, 1.5f}, {-0.1f, 0.1f}, {0.1f, INFINITY}};
    for (int kind = CG_MULT_SOFTMAX; kind <= CG_MULT_FIXED; kind++) {
        cg_config_t cfg = s_config((cg_mult_kind_t)kind, 2, d);
        cg_mult_t *m = cg_mult_new(&cfg);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        double before[64], after[64];
        size_t nb, na;
        s_state(m, before, &nb);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            CU_ASSERT_EQUAL(cg_mult_update(m, bad[i]), CG_ERR_RANGE);
        s_state(m, after, &na);
        CU_ASSERT(na == nb && memcmp(before, after, na * sizeof(double)) == 0);
        const float edge[2] = {0.0f, 1.0f};
        CU_ASSERT_EQUAL(cg_mult_update(m, edge), CG_OK);
        cg_mult_destroy(&m);
    }
}

static void test_bad_config(void)
{
    const float d[2] = {0.05f, 0.2f};
    cg_config_t cfg = s_config(CG_MULT_SOFTMAX, 2, d);
    cfg.n_constraints = CG_MAX_COSTS + 1;
    CU_ASSERT_PTR_NULL(cg_mult_new(&cfg));
    cfg = s_config(CG_MULT_SOFTMAX, 2, d);
    cfg.constraints[1].threshold = 1.5f;
    CU_ASSERT_PTR_NULL(cg_mult_new(&cfg));
    cfg = s_config(CG_MULT_SOFTMAX, 2, d);
    cfg.mult_temperature = 0.0f;
    CU_ASSERT_PTR_NULL(cg_mult_new(&cfg));
    cfg = s_config(CG_MULT_SOFTMAX, 2, d);
    cfg.mult_beta2 = 1.0f;
    CU_ASSERT_PTR_NULL(cg_mult_new(&cfg));
    cfg = s_config(CG_MULT_PROJECTED, 2, d);
    cfg.constraints[0].fixed_lambda = -0.1f;
    CU_ASSERT_PTR_NULL(cg_mult_new(&cfg));
    cfg = s_config(CG_MULT_PID, 2, d);
    cfg.mult_ki = NAN;
    CU_ASSERT_PTR_NULL(cg_mult_new(&cfg));
    cfg = s_config((cg_mult_kind_t)9, 2, d);
    CU_ASSERT_PTR_NULL(cg_mult_new(&cfg));
}

/* A rate kept above its threshold raises that constraint's lambda every step, one kept below
 * lowers it; the other constraint sits exactly at its threshold. */
static void test_long_run_direction(void)
{
    const float d[2] = {0.1f, 0.25f};
    for (int kind = CG_MULT_SOFTMAX; kind <= CG_MULT_PID; kind++) {
        for (int dir = 0; dir < 2; dir++) {
            cg_config_t cfg = s_config((cg_mult_kind_t)kind, 2, d);
            cfg.constraints[0].fixed_lambda = 0.5f;
            cg_mult_t *m = cg_mult_new(&cfg);
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            const float rate[2] = {dir ? 0.3f : 0.02f, 0.25f};
            float lambda[3], first;
            cg_mult_lambda(m, lambda);
            first = lambda[1];
            float last = first;
            int steps = 0;
            for (int t = 0; t < 2000; t++) {
                CU_ASSERT_EQUAL_FATAL(cg_mult_update(m, rate), CG_OK);
                cg_mult_lambda(m, lambda);
                if (dir ? lambda[1] < last : lambda[1] > last)
                    steps++;
                last = lambda[1];
            }
            CU_ASSERT_EQUAL(steps, 0);
            CU_ASSERT(dir ? last > first + 0.1f : last < first - 0.1f);
            cg_mult_destroy(&m);
        }
    }
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"DESIGN worked Adam step", test_worked_adam_step},
        {"softmax lambdas on the simplex", test_softmax_simplex},
        {"projected clamps at 0 and upper", test_projected_clamps},
        {"pid formula and anti-windup", test_pid},
        {"fixed never moves", test_fixed},
        {"state round trip is bit-exact", test_state_round_trip},
        {"state_set rejects bad states", test_state_rejects},
        {"update rejects bad rates", test_update_rejects},
        {"bad config gives NULL", test_bad_config},
        {"long-run direction", test_long_run_direction},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("mult", tests, NULL, NULL);
}
