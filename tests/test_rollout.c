/* test_rollout: group rollouts on real simulators (gridworld, null): group structure and
 * member temperatures, complete groups for M < G, M == G and M > G, packed arrays that pass
 * the wire codec, behaviour log-probs equal log_softmax at T=1, version tracking, budget,
 * discard, determinism. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg_config.h"
#include "cg_msg.h"
#include "cg_policy.h"
#include "cg_rollout.h"
#include "cg_sim.h"
#include "cg_test.h"

typedef struct {
    cg_config_t cfg;
    cg_sim_t *sim;
    cg_policy_t *policy;
    cg_rollout_t *ro;
} s_env_t;

/* A simulator of m instances, a small MLP and a rollout of groups of g. */
static void s_setup(s_env_t *e, const char *sim, int32_t m, int32_t g, const float *temps,
                    uint64_t seed)
{
    char err[512] = "";
    memset(e, 0, sizeof *e);
    cg_config_defaults(&e->cfg);
    snprintf(e->cfg.sim, sizeof e->cfg.sim, "%s", sim);
    if (!strcmp(sim, "null"))
        e->cfg.horizon = 7; /* null episodes: 7 steps */
    e->cfg.instances = m;
    cg_status_t rc = cg_config_finish(&e->cfg, err, sizeof err);
    if (rc != CG_OK)
        fprintf(stderr, "cg_config_finish: %s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
    e->sim = cg_sim_new(&e->cfg, m, seed * 31 + 5, err, sizeof err);
    if (!e->sim)
        fprintf(stderr, "cg_sim_new(%s): %s\n", sim, err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->sim);
    const cg_sim_info_t *info = cg_sim_info(e->sim);
    cg_policy_shape_t shape = {info->obs_dim, info->n_actions,     1, {16},
                               CG_ACT_TANH,   CG_HEAD_CATEGORICAL, 0};
    e->policy = cg_policy_new(&shape, 1234);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->policy);
    /* Sharper logits than the near-uniform init so temperatures change the samples. */
    float *p = cg_policy_params(e->policy);
    for (size_t i = 0; i < cg_policy_n_params(e->policy); i++)
        p[i] *= 8.0f;
    cg_rollout_opts_t opts = {g, temps ? g : 0, temps, seed, 1.0f};
    e->ro = cg_rollout_new(e->sim, e->policy, &opts, err, sizeof err);
    if (!e->ro)
        fprintf(stderr, "cg_rollout_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e->ro);
}

static void s_teardown(s_env_t *e)
{
    cg_rollout_destroy(&e->ro);
    cg_policy_destroy(&e->policy);
    cg_sim_destroy(&e->sim);
    CU_ASSERT_PTR_NULL(e->ro);
}

/* Steps until exactly n groups are done (budget n): every group started also finishes. */
static void s_run_groups(s_env_t *e, int32_t n)
{
    cg_rollout_set_budget(e->ro, n);
    int guard = 0;
    while (cg_rollout_budget(e->ro) != 0 || cg_rollout_in_flight(e->ro) > 0) {
        cg_rollout_step(e->ro);
        CU_ASSERT_FATAL(++guard < 1000000);
    }
    CU_ASSERT_EQUAL(cg_rollout_n_ready(e->ro), n);
    CU_ASSERT_EQUAL(cg_rollout_step(e->ro), 0); /* budget spent: nothing runs */
}

/* Encodes the taken groups and decodes them with the learner's validation: shapes, lengths,
 * packed array sizes, actions in range, costs in {0,1}, logp <= 0. */
static void s_check_wire(const s_env_t *e, const cg_msg_groups_t *b)
{
    cg_msg_t msg, back;
    memset(&msg, 0, sizeof msg);
    msg.type = CG_MSG_GROUPS;
    snprintf(msg.run_id, sizeof msg.run_id, "test");
    msg.u.groups = *b;
    uint8_t *buf = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&msg, &buf, &len), CG_OK);
    cg_msg_caps_t caps;
    cg_msg_caps_from(&e->cfg, &caps);
    char err[512] = "";
    cg_status_t rc = cg_msg_decode(buf, len, &caps, "test", &back, err, sizeof err);
    if (rc != CG_OK)
        fprintf(stderr, "decode: %s\n", err);
    CU_ASSERT_EQUAL(rc, CG_OK);
    if (rc == CG_OK) {
        CU_ASSERT_EQUAL(back.u.groups.n_groups, b->n_groups);
        CU_ASSERT_EQUAL(back.u.groups.group_size, b->group_size);
        for (int32_t g = 0; g < b->n_groups; g++)
            for (int32_t j = 0; j < b->group_size; j++)
                CU_ASSERT_EQUAL(back.u.groups.groups[g].episodes[j].length,
                                b->groups[g].episodes[j].length);
    }
    cg_msg_free(&back);
    free(buf);
}

static void s_check_groups(const s_env_t *e, const cg_msg_groups_t *b, int32_t g,
                           const float *temps)
{
    const cg_sim_info_t *info = cg_sim_info(e->sim);
    CU_ASSERT_EQUAL(b->group_size, g);
    CU_ASSERT_EQUAL(b->obs_dim, info->obs_dim);
    CU_ASSERT_EQUAL(b->n_actions, info->n_actions);
    CU_ASSERT_EQUAL(b->n_costs, info->n_costs);
    size_t d = (size_t)info->obs_dim;
    for (int32_t k = 0; k < b->n_groups; k++) {
        const cg_msg_group_t *grp = &b->groups[k];
        for (int32_t j = 0; j < g; j++) {
            const cg_msg_episode_t *ep = &grp->episodes[j];
            CU_ASSERT_FATAL(ep->length >= 1);
            if (info->max_steps > 0)
                CU_ASSERT(ep->length <= info->max_steps);
            CU_ASSERT_EQUAL(ep->temperature, temps ? temps[j] : 1.0f);
            /* Same init_seed -> same initial state for every member. */
            CU_ASSERT_EQUAL(memcmp(ep->obs, grp->episodes[0].obs, d * sizeof(float)), 0);
            for (int32_t c = 0; c < b->n_costs; c++)
                CU_ASSERT(ep->cost[c] == 0.0f || ep->cost[c] == 1.0f);
        }
        for (int32_t k2 = 0; k2 < k; k2++)
            CU_ASSERT_NOT_EQUAL(grp->init_seed, b->groups[k2].init_seed);
    }
    s_check_wire(e, b);
}

/* M < G (a group in waves), M == G, M > G (several groups in flight): all complete. */
static void s_sizes(const char *sim)
{
    const int32_t cases[][2] = {{3, 8}, {4, 4}, {13, 4}, {1, 1}, {5, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int32_t m = cases[c][0], g = cases[c][1];
        s_env_t e;
        s_setup(&e, sim, m, g, NULL, 11 + c);
        s_run_groups(&e, 5);
        cg_msg_groups_t b;
        CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 0, 0, &b), 5);
        CU_ASSERT_EQUAL(b.n_groups, 5);
        CU_ASSERT_EQUAL(cg_rollout_n_ready(e.ro), 0);
        s_check_groups(&e, &b, g, NULL);
        if (!strcmp(sim, "null"))
            for (int32_t k = 0; k < b.n_groups; k++)
                for (int32_t j = 0; j < g; j++)
                    CU_ASSERT_EQUAL(b.groups[k].episodes[j].length, e.cfg.horizon);
        cg_rollout_stats_t st;
        cg_rollout_stats(e.ro, &st);
        CU_ASSERT_EQUAL(st.groups, 5);
        CU_ASSERT_EQUAL(st.episodes, (uint64_t)(5 * g));
        uint64_t steps = 0;
        for (int32_t k = 0; k < b.n_groups; k++)
            for (int32_t j = 0; j < g; j++)
                steps += (uint64_t)b.groups[k].episodes[j].length;
        CU_ASSERT_EQUAL(st.steps, steps);
        cg_rollout_release(e.ro);
        s_teardown(&e);
    }
}

static void test_rollout_sizes_gridworld(void)
{
    s_sizes("gridworld");
}

static void test_rollout_sizes_null(void)
{
    s_sizes("null");
}

/* With M > G several groups are in flight at once; with M < G one group runs in waves. */
static void test_rollout_in_flight(void)
{
    s_env_t e;
    s_setup(&e, "null", 13, 4, NULL, 3);
    cg_rollout_step(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_in_flight(e.ro), 4); /* 3 full groups + 1 started */
    s_teardown(&e);
    s_setup(&e, "null", 3, 8, NULL, 3);
    cg_rollout_step(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_in_flight(e.ro), 1);
    s_teardown(&e);
}

/* Member j is sampled at tau_j; the recorded logp is log_softmax(logits)[a] at T = 1. */
static void test_rollout_temperatures_and_logp(void)
{
    const float temps[4] = {0.1f, 0.4f, 0.7f, 1.0f};
    s_env_t e;
    s_setup(&e, "gridworld", 6, 4, temps, 21);
    s_run_groups(&e, 6);
    cg_msg_groups_t b;
    CU_ASSERT_EQUAL_FATAL(cg_rollout_take(e.ro, 0, 0, &b), 6);
    s_check_groups(&e, &b, 4, temps);

    const cg_sim_info_t *info = cg_sim_info(e.sim);
    int32_t a = info->n_actions;
    float *logits = NULL, lp[64];
    CU_ASSERT_FATAL(a <= 64);
    double max_err = 0.0;
    for (int32_t k = 0; k < b.n_groups; k++) {
        for (int32_t j = 0; j < 4; j++) {
            const cg_msg_episode_t *ep = &b.groups[k].episodes[j];
            logits = realloc(logits, (size_t)ep->length * (size_t)a * sizeof(float));
            cg_policy_forward(e.policy, ep->obs, ep->length, logits);
            for (int32_t t = 0; t < ep->length; t++) {
                CU_ASSERT_FATAL(ep->action[t] >= 0 && ep->action[t] < a);
                cg_policy_log_softmax(logits + (size_t)t * (size_t)a, a, 1.0f, lp);
                double d = fabs((double)lp[ep->action[t]] - (double)ep->logp[t]);
                if (d > max_err)
                    max_err = d;
            }
        }
    }
    CU_ASSERT(max_err < 1e-4);
    free(logits);
    cg_rollout_release(e.ro);
    s_teardown(&e);
}

/* A cold member (tau = 0.05) picks the argmax far more often than a hot one (tau = 5). */
static void test_rollout_temperature_effect(void)
{
    const float temps[2] = {0.05f, 5.0f};
    s_env_t e;
    s_setup(&e, "gridworld", 4, 2, temps, 5);
    s_run_groups(&e, 40);
    cg_msg_groups_t b;
    CU_ASSERT_EQUAL_FATAL(cg_rollout_take(e.ro, 0, 0, &b), 40);
    int32_t a = cg_sim_info(e.sim)->n_actions;
    float logits[64];
    CU_ASSERT_FATAL(a <= 64);
    int argmax_hits[2] = {0, 0}, total[2] = {0, 0};
    for (int32_t k = 0; k < b.n_groups; k++) {
        for (int32_t j = 0; j < 2; j++) {
            const cg_msg_episode_t *ep = &b.groups[k].episodes[j];
            for (int32_t t = 0; t < ep->length; t++) {
                cg_policy_forward(e.policy, ep->obs + (size_t)t * (size_t)b.obs_dim, 1, logits);
                int32_t best = 0;
                for (int32_t i = 1; i < a; i++)
                    if (logits[i] > logits[best])
                        best = i;
                argmax_hits[j] += ep->action[t] == best;
                total[j]++;
            }
        }
    }
    if (a > 1)
        CU_ASSERT((double)argmax_hits[0] / total[0] > (double)argmax_hits[1] / total[1]);
    cg_rollout_release(e.ro);
    s_teardown(&e);
}

/* Same seeds and weights -> bit-identical groups; another rollout seed -> different. */
static void s_collect(uint64_t seed, uint8_t **buf, size_t *len)
{
    s_env_t e;
    s_setup(&e, "gridworld", 5, 4, NULL, seed);
    s_run_groups(&e, 7);
    cg_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.type = CG_MSG_GROUPS;
    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 0, 0, &msg.u.groups), 7);
    CU_ASSERT_EQUAL(cg_msg_encode(&msg, buf, len), CG_OK);
    cg_rollout_release(e.ro);
    s_teardown(&e);
}

static void test_rollout_deterministic(void)
{
    uint8_t *a = NULL, *b = NULL, *c = NULL;
    size_t la = 0, lb = 0, lc = 0;
    s_collect(77, &a, &la);
    s_collect(77, &b, &lb);
    s_collect(78, &c, &lc);
    CU_ASSERT_EQUAL(la, lb);
    CU_ASSERT(la == lb && memcmp(a, b, la) == 0);
    CU_ASSERT(la != lc || memcmp(a, c, la) != 0);
    free(a);
    free(b);
    free(c);
}

/* A group's version is the oldest of its steps; a batch's is the oldest of its groups. */
static void test_rollout_versions(void)
{
    s_env_t e;
    s_setup(&e, "null", 4, 4, NULL, 9); /* null episodes: 7 steps */
    cg_rollout_set_version(e.ro, 3);
    cg_rollout_set_budget(e.ro, 2);
    for (int i = 0; i < 3; i++)
        cg_rollout_step(e.ro); /* group 1 started at version 3 */
    cg_rollout_set_version(e.ro, 5);
    while (cg_rollout_in_flight(e.ro) > 0 || cg_rollout_budget(e.ro) != 0)
        cg_rollout_step(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_n_ready(e.ro), 2);
    cg_msg_groups_t b;
    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 1, 0, &b), 1);
    CU_ASSERT_EQUAL(b.policy_version, 3);
    cg_rollout_release(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 1, 0, &b), 1);
    CU_ASSERT_EQUAL(b.policy_version, 5);
    cg_rollout_release(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 1, 0, &b), 0);
    CU_ASSERT_PTR_NULL(b.groups);
    cg_rollout_release(e.ro);
    s_teardown(&e);
}

/* take honours max_groups and max_bytes (always at least one); discard drops all unsent
 * groups; taken groups stay intact while the rollout keeps stepping; buffers are reused. */
static void test_rollout_take_discard(void)
{
    s_env_t e;
    s_setup(&e, "null", 8, 2, NULL, 4);
    s_run_groups(&e, 6);
    cg_msg_groups_t b;
    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 4, 0, &b), 4);
    cg_rollout_release(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 0, 1, &b), 1); /* tiny byte cap: one group */
    cg_rollout_release(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_n_ready(e.ro), 1);

    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 0, 0, &b), 1);
    uint64_t seed = b.groups[0].init_seed;
    float first_obs = b.groups[0].episodes[1].obs[0];
    int32_t len = b.groups[0].episodes[1].length;
    cg_rollout_set_budget(e.ro, -1);
    for (int i = 0; i < 50; i++)
        cg_rollout_step(e.ro); /* taken buffers must not be touched */
    CU_ASSERT_EQUAL(b.groups[0].init_seed, seed);
    CU_ASSERT_EQUAL(b.groups[0].episodes[1].obs[0], first_obs);
    CU_ASSERT_EQUAL(b.groups[0].episodes[1].length, len);
    CU_ASSERT(cg_rollout_n_ready(e.ro) > 0);
    cg_rollout_discard(e.ro);
    CU_ASSERT_EQUAL(cg_rollout_n_ready(e.ro), 0);
    CU_ASSERT_EQUAL(cg_rollout_in_flight(e.ro), 0);
    CU_ASSERT_EQUAL(b.groups[0].init_seed, seed); /* taken groups survive discard */
    cg_rollout_release(e.ro);

    s_run_groups(&e, 3);
    CU_ASSERT_EQUAL(cg_rollout_take(e.ro, 0, 0, &b), 3);
    s_check_groups(&e, &b, 2, NULL);
    cg_rollout_release(e.ro);
    s_teardown(&e);
}

/* Bad options are refused with a message. */
static void test_rollout_bad_opts(void)
{
    s_env_t e;
    s_setup(&e, "null", 2, 2, NULL, 1);
    char err[256] = "";
    float bad[2] = {1.0f, 0.0f};
    cg_rollout_opts_t o1 = {0, 0, NULL, 1, 1.0f}, o2 = {2, 2, bad, 1, 1.0f},
                      o3 = {2, 3, bad, 1, 1.0f};
    CU_ASSERT_PTR_NULL(cg_rollout_new(e.sim, e.policy, &o1, err, sizeof err));
    CU_ASSERT_PTR_NULL(cg_rollout_new(e.sim, e.policy, &o2, err, sizeof err));
    CU_ASSERT_PTR_NULL(cg_rollout_new(e.sim, e.policy, &o3, err, sizeof err));
    CU_ASSERT(strlen(err) > 0);
    const cg_sim_info_t *info = cg_sim_info(e.sim);
    cg_policy_shape_t shape = {info->obs_dim + 1, info->n_actions,     0, {0},
                               CG_ACT_TANH,       CG_HEAD_CATEGORICAL, 0};
    cg_policy_t *wrong = cg_policy_new(&shape, 1);
    cg_rollout_opts_t ok = {2, 0, NULL, 1, 1.0f};
    CU_ASSERT_PTR_NULL(cg_rollout_new(e.sim, wrong, &ok, err, sizeof err));
    cg_policy_destroy(&wrong);
    cg_rollout_destroy(NULL);
    s_teardown(&e);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"sizes_gridworld", test_rollout_sizes_gridworld},
        {"sizes_null", test_rollout_sizes_null},
        {"in_flight", test_rollout_in_flight},
        {"temperatures_and_logp", test_rollout_temperatures_and_logp},
        {"temperature_effect", test_rollout_temperature_effect},
        {"deterministic", test_rollout_deterministic},
        {"versions", test_rollout_versions},
        {"take_discard", test_rollout_take_discard},
        {"bad_opts", test_rollout_bad_opts},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("rollout", tests, NULL, NULL);
}
