/* test_msg_continuous: protocol version 3's continuous actions. A continuous GroupBatch
 * (action_vec, log-densities up to 4.1 per dimension) round-trips bit-exactly through the
 * general decoder (the fast path declines it); Hello.continuous_ok and Welcome.head round-trip;
 * the decoder refuses, with the field named, action vectors that are non-finite or of the
 * wrong length, integer actions in a continuous batch and vectors in a discrete one, a
 * log-density above the bound, and a Gaussian Welcome whose params lack the log-std. Wrong
 * mixes are written through the generated protobuf-c API, as a buggy peer would send them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_alloc.h"
#include "cg_msg.h"
#include "cg_msg_impl.h"
#include "cg_rng.h"
#include "cg_test.h"
#include "cgrpo.pb-c.h"

#define RUN_ID "run-c0ffee"
enum { G = 3, D = 5, A = 2, LEN = 4 };

static cg_msg_caps_t s_caps(void)
{
    cg_msg_caps_t caps = {.max_bytes = (size_t)1 << 24,
                          .max_groups = 64,
                          .max_group_size = CG_MAX_GROUP,
                          .max_costs = CG_MAX_COSTS,
                          .max_obs_dim = 64,
                          .max_actions = 64,
                          .max_steps = 64,
                          .max_params = 1 << 20};
    return caps;
}

/* Two groups of G continuous episodes of LEN steps; log-densities up to 4 * A. */
static void s_make_batch(cg_rng_t *rng, cg_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_GROUPS;
    snprintf(m->run_id, sizeof m->run_id, "%s", RUN_ID);
    cg_msg_groups_t *b = &m->u.groups;
    *b = (cg_msg_groups_t){.policy_version = 7,
                           .actor_id = 1,
                           .seq = 3,
                           .group_size = G,
                           .n_costs = 2,
                           .obs_dim = D,
                           .n_actions = A,
                           .continuous = 1,
                           .n_groups = 2,
                           .session = 99};
    b->groups = cg_calloc(2, sizeof *b->groups);
    for (int g = 0; g < 2; g++) {
        b->groups[g].init_seed = cg_rng_u64(rng);
        b->groups[g].episodes = cg_calloc(G, sizeof(cg_msg_episode_t));
        for (int i = 0; i < G; i++) {
            cg_msg_episode_t *ep = &b->groups[g].episodes[i];
            ep->reward = (float)cg_rng_normal(rng);
            ep->cost[0] = 1.0f;
            ep->length = LEN;
            ep->temperature = 1.0f;
            ep->obs = cg_calloc(LEN * D, sizeof(float));
            ep->action_f = cg_calloc(LEN * A, sizeof(float));
            ep->logp = cg_calloc(LEN, sizeof(float));
            for (int k = 0; k < LEN * D; k++)
                ep->obs[k] = (float)cg_rng_normal(rng);
            for (int k = 0; k < LEN * A; k++)
                ep->action_f[k] = (float)(3.0 * cg_rng_normal(rng));
            for (int t = 0; t < LEN; t++)
                ep->logp[t] = (float)(8.0 * cg_rng_uniform(rng) - 6.0); /* some > 0 */
        }
    }
}

static uint8_t *s_encode(const cg_msg_t *m, size_t *len)
{
    uint8_t *bytes = NULL;
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(m, &bytes, len), CG_OK);
    return bytes;
}

static char s_err[512];

static cg_status_t s_decode(const uint8_t *bytes, size_t len, cg_msg_t *out)
{
    cg_msg_caps_t caps = s_caps();
    return cg_msg_decode(bytes, len, &caps, RUN_ID, out, s_err, sizeof s_err);
}

static void test_batch_roundtrip(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 1, 0);
    cg_msg_t m, out;
    s_make_batch(&rng, &m);
    size_t len;
    uint8_t *bytes = s_encode(&m, &len);
    cg_msg_caps_t caps = s_caps();
    CU_ASSERT_FALSE(cg_msg_decode_batch_fast(bytes, len, &caps, RUN_ID, &out));
    cg_status_t rc = s_decode(bytes, len, &out);
    if (rc != CG_OK)
        printf("\n  decode: %s\n", s_err);
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
    const cg_msg_groups_t *a = &m.u.groups, *b = &out.u.groups;
    CU_ASSERT_EQUAL(b->continuous, 1);
    CU_ASSERT_EQUAL(b->n_actions, A);
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < G; i++) {
            const cg_msg_episode_t *x = &a->groups[g].episodes[i], *y = &b->groups[g].episodes[i];
            CU_ASSERT_PTR_NULL(y->action);
            CU_ASSERT(memcmp(x->action_f, y->action_f, LEN * A * sizeof(float)) == 0);
            CU_ASSERT(memcmp(x->logp, y->logp, LEN * sizeof(float)) == 0);
            CU_ASSERT(memcmp(x->obs, y->obs, LEN * D * sizeof(float)) == 0);
        }
    cg_msg_free(&out);
    free(bytes);
    cg_msg_free(&m);
}

/* One mutation of a valid continuous batch, and the status and words it must be refused with. */
static void s_expect_refused(void (*mutate)(cg_msg_t *), cg_status_t want, const char *words)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 2, 0);
    cg_msg_t m, out;
    s_make_batch(&rng, &m);
    mutate(&m);
    size_t len;
    uint8_t *bytes = s_encode(&m, &len);
    memset(&out, 0xAB, sizeof out);
    CU_ASSERT_EQUAL(s_decode(bytes, len, &out), want);
    CU_ASSERT_EQUAL(out.type, CG_MSG_NONE);
    if (!strstr(s_err, words))
        printf("\n  message '%s' lacks '%s'\n", s_err, words);
    CU_ASSERT_PTR_NOT_NULL(strstr(s_err, words));
    free(bytes);
    cg_msg_free(&m);
}

static void s_nan_action(cg_msg_t *m)
{
    m->u.groups.groups[1].episodes[2].action_f[5] = NAN;
}
static void s_logp_high(cg_msg_t *m)
{
    m->u.groups.groups[0].episodes[1].logp[2] = 4.2f * A;
}
static void test_batch_refusals(void)
{
    s_expect_refused(s_nan_action, CG_ERR_NONFINITE, ".action_vec[5]: not finite");
    s_expect_refused(s_logp_high, CG_ERR_RANGE, "a log-density must be <=");
}

/* Through protobuf-c: a continuous batch with integer actions, a discrete one with vectors,
 * and a vector one float short. */
static void test_batch_mixed_fields(void)
{
    for (int which = 0; which < 3; which++) {
        float obs[D] = {0}, vec[A] = {0.5f, -0.5f}, cost[1] = {0}, logp[1] = {-1.0f};
        int32_t act[1] = {1};
        Cgrpo__Episode ep = CGRPO__EPISODE__INIT;
        ep.length = 1;
        ep.temperature = 1.0f;
        ep.n_obs = D;
        ep.obs = obs;
        ep.n_costs = 1;
        ep.costs = cost;
        ep.n_logp = 1;
        ep.logp = logp;
        Cgrpo__GroupBatch gb = CGRPO__GROUP_BATCH__INIT;
        gb.group_size = 1;
        gb.n_costs = 1;
        gb.obs_dim = D;
        gb.n_actions = A;
        if (which == 0) { /* continuous, but an integer action */
            gb.continuous = 1;
            ep.n_action = 1;
            ep.action = act;
        } else if (which == 1) { /* discrete, but a vector too */
            ep.n_action = 1;
            ep.action = act;
            ep.n_action_vec = A;
            ep.action_vec = vec;
        } else { /* continuous, one float short */
            gb.continuous = 1;
            ep.n_action_vec = A - 1;
            ep.action_vec = vec;
        }
        Cgrpo__Episode *eps[1] = {&ep};
        Cgrpo__Group grp = CGRPO__GROUP__INIT;
        grp.n_episodes = 1;
        grp.episodes = eps;
        Cgrpo__Group *grps[1] = {&grp};
        gb.n_groups = 1;
        gb.groups = grps;
        Cgrpo__Envelope env = CGRPO__ENVELOPE__INIT;
        env.protocol = CG_PROTOCOL_VERSION;
        env.run_id = RUN_ID;
        env.body_case = CGRPO__ENVELOPE__BODY_GROUP_BATCH;
        env.group_batch = &gb;
        size_t len = cgrpo__envelope__get_packed_size(&env);
        uint8_t *bytes = malloc(len);
        cgrpo__envelope__pack(&env, bytes);
        cg_msg_t out;
        CU_ASSERT_EQUAL(s_decode(bytes, len, &out), CG_ERR_SHAPE);
        const char *want = which == 0   ? ".action: 1 values, expected 0"
                           : which == 1 ? ".action_vec: 2 floats, expected 0"
                                        : ".action_vec: 1 floats, expected 2";
        if (!strstr(s_err, want))
            printf("\n  case %d: message '%s' lacks '%s'\n", which, s_err, want);
        CU_ASSERT_PTR_NOT_NULL(strstr(s_err, want));
        free(bytes);
    }
}

/* Hello.continuous_ok and Welcome.head survive; a Gaussian Welcome needs the log-std. */
static void test_hello_welcome(void)
{
    cg_msg_t h = {.type = CG_MSG_HELLO}, out;
    snprintf(h.run_id, sizeof h.run_id, "%s", RUN_ID);
    h.u.hello.continuous_ok = 1;
    h.u.hello.actor_id = -1;
    size_t len;
    uint8_t *bytes = s_encode(&h, &len);
    CU_ASSERT_EQUAL_FATAL(s_decode(bytes, len, &out), CG_OK);
    CU_ASSERT_EQUAL(out.u.hello.continuous_ok, 1);
    cg_msg_free(&out);
    free(bytes);

    /* obs 5 -> 2 (linear): 12 floats, + 2 log-std for the Gaussian head */
    float params[14] = {0}, lambda[1] = {1.0f};
    cg_msg_t w = {.type = CG_MSG_WELCOME};
    snprintf(w.run_id, sizeof w.run_id, "%s", RUN_ID);
    cg_msg_welcome_t *wel = &w.u.welcome;
    wel->group_size = 2;
    wel->obs_dim = D;
    wel->n_actions = A;
    wel->head = CG_HEAD_GAUSSIAN;
    wel->n_params = 14;
    wel->params = params;
    wel->n_lambda = 1;
    wel->lambda = lambda;
    bytes = s_encode(&w, &len);
    cg_status_t rc = s_decode(bytes, len, &out);
    if (rc != CG_OK)
        printf("\n  welcome: %s\n", s_err);
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
    CU_ASSERT_EQUAL(out.u.welcome.head, CG_HEAD_GAUSSIAN);
    cg_msg_free(&out);
    free(bytes);
    wel->n_params = 12; /* no log-std */
    bytes = s_encode(&w, &len);
    CU_ASSERT_EQUAL(s_decode(bytes, len, &out), CG_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(s_err, "welcome.params: 12 floats, the policy shape needs 14"));
    free(bytes);
    wel->head = 5;
    bytes = s_encode(&w, &len);
    CU_ASSERT_EQUAL(s_decode(bytes, len, &out), CG_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(s_err, "welcome.head: unknown value 5"));
    free(bytes);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"continuous batch round trip", test_batch_roundtrip},
        {"continuous batch refusals", test_batch_refusals},
        {"actions of the wrong kind", test_batch_mixed_fields},
        {"hello and welcome", test_hello_welcome},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("msg_continuous", tests, NULL, NULL);
}
