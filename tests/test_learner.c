/* test_learner: the learner's batch (stats, staleness, ordering, moving groups between the
 * two batches, minibatch weights, advantages), the updater (its thread gives the same
 * weights as inline, bit for bit; the pipe it talks over), its metrics files, checkpoint
 * refusal on resume (corrupt, other shape, other run), and the environment spec it is given
 * (it links no simulator). In-process; sockets bind 127.0.0.1 on OS-picked ports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_adv.h"
#include "cg_alloc.h"
#include "cg_batch.h"
#include "cg_ckpt.h"
#include "cg_learner.h"
#include "cg_metrics.h"
#include "cg_test.h"
#include "cg_transport.h"
#include "cg_updater.h"

enum { G = 4, K = 2, D = 3 };

/* A message of n_groups groups; episode lengths 1 + (g + j) % 3, reward j % 2, cost k
 * violated when (g + j + k) % 3 == 0. Owns its arrays (freed by s_free_groups). */
static void s_make_groups(cg_msg_groups_t *m, int32_t n_groups, uint64_t version, int32_t actor,
                          uint64_t seq)
{
    memset(m, 0, sizeof *m);
    m->policy_version = version;
    m->actor_id = actor;
    m->seq = seq;
    m->group_size = G;
    m->n_costs = K;
    m->obs_dim = D;
    m->n_actions = 2;
    m->n_groups = n_groups;
    m->groups = cg_calloc((size_t)n_groups, sizeof *m->groups);
    for (int32_t g = 0; g < n_groups; g++) {
        m->groups[g].init_seed = seq * 100 + (uint64_t)g;
        m->groups[g].episodes = cg_calloc(G, sizeof(cg_msg_episode_t));
        for (int32_t j = 0; j < G; j++) {
            cg_msg_episode_t *ep = &m->groups[g].episodes[j];
            ep->length = 1 + (g + j) % 3;
            ep->reward = (float)(j % 2);
            for (int32_t k = 0; k < K; k++)
                ep->cost[k] = (g + j + k) % 3 == 0 ? 1.0f : 0.0f;
            ep->temperature = 1.0f;
            ep->obs = cg_calloc((size_t)ep->length * D, sizeof(float));
            ep->action = cg_calloc((size_t)ep->length, sizeof(int32_t));
            ep->logp = cg_calloc((size_t)ep->length, sizeof(float));
            for (int32_t t = 0; t < ep->length; t++) {
                ep->obs[t * D] =
                    (float)(actor * 1000 + (int)seq * 10 + g); /* identifies the group */
                ep->logp[t] = -0.5f;
            }
        }
    }
}

static void s_free_groups(cg_msg_groups_t *m)
{
    for (int32_t g = 0; g < m->n_groups; g++) {
        for (int32_t j = 0; j < G; j++) {
            free(m->groups[g].episodes[j].obs);
            free(m->groups[g].episodes[j].action);
            free(m->groups[g].episodes[j].logp);
        }
        free(m->groups[g].episodes);
    }
    free(m->groups);
}

static void test_batch_stats_and_staleness(void)
{
    cg_batch_t *b = cg_batch_new(G, K, D);
    cg_msg_groups_t m1, m2, bad;
    s_make_groups(&m1, 2, 5, 0, 0);
    s_make_groups(&m2, 1, 3, 1, 0);
    CU_ASSERT_EQUAL(cg_batch_add(b, &m1), CG_OK);
    CU_ASSERT_EQUAL(cg_batch_add(b, &m2), CG_OK);
    s_make_groups(&bad, 1, 5, 0, 1);
    bad.obs_dim = D + 1;
    CU_ASSERT_EQUAL(cg_batch_add(b, &bad), CG_ERR_SHAPE);
    CU_ASSERT_EQUAL(cg_batch_n_groups(b), 3);

    cg_batch_stats_t st;
    cg_batch_stats(b, 3, 6, &st);
    CU_ASSERT_EQUAL(st.n_episodes, 12);
    CG_ASSERT_NEAR(st.reward_mean, 0.5, 1e-12);
    CG_ASSERT_NEAR(st.goal_rate, 0.5, 1e-12);
    /* groups g=0,1 (m1) and g=0 (m2): cost k violated when (g+j+k)%3==0 */
    int viol[K] = {0};
    int gs[3] = {0, 1, 0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < G; j++)
            for (int k = 0; k < K; k++)
                viol[k] += (gs[i] + j + k) % 3 == 0;
    for (int k = 0; k < K; k++)
        CG_ASSERT_NEAR(st.cost_rate[k], viol[k] / 12.0, 1e-12);
    CG_ASSERT_NEAR(st.frac_zero_std_reward, 0.0, 1e-12);
    CG_ASSERT_NEAR(st.lag_mean, (1 + 1 + 3) / 3.0, 1e-12);
    CG_ASSERT_NEAR(st.lag_max, 3.0, 1e-12);

    /* At version 6 with max lag 1, the version-3 group is stale. */
    CU_ASSERT_EQUAL(cg_batch_drop_stale(b, 6, 1), 1);
    CU_ASSERT_EQUAL(cg_batch_n_groups(b), 2);
    cg_batch_stats(b, 2, 6, &st);
    CG_ASSERT_NEAR(st.lag_max, 1.0, 1e-12);
    s_free_groups(&m1);
    s_free_groups(&m2);
    s_free_groups(&bad);
    cg_batch_destroy(&b);
    CU_ASSERT_PTR_NULL(b);
}

/* Sorting orders groups by (actor, seq, index) whatever the arrival order; consume keeps
 * the rest in order. */
static void test_batch_sort_consume(void)
{
    cg_batch_t *b = cg_batch_new(G, K, D);
    cg_msg_groups_t m[3];
    s_make_groups(&m[0], 2, 1, 2, 0); /* actor 2 */
    s_make_groups(&m[1], 1, 1, 0, 1); /* actor 0 seq 1 */
    s_make_groups(&m[2], 1, 1, 0, 0); /* actor 0 seq 0 */
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(cg_batch_add(b, &m[i]), CG_OK);
    cg_batch_sort(b);
    /* obs[0] of each group's first step identifies it: actor*1000 + seq*10 + g */
    const float expect[4] = {0, 10, 2000, 2001};
    const float *obs = cg_batch_obs(b);
    int64_t s = 0;
    for (int g = 0; g < 4; g++) {
        CG_ASSERT_NEAR(obs[s * D], expect[g], 0);
        for (int j = 0; j < G; j++)
            s += 1 + ((g == 3 ? 1 : 0) + j) % 3; /* lengths depend on the index in the message */
    }
    cg_batch_consume(b, 2);
    CU_ASSERT_EQUAL(cg_batch_n_groups(b), 2);
    CG_ASSERT_NEAR(cg_batch_obs(b)[0], 2000, 0);
    for (int i = 0; i < 3; i++)
        s_free_groups(&m[i]);
    cg_batch_destroy(&b);
}

/* take moves every group, in order, behind dst's own; src ends empty and usable. */
static void test_batch_take(void)
{
    cg_batch_t *dst = cg_batch_new(G, K, D), *src = cg_batch_new(G, K, D);
    cg_msg_groups_t m[3];
    s_make_groups(&m[0], 2, 4, 1, 0); /* dst: groups 1000, 1001 */
    s_make_groups(&m[1], 3, 5, 2, 0); /* src: groups 2000, 2001, 2002 */
    s_make_groups(&m[2], 1, 5, 3, 0);
    CU_ASSERT_EQUAL(cg_batch_add(dst, &m[0]), CG_OK);
    CU_ASSERT_EQUAL(cg_batch_add(src, &m[1]), CG_OK);
    const int64_t steps = cg_batch_n_steps(dst) + cg_batch_n_steps(src);
    cg_batch_take(dst, src);
    CU_ASSERT_EQUAL(cg_batch_n_groups(dst), 5);
    CU_ASSERT_EQUAL(cg_batch_n_steps(dst), steps);
    CU_ASSERT_EQUAL(cg_batch_n_groups(src), 0);
    CU_ASSERT_EQUAL(cg_batch_n_steps(src), 0);
    /* the first step of each group, in order: its id; every step of a group carries it */
    const float expect[5] = {1000, 1001, 2000, 2001, 2002};
    const float *obs = cg_batch_obs(dst);
    int64_t s = 0;
    for (int g = 0; g < 5; g++) {
        const int index = g < 2 ? g : g - 2; /* position in its message: sets lengths */
        for (int j = 0; j < G; j++)
            for (int t = 0; t < 1 + (index + j) % 3; t++, s++)
                CG_ASSERT_NEAR(obs[s * D], expect[g], 0);
    }
    CU_ASSERT_EQUAL(s, steps);
    cg_batch_stats_t st;
    cg_batch_stats(dst, 5, 5, &st);
    CG_ASSERT_NEAR(st.lag_max, 1.0, 0);
    CG_ASSERT_NEAR(st.lag_mean, 2.0 / 5.0, 1e-12);
    /* src takes new groups as before */
    CU_ASSERT_EQUAL(cg_batch_add(src, &m[2]), CG_OK);
    CU_ASSERT_EQUAL(cg_batch_n_groups(src), 1);
    CG_ASSERT_NEAR(cg_batch_obs(src)[0], 3000, 0);
    for (int i = 0; i < 3; i++)
        s_free_groups(&m[i]);
    cg_batch_destroy(&dst);
    cg_batch_destroy(&src);
}

/* A pipe carries pointers (NULL too) both ways and times out when empty. */
static void test_updater_pipe(void)
{
    cg_transport_t *t = cg_transport_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    cg_socket_t *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(cg_transport_pipe(t, &a, &b), CG_OK);
    int x = 0;
    void *got = NULL;
    CU_ASSERT_EQUAL(cg_transport_recv_ptr(b, 10, &got), CG_ERR_TIMEOUT);
    CU_ASSERT_EQUAL(cg_transport_send_ptr(a, &x), CG_OK);
    CU_ASSERT_EQUAL(cg_transport_send_ptr(a, NULL), CG_OK);
    CU_ASSERT_EQUAL(cg_transport_recv_ptr(b, 1000, &got), CG_OK);
    CU_ASSERT_PTR_EQUAL(got, &x);
    got = &x;
    CU_ASSERT_EQUAL(cg_transport_recv_ptr(b, 1000, &got), CG_OK);
    CU_ASSERT_PTR_NULL(got);
    CU_ASSERT_EQUAL(cg_transport_send_ptr(b, &x), CG_OK);
    CU_ASSERT_EQUAL(cg_transport_recv_ptr(a, 1000, &got), CG_OK);
    CU_ASSERT_PTR_EQUAL(got, &x);
    cg_transport_close(&a);
    cg_transport_close(&b);
    cg_transport_destroy(&t);
}

/* One batch of 6 groups (random observations and actions), advantages computed. */
static cg_batch_t *s_update_batch(cg_rng_t *rng)
{
    cg_batch_t *b = cg_batch_new(G, K, D);
    cg_msg_groups_t m;
    s_make_groups(&m, 6, 0, 0, 0);
    for (int32_t g = 0; g < m.n_groups; g++)
        for (int32_t j = 0; j < G; j++) {
            cg_msg_episode_t *ep = &m.groups[g].episodes[j];
            for (int32_t i = 0; i < ep->length * D; i++)
                ep->obs[i] = (float)(cg_rng_uniform(rng) * 2.0 - 1.0);
            for (int32_t i = 0; i < ep->length; i++)
                ep->action[i] = (int32_t)cg_rng_below(rng, 2);
        }
    CU_ASSERT_EQUAL(cg_batch_add(b, &m), CG_OK);
    s_free_groups(&m);
    cg_adv_config_t acfg = {.estimator = CG_ADV_SCALARIZED_ADVANTAGES, .eps = 1e-8f};
    int32_t cost_index[K] = {0, 1};
    float lambda[K + 1] = {0.6f, 0.3f, 0.1f}, eff[K + 1];
    double neg = 0;
    CU_ASSERT_EQUAL(
        cg_batch_advantages(b, 6, &acfg, K, cost_index, lambda, 1, 0.025f, 0.01f, eff, &neg),
        CG_OK);
    return b;
}

/* The updater's thread and the inline path give bit-identical weights and statistics for
 * the same jobs (with a KL reference, asymmetric coefficients, 2 epochs x 3 minibatches);
 * collect without a job is refused; destroying with a job in flight waits for it. */
static void test_updater_threaded_matches_inline(void)
{
    const cg_policy_shape_t shape = {
        .obs_dim = D, .n_actions = 2, .n_hidden = 1, .hidden = {16}, .activation = CG_ACT_TANH};
    const cg_adam_config_t adam = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.5f};
    cg_transport_t *t = cg_transport_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    float *params[2];
    cg_update_job_t last[2];
    char err[256] = "";
    for (int threaded = 0; threaded < 2; threaded++) {
        cg_backend_t *be = cg_backend_new(CG_DEVICE_CPU, &shape, &adam, 11, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(be);
        const size_t n = cg_backend_n_params(be);
        params[threaded] = cg_calloc(n, sizeof(float));
        cg_policy_t *ref = cg_policy_new(&shape, 12);
        cg_rng_t shuffle, data;
        cg_rng_seed(&shuffle, 5, 5);
        cg_rng_seed(&data, 6, 6);
        cg_updater_t *u = cg_updater_new(t, be, ref, &shuffle, threaded, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(u);
        CU_ASSERT_EQUAL(cg_updater_socket(u) != NULL, threaded);
        cg_update_job_t *got = NULL;
        CU_ASSERT_EQUAL(cg_updater_collect(u, 0, &got), CG_ERR_INVAL);
        for (int round = 0; round < 3; round++) {
            cg_batch_t *b = s_update_batch(&data);
            cg_update_job_t job = {.batch = b,
                                   .n_groups = 6,
                                   .epochs = 2,
                                   .minibatches = 3,
                                   .asym_kl = 1,
                                   .loss = {0.2f, 0.0f, 0.01f}};
            CU_ASSERT_EQUAL(cg_updater_submit(u, &job), CG_OK);
            CU_ASSERT_TRUE(cg_updater_busy(u));
            CU_ASSERT_EQUAL(cg_updater_collect(u, -1, &got), CG_OK);
            CU_ASSERT_PTR_EQUAL(got, &job);
            CU_ASSERT_FALSE(cg_updater_busy(u));
            CU_ASSERT_EQUAL(job.status, CG_OK);
            CU_ASSERT_EQUAL(job.n_updates, 6);
            CU_ASSERT(job.loss_sum.kl > 0 && job.grad_norm_sum > 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(job.params);
            memcpy(params[threaded], job.params, n * sizeof(float));
            last[threaded] = job;
            cg_batch_destroy(&b);
        }
        /* the weights handed back are the backend's after the job */
        float *now = cg_calloc(n, sizeof(float));
        CU_ASSERT_EQUAL(cg_backend_get_params(be, now), CG_OK);
        CU_ASSERT_EQUAL(memcmp(now, params[threaded], n * sizeof(float)), 0);
        free(now);
        /* in flight at destroy: waited for, nothing leaks (the sanitizer build checks) */
        cg_batch_t *b = s_update_batch(&data);
        cg_update_job_t job = {
            .batch = b, .n_groups = 6, .epochs = 1, .minibatches = 1, .loss = {0.2f, 0.0f, 0.0f}};
        CU_ASSERT_EQUAL(cg_updater_submit(u, &job), CG_OK);
        cg_updater_destroy(&u);
        CU_ASSERT_PTR_NULL(u);
        cg_batch_destroy(&b);
        cg_policy_destroy(&ref);
        cg_policy_t *init = cg_policy_new(&shape, 11);
        CU_ASSERT(memcmp(cg_policy_params(init), params[threaded], n * sizeof(float)) != 0);
        cg_policy_destroy(&init);
        if (threaded) {
            CU_ASSERT_EQUAL(memcmp(params[0], params[1], n * sizeof(float)), 0);
            CU_ASSERT_EQUAL(memcmp(&last[0].loss_sum, &last[1].loss_sum, sizeof last[0].loss_sum),
                            0);
            CU_ASSERT_EQUAL(last[0].grad_norm_sum, last[1].grad_norm_sum);
        }
        cg_backend_destroy(&be);
    }
    free(params[0]);
    free(params[1]);
    cg_transport_destroy(&t);
}

/* A job whose update turns non-finite (a NaN observation, as if past validation): the
 * backend's parameters and Adam state are exactly as before it, the status says so, and
 * the one sender whose group the network maps to non-finite logits is named; the next job
 * trains as usual. */
static void test_updater_failed_job(void)
{
    const cg_policy_shape_t shape = {
        .obs_dim = D, .n_actions = 2, .n_hidden = 1, .hidden = {16}, .activation = CG_ACT_TANH};
    const cg_adam_config_t adam = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.5f};
    char err[256] = "";
    cg_backend_t *be = cg_backend_new(CG_DEVICE_CPU, &shape, &adam, 11, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    const size_t n = cg_backend_n_params(be);
    cg_rng_t shuffle, data;
    cg_rng_seed(&shuffle, 5, 5);
    cg_rng_seed(&data, 6, 6);
    cg_updater_t *u = cg_updater_new(NULL, be, NULL, &shuffle, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    /* one ordinary job first, so that Adam's state is not all zeros */
    cg_batch_t *b = s_update_batch(&data);
    cg_update_job_t job = {
        .batch = b, .n_groups = 6, .epochs = 1, .minibatches = 2, .loss = {0.2f, 0.0f, 0.01f}};
    cg_update_job_t *got = NULL;
    CU_ASSERT_EQUAL(cg_updater_submit(u, &job), CG_OK);
    CU_ASSERT_EQUAL(cg_updater_collect(u, -1, &got), CG_OK);
    CU_ASSERT_EQUAL_FATAL(job.status, CG_OK);
    CU_ASSERT_EQUAL(job.n_blamed, 0);
    cg_batch_destroy(&b);

    float *p0 = cg_calloc(n, sizeof(float)), *m0 = cg_calloc(n, sizeof(float)),
          *v0 = cg_calloc(n, sizeof(float)), *p1 = cg_calloc(n, sizeof(float)),
          *m1 = cg_calloc(n, sizeof(float)), *v1 = cg_calloc(n, sizeof(float));
    int64_t s0 = 0, s1 = 0;
    CU_ASSERT_EQUAL(cg_backend_get_params(be, p0), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_optim(be, m0, v0, &s0), CG_OK);
    CU_ASSERT(s0 > 0);
    /* 6 good groups from actor 0, then 2 from actor 7, the second with a NaN observation */
    b = s_update_batch(&data);
    cg_msg_groups_t m;
    s_make_groups(&m, 2, 0, 7, 1);
    m.groups[1].episodes[2].obs[0] = NAN;
    CU_ASSERT_EQUAL(cg_batch_add(b, &m), CG_OK);
    s_free_groups(&m);
    cg_adv_config_t acfg = {.estimator = CG_ADV_SCALARIZED_ADVANTAGES, .eps = 1e-8f};
    int32_t cost_index[K] = {0, 1};
    float lambda[K + 1] = {0.6f, 0.3f, 0.1f}, eff[K + 1];
    CU_ASSERT_EQUAL(cg_batch_advantages(b, 8, &acfg, K, cost_index, lambda, 0, 0, 0, eff, NULL),
                    CG_OK);
    job = (cg_update_job_t){
        .batch = b, .n_groups = 8, .epochs = 2, .minibatches = 4, .loss = {0.2f, 0.0f, 0.01f}};
    CU_ASSERT_EQUAL(cg_updater_submit(u, &job), CG_OK);
    CU_ASSERT_EQUAL(cg_updater_collect(u, -1, &got), CG_OK);
    CU_ASSERT_EQUAL(job.status, CG_ERR_NONFINITE);
    CU_ASSERT_EQUAL(job.n_blamed, 1);
    CU_ASSERT_EQUAL(job.blamed[0], 7);
    CU_ASSERT_EQUAL(job.blamed_groups, 1);
    CU_ASSERT_EQUAL(cg_backend_get_params(be, p1), CG_OK);
    CU_ASSERT_EQUAL(cg_backend_get_optim(be, m1, v1, &s1), CG_OK);
    CU_ASSERT_EQUAL(memcmp(p0, p1, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(m0, m1, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(v0, v1, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(s0, s1);
    cg_batch_destroy(&b);

    b = s_update_batch(&data);
    job = (cg_update_job_t){
        .batch = b, .n_groups = 6, .epochs = 1, .minibatches = 2, .loss = {0.2f, 0.0f, 0.01f}};
    CU_ASSERT_EQUAL(cg_updater_submit(u, &job), CG_OK);
    CU_ASSERT_EQUAL(cg_updater_collect(u, -1, &got), CG_OK);
    CU_ASSERT_EQUAL(job.status, CG_OK);
    CU_ASSERT(memcmp(p0, job.params, n * sizeof(float)) != 0);
    cg_batch_destroy(&b);
    free(p0);
    free(m0);
    free(v0);
    free(p1);
    free(m1);
    free(v1);
    cg_updater_destroy(&u);
    cg_backend_destroy(&be);
}

/* Every episode lands in exactly one minibatch per epoch; per-step weights make each
 * minibatch the mean over its episodes of the mean over their steps; advantages equal
 * cg_adv_group's and are broadcast to every step. */
static void test_batch_minibatches(void)
{
    cg_batch_t *b = cg_batch_new(G, K, D);
    cg_msg_groups_t m;
    s_make_groups(&m, 5, 0, 0, 0);
    CU_ASSERT_EQUAL(cg_batch_add(b, &m), CG_OK);
    cg_adv_config_t acfg = {.estimator = CG_ADV_SCALARIZED_ADVANTAGES, .eps = 1e-8f};
    int32_t cost_index[K] = {1, 0}; /* enforced constraint 0 reads cost 1 */
    float lambda[K + 1] = {0.5f, 0.3f, 0.2f}, eff[K + 1];
    double neg = 0;
    CU_ASSERT_EQUAL(
        cg_batch_advantages(b, 5, &acfg, K, cost_index, lambda, 1, 0.025f, 0.01f, eff, &neg),
        CG_OK);
    CG_ASSERT_NEAR(eff[0], 0.5, 1e-6);
    CG_ASSERT_NEAR(eff[1], -0.3, 1e-6);
    /* reference advantages of group 0 */
    float r[G], c[K * G], a_ref[G];
    for (int j = 0; j < G; j++) {
        r[j] = m.groups[0].episodes[j].reward;
        c[0 * G + j] = m.groups[0].episodes[j].cost[1];
        c[1 * G + j] = m.groups[0].episodes[j].cost[0];
    }
    CU_ASSERT_EQUAL(cg_adv_group(&acfg, G, K, r, c, lambda, 1, a_ref, NULL), CG_OK);

    cg_rng_t rng;
    cg_rng_seed(&rng, 3, 3);
    int seen[5 * G] = {0};
    const int n_mb = 3;
    cg_batch_shuffle(b, 5, n_mb, &rng);
    int64_t steps_total = 0;
    for (int i = 0; i < n_mb; i++) {
        cg_minibatch_t mb;
        cg_batch_minibatch(b, i, 0, 1, &mb);
        /* Gathered in uneven pieces that split episodes, as a backend's threads do. */
        cg_minibatch_fill(&mb, mb.n / 3 + 1, mb.n);
        cg_minibatch_fill(&mb, 0, mb.n / 3);
        cg_minibatch_fill(&mb, mb.n / 3, mb.n / 3 + 1);
        CU_ASSERT_PTR_NULL(mb.logp_ref);
        CU_ASSERT_PTR_NOT_NULL(mb.kl_coef);
        double wsum = 0;
        for (int32_t t = 0; t < mb.n; t++) {
            wsum += mb.weight[t];
            CU_ASSERT(mb.kl_coef[t] == (mb.adv[t] < 0 ? 0.025f : 0.01f));
            int g = (int)mb.obs[t * D]; /* group id (actor 0, seq 0) */
            if (g == 0) {
                int hit = 0;
                for (int j = 0; j < G; j++)
                    hit |= fabsf(mb.adv[t] - a_ref[j]) < 1e-6f;
                CU_ASSERT(hit);
            }
        }
        CG_ASSERT_NEAR(wsum, 1.0, 1e-5);
        steps_total += mb.n;
    }
    /* each episode once: total steps equal the batch's */
    CU_ASSERT_EQUAL(steps_total, cg_batch_n_steps(b));
    (void)seen;
    s_free_groups(&m);
    cg_batch_destroy(&b);
}

static char s_tmp[256];

static int s_setup(void)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/cg_test_learner_XXXXXX");
    return mkdtemp(s_tmp) ? 0 : 1;
}

static int s_teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    return system(cmd) == 0 ? 0 : 1;
}

static int s_count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static void test_metrics_files(void)
{
    char dir[300], path[400], err[512];
    snprintf(dir, sizeof dir, "%s/metrics", s_tmp);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    cg_metrics_t *m = cg_metrics_open(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (int i = 0; i < 2; i++) {
        cg_metrics_add(m, "iteration", i + 1);
        cg_metrics_add(m, "goal_rate", 0.25 * i);
        CU_ASSERT_EQUAL(cg_metrics_commit(m), CG_OK);
    }
    cg_metrics_close(&m);
    /* resume with the same columns appends without a second header */
    m = cg_metrics_open(dir, err, sizeof err);
    cg_metrics_add(m, "iteration", 3);
    cg_metrics_add(m, "goal_rate", 0.5);
    CU_ASSERT_EQUAL(cg_metrics_commit(m), CG_OK);
    cg_metrics_close(&m);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    CU_ASSERT_EQUAL(s_count_lines(path), 4);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    CU_ASSERT_EQUAL(s_count_lines(path), 3);
    /* other columns are refused */
    m = cg_metrics_open(dir, err, sizeof err);
    cg_metrics_add(m, "iteration", 4);
    cg_metrics_add(m, "lava_rate", 0.5);
    CU_ASSERT_EQUAL(cg_metrics_commit(m), CG_ERR_MISMATCH);
    cg_metrics_close(&m);
}

/* metrics.csv read back: values, "nan" as NAN, a last line still being written is not a
 * row, a line of another width is skipped and counted; a row cut short by a stop is dropped
 * when the writer resumes; a missing file and an empty one are told apart. */
static void test_metrics_read_back(void)
{
    char dir[300], path[400], err[512];
    snprintf(dir, sizeof dir, "%s/metrics-read", s_tmp);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    cg_metrics_table_t t = {0};
    CU_ASSERT_EQUAL(cg_metrics_load(dir, &t, err, sizeof err), CG_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "metrics.csv"));
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL(cg_metrics_load(dir, &t, err, sizeof err), CG_ERR_INVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "is empty"));
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("iteration,goal_rate\n1,0.5\r\n2,nan\n3,0.7,9\n\n4,x\n5,0.9", f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(cg_metrics_load(dir, &t, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(t.n_cols, 2);
    CU_ASSERT_STRING_EQUAL(t.names[1], "goal_rate");
    CU_ASSERT_EQUAL(t.n_rows, 3); /* 1, 2, 4; 3 skipped; 5 unfinished */
    CU_ASSERT_EQUAL(t.n_skipped, 1);
    CU_ASSERT_EQUAL(t.skipped_line, 4);
    CU_ASSERT_EQUAL(cg_metrics_get(&t, 0, "goal_rate"), 0.5);
    CU_ASSERT(isnan(cg_metrics_get(&t, 1, "goal_rate")));
    CU_ASSERT(isnan(cg_metrics_get(&t, -1, "goal_rate")));
    CU_ASSERT_EQUAL(cg_metrics_get(&t, -1, "iteration"), 4);
    CU_ASSERT(isnan(cg_metrics_get(&t, 3, "iteration")));
    CU_ASSERT(isnan(cg_metrics_get(&t, 0, "no_such")));
    CU_ASSERT_EQUAL(cg_metrics_col(&t, "no_such"), -1);
    /* the writer resuming this file drops "5,0.9" before its row */
    cg_metrics_t *m = cg_metrics_open(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    cg_metrics_add(m, "iteration", 6);
    cg_metrics_add(m, "goal_rate", 1.0);
    CU_ASSERT_EQUAL(cg_metrics_commit(m), CG_OK);
    cg_metrics_close(&m);
    CU_ASSERT_EQUAL_FATAL(cg_metrics_load(dir, &t, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(t.n_rows, 4);
    CU_ASSERT_EQUAL(cg_metrics_get(&t, -1, "iteration"), 6);
    CU_ASSERT_EQUAL(cg_metrics_get(&t, -1, "goal_rate"), 1.0);
    cg_metrics_table_free(&t);
    CU_ASSERT_EQUAL(t.n_cols, 0);
}

/* The null simulator as the launcher describes it (cg_cmd_env): the learner links no
 * simulator, so its tests give it the spec by hand. */
static const cg_env_spec_t s_null_env = {
    .sim = "null", .obs_dim = 4, .n_actions = 2, .n_costs = 0, .max_steps = 32};

static void s_small_config(cg_config_t *cfg)
{
    char err[512];
    cg_config_defaults(cfg);
    CU_ASSERT_EQUAL_FATAL(cg_config_set(cfg, "sim.name=null", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_set(cfg, "policy.hidden=8,8", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(cfg, err, sizeof err), CG_OK);
}

/* A learner stopped at once: its checkpoint holds its initial weights. */
static void s_stopped_run(const char *dir, const cg_config_t *cfg, char *err, size_t errlen)
{
    cg_learner_opts_t opts = {cfg, &s_null_env, dir, 0, "", 0};
    cg_learner_t *l = cg_learner_new(&opts, err, errlen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    volatile sig_atomic_t stop = 1;
    CU_ASSERT_EQUAL(cg_learner_run(l, &stop), CG_ERR_INTERRUPTED);
    cg_learner_destroy(&l);
}

/* [train] init: a warm start takes another run's weights bit for bit (from its run directory
 * or a checkpoint file), and they are the KL reference too; another shape is refused naming
 * both; a missing path is refused. */
static void test_learner_warm_start(void)
{
    char a_dir[300], b_dir[300], c_dir[300], err[4096] = "";
    snprintf(a_dir, sizeof a_dir, "%s/warm-a", s_tmp);
    snprintf(b_dir, sizeof b_dir, "%s/warm-b", s_tmp);
    snprintf(c_dir, sizeof c_dir, "%s/warm-c", s_tmp);
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    s_small_config(cfg);
    s_stopped_run(a_dir, cfg, err, sizeof err); /* seed 1's random weights */
    const size_t n = 4 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2;
    float wa[256], wb[256], ref[256];
    CU_ASSERT_EQUAL_FATAL(cg_learner_read_params(a_dir, wa, n, NULL, err, sizeof err), CG_OK);

    cg_config_t *warm = cg_calloc(1, sizeof *warm);
    *warm = *cfg;
    warm->seed = 2; /* other random weights, had it not started warm */
    warm->kl_coef = 0.01f;
    snprintf(warm->init, sizeof warm->init, "%s", a_dir);
    snprintf(warm->run_id, sizeof warm->run_id, "warm-b");
    s_stopped_run(b_dir, warm, err, sizeof err);
    CU_ASSERT_EQUAL_FATAL(cg_learner_read_params(b_dir, wb, n, NULL, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(memcmp(wa, wb, n * sizeof(float)), 0);
    char ckdir[400], path[600];
    int64_t ver = -1;
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", b_dir);
    CU_ASSERT_EQUAL_FATAL(cg_ckpt_latest(ckdir, path, sizeof path, &ver, err, sizeof err), CG_OK);
    cg_status_t rc = CG_OK;
    cg_ckpt_t *ck = cg_ckpt_load(path, 1 << 20, &rc, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ck);
    CU_ASSERT_EQUAL(cg_ckpt_get_f32(ck, "reference", ref, n, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(memcmp(wa, ref, n * sizeof(float)), 0); /* the reference: the init */
    cg_ckpt_destroy(&ck);

    /* the checkpoint file itself, no KL */
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", a_dir);
    CU_ASSERT_EQUAL_FATAL(cg_ckpt_latest(ckdir, path, sizeof path, &ver, err, sizeof err), CG_OK);
    *warm = *cfg;
    warm->seed = 3;
    snprintf(warm->init, sizeof warm->init, "%s", path);
    snprintf(warm->run_id, sizeof warm->run_id, "warm-c");
    s_stopped_run(c_dir, warm, err, sizeof err);
    memset(wb, 0, sizeof wb);
    CU_ASSERT_EQUAL_FATAL(cg_learner_read_params(c_dir, wb, n, NULL, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(memcmp(wa, wb, n * sizeof(float)), 0);

    /* another shape; a path that is not there */
    *warm = *cfg;
    warm->hidden[0] = 16;
    snprintf(warm->init, sizeof warm->init, "%s", a_dir);
    char d_dir[300];
    snprintf(d_dir, sizeof d_dir, "%s/warm-d", s_tmp);
    cg_learner_opts_t opts = {warm, &s_null_env, d_dir, 0, "", 0};
    cg_learner_t *l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[train] init: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hidden 8,8 tanh"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hidden 16,8 tanh"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    printf("\n    %s\n", err);
    warm->hidden[0] = 8;
    snprintf(warm->init, sizeof warm->init, "%s/no-such-run", s_tmp);
    l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[train] init: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-run"));
    free(warm);
    free(cfg);
}

/* A learner stopped at once writes a checkpoint; resuming it works; a corrupt checkpoint,
 * one of another policy shape and one of another run are refused with clear messages. */
static void test_learner_checkpoint_refusals(void)
{
    char dir[300], err[2048] = "";
    snprintf(dir, sizeof dir, "%s/run", s_tmp);
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    s_small_config(cfg);
    cg_learner_opts_t opts = {cfg, &s_null_env, dir, 0, "", 0};
    cg_learner_t *l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT(cg_learner_port(l) > 0);
    volatile sig_atomic_t stop = 1;
    CU_ASSERT_EQUAL(cg_learner_run(l, &stop), CG_ERR_INTERRUPTED);
    cg_learner_destroy(&l);

    opts.resume = 1;
    l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(l);
    cg_learner_destroy(&l);

    /* another policy shape */
    cg_config_t *other = cg_calloc(1, sizeof *other);
    *other = *cfg;
    other->hidden[0] = 16;
    opts.cfg = other;
    l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "parameters"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    /* a refused resume leaves the run's config.ini as it was */
    char cfg_path[400];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.ini", dir);
    cg_config_t *back = cg_calloc(1, sizeof *back);
    cg_config_defaults(back);
    CU_ASSERT_EQUAL(cg_config_load(back, cfg_path, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(back->hidden[0], 8);
    free(back);
    /* another run */
    *other = *cfg;
    snprintf(other->run_id, sizeof other->run_id, "another-run");
    l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "another-run"));
    opts.cfg = cfg;

    /* corrupt: flip one byte in the middle of the latest checkpoint */
    char ckdir[400], path[600];
    int64_t ver = -1;
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", dir);
    CU_ASSERT_EQUAL_FATAL(cg_ckpt_latest(ckdir, path, sizeof path, &ver, err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL(ver, 0);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 2, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, size / 2, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    err[0] = 0;
    l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT(strlen(err) > 0);
    printf("\n    corrupt checkpoint refused: %s\n", err);
    free(other);
    free(cfg);
}

/* The environment spec is checked like any input: sizes in range, the episode cap within
 * [learner] max_episode_steps, every constraint naming one of its costs; a valid one with
 * costs and extra metrics columns starts a learner. */
static void test_learner_env_spec(void)
{
    char dir[300], err[2048] = "";
    cg_config_t *cfg = cg_calloc(1, sizeof *cfg);
    s_small_config(cfg);
    cg_env_spec_t env = s_null_env;
    cg_learner_opts_t opts = {cfg, &env, dir, 0, "", 0};

    snprintf(dir, sizeof dir, "%s/env-bad", s_tmp);
    const struct {
        int32_t obs_dim, n_actions, n_costs, n_metrics;
    } bad[] = {{0, 2, 0, 0},
               {4, 0, 0, 0},
               {4, 2, -1, 0},
               {4, 2, CG_MAX_COSTS + 1, 0},
               {4, 2, 0, CG_ENV_MAX_METRICS + 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        env = s_null_env;
        env.obs_dim = bad[i].obs_dim;
        env.n_actions = bad[i].n_actions;
        env.n_costs = bad[i].n_costs;
        env.n_metrics = bad[i].n_metrics;
        err[0] = '\0';
        cg_learner_t *l = cg_learner_new(&opts, err, sizeof err);
        CU_ASSERT_PTR_NULL(l);
        cg_learner_destroy(&l);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "environment spec of 'null' is invalid"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));
    }

    /* episodes longer than the learner accepts */
    env = s_null_env;
    env.max_steps = cfg->max_steps_per_episode + 1;
    cg_learner_t *l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "max_episode_steps"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "hint:"));

    /* a constraint on a cost the simulator does not have: its costs listed */
    cg_config_t *with = cg_calloc(1, sizeof *with);
    cg_config_defaults(with);
    CU_ASSERT_EQUAL_FATAL(cg_config_set(with, "policy.hidden=8", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_set(with, "constraints.lava=0.05", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(with, err, sizeof err), CG_OK);
    opts.cfg = with;
    env = (cg_env_spec_t){.sim = "mysim",
                          .obs_dim = 6,
                          .n_actions = 3,
                          .n_costs = 2,
                          .max_steps = 50,
                          .n_metrics = 1};
    snprintf(env.cost_names[0], CG_NAME_LEN, "crash");
    snprintf(env.cost_names[1], CG_NAME_LEN, "speeding");
    snprintf(env.metrics[0].name, CG_NAME_LEN, "hsr");
    env.metrics[0].stat = CG_ENV_STAT_GOAL_RATE;
    l = cg_learner_new(&opts, err, sizeof err);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "[constraints] lava"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'mysim'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "crash, speeding"));

    /* the same spec with a constraint it has: a learner, which knows no simulator by name */
    cg_config_defaults(with);
    CU_ASSERT_EQUAL_FATAL(cg_config_set(with, "policy.hidden=8", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_set(with, "constraints.speeding=0.05", err, sizeof err), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_config_finish(with, err, sizeof err), CG_OK);
    snprintf(dir, sizeof dir, "%s/env-good", s_tmp);
    l = cg_learner_new(&opts, err, sizeof err);
    if (!l)
        printf("\n%s\n", err);
    CU_ASSERT_PTR_NOT_NULL(l);
    cg_learner_destroy(&l);
    free(with);
    free(cfg);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"batch_stats_and_staleness", test_batch_stats_and_staleness},
        {"batch_sort_consume", test_batch_sort_consume},
        {"batch_take", test_batch_take},
        {"updater_pipe", test_updater_pipe},
        {"updater_threaded_matches_inline", test_updater_threaded_matches_inline},
        {"updater_failed_job_restores", test_updater_failed_job},
        {"batch_minibatches", test_batch_minibatches},
        {"metrics_files", test_metrics_files},
        {"metrics_read_back", test_metrics_read_back},
        {"warm_start", test_learner_warm_start},
        {"learner_checkpoint_refusals", test_learner_checkpoint_refusals},
        {"learner_env_spec", test_learner_env_spec},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("learner", tests, s_setup, s_teardown);
}
