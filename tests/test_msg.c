/* test_msg: the wire codec (cg_msg). Round trips of every message type with random content,
 * compared bit-exactly; rejection with the exact status of truncated, random, mutated,
 * foreign, misshapen, non-finite, out-of-range and oversized input. Misshapen counts are
 * written with a tiny protobuf writer of our own, which also pins the field numbers. The
 * group-batch fast path is compared with the general decoder on random and mutated batches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cg_alloc.h"
#include "cg_msg.h"
#include "cg_msg_impl.h"
#include "cg_os.h"
#include "cg_rng.h"
#include "cg_test.h"

#define RUN_ID "run-7f3a"

/* ---- fixtures ---- */

static cg_msg_caps_t s_caps(void)
{
    cg_msg_caps_t caps = {
        .max_bytes = (size_t)64 << 20,
        .max_groups = 1024,
        .max_group_size = CG_MAX_GROUP,
        .max_costs = CG_MAX_COSTS,
        .max_obs_dim = 4096,
        .max_actions = 4096,
        .max_steps = 4096,
        .max_params = (int64_t)1 << 24,
    };
    return caps;
}

static float s_unif(cg_rng_t *rng, float lo, float hi)
{
    return lo + (hi - lo) * (float)cg_rng_uniform(rng);
}

static int32_t s_below(cg_rng_t *rng, int32_t bound)
{
    return (int32_t)cg_rng_below(rng, (uint32_t)bound);
}

/* Random finite float including edge values that must survive bit-exactly. */
static float s_any_float(cg_rng_t *rng)
{
    switch (cg_rng_below(rng, 16)) {
    case 0: return -0.0f;
    case 1: return 1e-40f; /* subnormal */
    case 2: return 3.0e38f;
    default: return (float)cg_rng_normal(rng);
    }
}

/* An observation value: as s_any_float, within +-CG_MAX_ABS_OBS (the bound itself too). */
static float s_any_obs(cg_rng_t *rng)
{
    float x = s_any_float(rng);
    return fabsf(x) <= CG_MAX_ABS_OBS ? x : CG_MAX_ABS_OBS;
}

static void s_rand_name(cg_rng_t *rng, char out[CG_NAME_LEN])
{
    int32_t n = s_below(rng, CG_NAME_LEN); /* 0 .. CG_NAME_LEN-1 chars */
    for (int32_t i = 0; i < n; i++)
        out[i] = (char)(' ' + s_below(rng, 95));
    out[n] = '\0';
}

static void s_make_hello(cg_rng_t *rng, cg_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_HELLO;
    snprintf(m->run_id, sizeof m->run_id, "%s", RUN_ID);
    cg_msg_hello_t *h = &m->u.hello;
    h->actor_id = s_below(rng, 1000);
    s_rand_name(rng, h->host);
    h->pid = (int32_t)cg_rng_u32(rng);
    s_rand_name(rng, h->sim);
    h->obs_dim = 1 + s_below(rng, 64);
    h->n_actions = 1 + s_below(rng, 16);
    h->group_size = 1 + s_below(rng, CG_MAX_GROUP);
    s_rand_name(rng, h->token);
    h->credits = (int32_t)cg_rng_below(rng, 2);
}

static int64_t s_mlp_params(int32_t obs_dim, int32_t n_hidden, const int32_t *hidden,
                            int32_t n_actions)
{
    int64_t total = 0, in = obs_dim;
    for (int32_t l = 0; l <= n_hidden; l++) {
        int64_t out = l < n_hidden ? hidden[l] : n_actions;
        total += (in + 1) * out;
        in = out;
    }
    return total;
}

static void s_make_welcome(cg_rng_t *rng, cg_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_WELCOME;
    snprintf(m->run_id, sizeof m->run_id, "%s", RUN_ID);
    cg_msg_welcome_t *w = &m->u.welcome;
    w->actor_id = s_below(rng, 1000);
    w->seed = cg_rng_u64(rng);
    w->group_size = 1 + s_below(rng, 16);
    w->n_temperatures = cg_rng_below(rng, 2) ? w->group_size : 0;
    w->temperatures = cg_calloc((size_t)w->n_temperatures, sizeof(float));
    for (int32_t i = 0; i < w->n_temperatures; i++)
        w->temperatures[i] = s_unif(rng, 0.05f, 2.0f);
    w->obs_dim = 1 + s_below(rng, 16);
    w->n_actions = 1 + s_below(rng, 8);
    w->n_hidden = s_below(rng, 4);
    for (int32_t l = 0; l < w->n_hidden; l++)
        w->hidden[l] = 1 + s_below(rng, 32);
    w->activation = cg_rng_below(rng, 2) ? CG_ACT_RELU : CG_ACT_TANH;
    w->version = cg_rng_u64(rng);
    w->n_params = s_mlp_params(w->obs_dim, w->n_hidden, w->hidden, w->n_actions);
    w->params = cg_calloc((size_t)w->n_params, sizeof(float));
    for (int64_t i = 0; i < w->n_params; i++)
        w->params[i] = s_any_float(rng);
    w->n_lambda = 1 + s_below(rng, CG_MAX_COSTS + 1);
    w->lambda = cg_calloc((size_t)w->n_lambda, sizeof(float));
    for (int32_t i = 0; i < w->n_lambda; i++)
        w->lambda[i] = s_unif(rng, 0.0f, 1.0f);
    if (cg_rng_below(rng, 4)) { /* otherwise a learner that does not describe its simulator */
        w->n_costs = (w->n_lambda - 1) + s_below(rng, CG_MAX_COSTS - (w->n_lambda - 1) + 1);
        for (int32_t k = 0; k < w->n_costs; k++)
            snprintf(w->cost_names[k], sizeof w->cost_names[k], "cost_%d", k);
        w->n_constraints = w->n_costs ? w->n_lambda - 1 : 0;
        for (int32_t k = 0; k < w->n_constraints; k++)
            w->constraints[k] = s_below(rng, w->n_costs);
        w->max_steps = s_below(rng, 100000);
    }
    w->heartbeat_ms = s_below(rng, 5000);
    w->deterministic = (int32_t)cg_rng_below(rng, 2);
    w->quota = s_below(rng, 64);
    w->credits = w->deterministic ? 0 : (int32_t)cg_rng_below(rng, 2);
    w->data_port = s_below(rng, 65536);
    w->weights_port = s_below(rng, 65536);
    if (cg_rng_below(rng, 4)) { /* otherwise NULL, which arrives as "" */
        int32_t n = s_below(rng, 4000);
        w->config_text = cg_calloc((size_t)n + 1, 1);
        for (int32_t i = 0; i < n; i++)
            w->config_text[i] = cg_rng_below(rng, 10) ? (char)(' ' + s_below(rng, 95)) : '\n';
    }
}

/* A group batch of n_groups x G episodes with lengths 1..max_len. */
static void s_make_batch(cg_rng_t *rng, cg_msg_t *m, int32_t n_groups, int32_t G, int32_t K,
                         int32_t obs_dim, int32_t n_actions, int32_t max_len)
{
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_GROUPS;
    snprintf(m->run_id, sizeof m->run_id, "%s", RUN_ID);
    cg_msg_groups_t *b = &m->u.groups;
    b->policy_version = cg_rng_u64(rng);
    b->actor_id = s_below(rng, 1000);
    b->seq = cg_rng_u64(rng);
    b->group_size = G;
    b->n_costs = K;
    b->obs_dim = obs_dim;
    b->n_actions = n_actions;
    b->n_groups = n_groups;
    b->groups = cg_calloc((size_t)n_groups, sizeof *b->groups);
    for (int32_t g = 0; g < n_groups; g++) {
        cg_msg_group_t *grp = &b->groups[g];
        grp->init_seed = cg_rng_u64(rng);
        grp->n_checks = s_below(rng, 7);
        grp->episodes = cg_calloc((size_t)G, sizeof *grp->episodes);
        for (int32_t i = 0; i < G; i++) {
            cg_msg_episode_t *ep = &grp->episodes[i];
            ep->reward = (float)cg_rng_normal(rng); /* scalar: see test_signed_zero */
            for (int32_t k = 0; k < K; k++)
                ep->cost[k] = (float)cg_rng_below(rng, 2);
            ep->length = 1 + s_below(rng, max_len);
            ep->temperature = s_unif(rng, 0.05f, 2.0f);
            size_t len = (size_t)ep->length;
            ep->obs = cg_calloc(len * (size_t)obs_dim, sizeof(float));
            ep->action = cg_calloc(len, sizeof(int32_t));
            ep->logp = cg_calloc(len, sizeof(float));
            for (size_t j = 0; j < len * (size_t)obs_dim; j++)
                ep->obs[j] = s_any_obs(rng);
            for (size_t t = 0; t < len; t++) {
                ep->action[t] = s_below(rng, n_actions);
                ep->logp[t] = -s_unif(rng, 0.0f, 6.0f);
            }
        }
    }
}

static void s_make_weights(cg_rng_t *rng, cg_msg_t *m, int64_t n_params, int32_t n_lambda)
{
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_WEIGHTS;
    snprintf(m->run_id, sizeof m->run_id, "%s", RUN_ID);
    cg_msg_weights_t *w = &m->u.weights;
    w->version = cg_rng_u64(rng);
    w->n_params = n_params;
    w->params = cg_calloc((size_t)n_params, sizeof(float));
    for (int64_t i = 0; i < n_params; i++)
        w->params[i] = s_any_float(rng);
    w->n_lambda = n_lambda;
    w->lambda = cg_calloc((size_t)n_lambda, sizeof(float));
    for (int32_t i = 0; i < n_lambda; i++)
        w->lambda[i] = s_unif(rng, 0.0f, 1.0f);
    w->thresholds = cg_calloc((size_t)(n_lambda - 1), sizeof(float));
    for (int32_t i = 0; i < n_lambda - 1; i++)
        w->thresholds[i] = s_unif(rng, 0.0f, 1.0f);
    w->publish_time = 1.7e9 + cg_rng_uniform(rng);
    w->done = (int32_t)cg_rng_below(rng, 2);
}

static void s_make_heartbeat(cg_rng_t *rng, cg_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = CG_MSG_HEARTBEAT;
    snprintf(m->run_id, sizeof m->run_id, "%s", RUN_ID);
    m->u.heartbeat.actor_id = s_below(rng, 1000);
    m->u.heartbeat.applied_version = cg_rng_u64(rng);
    m->u.heartbeat.groups_sent = cg_rng_u64(rng);
    m->u.heartbeat.weights_latency_s = cg_rng_below(rng, 2) ? -1.0 : cg_rng_uniform(rng);
    m->u.heartbeat.credit = cg_rng_below(rng, 2) ? 0 : s_below(rng, 1000);
    m->u.heartbeat.leaving = (int32_t)cg_rng_below(rng, 2);
}

/* One valid message of each type, small enough for exhaustive prefix checks. */
static void s_make_any(cg_rng_t *rng, int which, cg_msg_t *m)
{
    switch (which) {
    case 0: s_make_hello(rng, m); break;
    case 1: s_make_welcome(rng, m); break;
    case 2: s_make_batch(rng, m, 2, 3, 2, 3, 4, 5); break;
    case 3: s_make_weights(rng, m, 40, 3); break;
    default: s_make_heartbeat(rng, m); break;
    }
}

/* ---- comparison (bit-exact) ---- */

static int s_same_floats(const float *a, const float *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof(float)) == 0;
}

static void s_assert_equal(const cg_msg_t *a, const cg_msg_t *b)
{
    CU_ASSERT_EQUAL_FATAL(a->type, b->type);
    CU_ASSERT_STRING_EQUAL(a->run_id, b->run_id);
    switch (a->type) {
    case CG_MSG_HELLO: {
        const cg_msg_hello_t *x = &a->u.hello, *y = &b->u.hello;
        CU_ASSERT_EQUAL(x->actor_id, y->actor_id);
        CU_ASSERT_STRING_EQUAL(x->host, y->host);
        CU_ASSERT_EQUAL(x->pid, y->pid);
        CU_ASSERT_STRING_EQUAL(x->sim, y->sim);
        CU_ASSERT_EQUAL(x->obs_dim, y->obs_dim);
        CU_ASSERT_EQUAL(x->n_actions, y->n_actions);
        CU_ASSERT_EQUAL(x->group_size, y->group_size);
        CU_ASSERT_STRING_EQUAL(x->token, y->token);
        CU_ASSERT_EQUAL(x->credits, y->credits);
        break;
    }
    case CG_MSG_WELCOME: {
        const cg_msg_welcome_t *x = &a->u.welcome, *y = &b->u.welcome;
        CU_ASSERT_EQUAL(x->actor_id, y->actor_id);
        CU_ASSERT_EQUAL(x->seed, y->seed);
        CU_ASSERT_EQUAL(x->group_size, y->group_size);
        CU_ASSERT_EQUAL_FATAL(x->n_temperatures, y->n_temperatures);
        CU_ASSERT(s_same_floats(x->temperatures, y->temperatures, (size_t)x->n_temperatures));
        CU_ASSERT_EQUAL(x->obs_dim, y->obs_dim);
        CU_ASSERT_EQUAL(x->n_actions, y->n_actions);
        CU_ASSERT_EQUAL_FATAL(x->n_hidden, y->n_hidden);
        for (int32_t l = 0; l < x->n_hidden; l++)
            CU_ASSERT_EQUAL(x->hidden[l], y->hidden[l]);
        CU_ASSERT_EQUAL(x->activation, y->activation);
        CU_ASSERT_EQUAL(x->version, y->version);
        CU_ASSERT_EQUAL_FATAL(x->n_params, y->n_params);
        CU_ASSERT(s_same_floats(x->params, y->params, (size_t)x->n_params));
        CU_ASSERT_EQUAL_FATAL(x->n_lambda, y->n_lambda);
        CU_ASSERT(s_same_floats(x->lambda, y->lambda, (size_t)x->n_lambda));
        CU_ASSERT_EQUAL(x->heartbeat_ms, y->heartbeat_ms);
        CU_ASSERT_EQUAL(x->deterministic, y->deterministic);
        CU_ASSERT_EQUAL_FATAL(x->n_costs, y->n_costs);
        for (int32_t k = 0; k < x->n_costs; k++)
            CU_ASSERT_STRING_EQUAL(x->cost_names[k], y->cost_names[k]);
        CU_ASSERT_EQUAL_FATAL(x->n_constraints, y->n_constraints);
        for (int32_t k = 0; k < x->n_constraints; k++)
            CU_ASSERT_EQUAL(x->constraints[k], y->constraints[k]);
        CU_ASSERT_EQUAL(x->max_steps, y->max_steps);
        CU_ASSERT_EQUAL(x->quota, y->quota);
        CU_ASSERT_EQUAL(x->credits, y->credits);
        CU_ASSERT_EQUAL(x->data_port, y->data_port);
        CU_ASSERT_EQUAL(x->weights_port, y->weights_port);
        CU_ASSERT_STRING_EQUAL(x->config_text ? x->config_text : "",
                               y->config_text ? y->config_text : "");
        break;
    }
    case CG_MSG_GROUPS: {
        const cg_msg_groups_t *x = &a->u.groups, *y = &b->u.groups;
        CU_ASSERT_EQUAL(x->policy_version, y->policy_version);
        CU_ASSERT_EQUAL(x->actor_id, y->actor_id);
        CU_ASSERT_EQUAL(x->seq, y->seq);
        CU_ASSERT_EQUAL_FATAL(x->group_size, y->group_size);
        CU_ASSERT_EQUAL_FATAL(x->n_costs, y->n_costs);
        CU_ASSERT_EQUAL_FATAL(x->obs_dim, y->obs_dim);
        CU_ASSERT_EQUAL(x->n_actions, y->n_actions);
        CU_ASSERT_EQUAL_FATAL(x->n_groups, y->n_groups);
        for (int32_t g = 0; g < x->n_groups; g++) {
            const cg_msg_group_t *gx = &x->groups[g], *gy = &y->groups[g];
            CU_ASSERT_EQUAL(gx->init_seed, gy->init_seed);
            CU_ASSERT_EQUAL(gx->n_checks, gy->n_checks);
            for (int32_t i = 0; i < x->group_size; i++) {
                const cg_msg_episode_t *ex = &gx->episodes[i], *ey = &gy->episodes[i];
                CU_ASSERT(s_same_floats(&ex->reward, &ey->reward, 1));
                CU_ASSERT(s_same_floats(ex->cost, ey->cost, (size_t)x->n_costs));
                CU_ASSERT_EQUAL_FATAL(ex->length, ey->length);
                CU_ASSERT(s_same_floats(&ex->temperature, &ey->temperature, 1));
                size_t len = (size_t)ex->length;
                CU_ASSERT(s_same_floats(ex->obs, ey->obs, len * (size_t)x->obs_dim));
                CU_ASSERT(memcmp(ex->action, ey->action, len * sizeof(int32_t)) == 0);
                CU_ASSERT(s_same_floats(ex->logp, ey->logp, len));
            }
        }
        break;
    }
    case CG_MSG_WEIGHTS: {
        const cg_msg_weights_t *x = &a->u.weights, *y = &b->u.weights;
        CU_ASSERT_EQUAL(x->version, y->version);
        CU_ASSERT_EQUAL_FATAL(x->n_params, y->n_params);
        CU_ASSERT(s_same_floats(x->params, y->params, (size_t)x->n_params));
        CU_ASSERT_EQUAL_FATAL(x->n_lambda, y->n_lambda);
        CU_ASSERT(s_same_floats(x->lambda, y->lambda, (size_t)x->n_lambda));
        size_t n_thr = x->n_lambda > 0 ? (size_t)x->n_lambda - 1 : 0;
        CU_ASSERT(s_same_floats(x->thresholds, y->thresholds, n_thr));
        CU_ASSERT(memcmp(&x->publish_time, &y->publish_time, sizeof(double)) == 0);
        CU_ASSERT_EQUAL(x->done, y->done);
        break;
    }
    case CG_MSG_HEARTBEAT: {
        const cg_msg_heartbeat_t *x = &a->u.heartbeat, *y = &b->u.heartbeat;
        CU_ASSERT_EQUAL(x->actor_id, y->actor_id);
        CU_ASSERT_EQUAL(x->applied_version, y->applied_version);
        CU_ASSERT_EQUAL(x->groups_sent, y->groups_sent);
        CU_ASSERT(memcmp(&x->weights_latency_s, &y->weights_latency_s, sizeof(double)) == 0);
        CU_ASSERT_EQUAL(x->credit, y->credit);
        CU_ASSERT_EQUAL(x->leaving, y->leaving);
        break;
    }
    default: CU_FAIL("unexpected message type");
    }
}

/* ---- decode helpers ---- */

static char s_err[512];

/* Decodes and checks the empty-on-failure contract; frees a successful result. */
static cg_status_t s_decode(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                            const char *run_id)
{
    cg_msg_t out;
    memset(&out, 0xAB, sizeof out); /* garbage must not survive a failed decode */
    cg_status_t rc = cg_msg_decode(data, len, caps, run_id, &out, s_err, sizeof s_err);
    if (rc == CG_OK) {
        CU_ASSERT(out.type != CG_MSG_NONE);
    } else {
        CU_ASSERT_EQUAL(out.type, CG_MSG_NONE);
        CU_ASSERT(s_err[0] != '\0');
        cg_msg_t empty;
        memset(&empty, 0, sizeof empty);
        CU_ASSERT(memcmp(&out, &empty, sizeof out) == 0);
    }
    cg_msg_free(&out);
    return rc;
}

/* Encodes m (must succeed) and decodes it with the given caps and run id. */
static cg_status_t s_roundtrip_status(const cg_msg_t *m, const cg_msg_caps_t *caps,
                                      const char *run_id)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(m, &bytes, &len), CG_OK);
    cg_status_t rc = s_decode(bytes, len, caps, run_id);
    free(bytes);
    return rc;
}

/* Encode, decode, compare every field. */
static void s_roundtrip_equal(const cg_msg_t *m)
{
    cg_msg_caps_t caps = s_caps();
    uint8_t *bytes = NULL;
    size_t len = 0;
    cg_msg_t out;
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(m, &bytes, &len), CG_OK);
    CU_ASSERT_FATAL(bytes != NULL && len > 0);
    cg_status_t rc = cg_msg_decode(bytes, len, &caps, RUN_ID, &out, s_err, sizeof s_err);
    if (rc != CG_OK)
        fprintf(stderr, "decode: %s: %s\n", cg_status_str(rc), s_err);
    CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
    s_assert_equal(m, &out);
    cg_msg_free(&out);
    free(bytes);
}

static int s_err_has(const char *needle)
{
    if (strstr(s_err, needle))
        return 1;
    fprintf(stderr, "error message \"%s\" does not name \"%s\"\n", s_err, needle);
    return 0;
}

/* ---- a tiny protobuf writer, independent of protobuf-c ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} s_buf_t;

enum { S_VARINT = 0, S_I64 = 1, S_LEN = 2, S_I32 = 5 };

static void s_put(s_buf_t *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = cg_realloc(b->p, b->cap, 1);
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void s_varint(s_buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    s_put(b, tmp, n);
}

static void s_tag(s_buf_t *b, uint32_t field, uint32_t wire)
{
    s_varint(b, ((uint64_t)field << 3) | wire);
}

static void s_w_uint(s_buf_t *b, uint32_t field, uint64_t v)
{
    s_tag(b, field, S_VARINT);
    s_varint(b, v);
}

static void s_w_int(s_buf_t *b, uint32_t field, int32_t v)
{
    s_w_uint(b, field, (uint64_t)(int64_t)v); /* int32: negatives are 10-byte varints */
}

static void s_w_float(s_buf_t *b, uint32_t field, float v)
{
    s_tag(b, field, S_I32);
    s_put(b, &v, 4); /* little-endian host */
}

static void s_w_double(s_buf_t *b, uint32_t field, double v)
{
    s_tag(b, field, S_I64);
    s_put(b, &v, 8);
}

static void s_w_bytes(s_buf_t *b, uint32_t field, const void *data, size_t n)
{
    s_tag(b, field, S_LEN);
    s_varint(b, n);
    s_put(b, data, n);
}

static void s_w_str(s_buf_t *b, uint32_t field, const char *s)
{
    s_w_bytes(b, field, s, strlen(s));
}

static void s_w_floats(s_buf_t *b, uint32_t field, float v, size_t n)
{
    s_tag(b, field, S_LEN);
    s_varint(b, n * 4);
    for (size_t i = 0; i < n; i++)
        s_put(b, &v, 4);
}

static void s_w_msg(s_buf_t *b, uint32_t field, s_buf_t *sub)
{
    s_w_bytes(b, field, sub->p, sub->n);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

/* Envelope around a body (field 3..7), consumed. */
static void s_w_envelope(s_buf_t *out, uint32_t protocol, const char *run_id, uint32_t body_field,
                         s_buf_t *body)
{
    s_w_uint(out, 1, protocol);
    s_w_str(out, 2, run_id);
    if (body)
        s_w_msg(out, body_field, body);
}

/* A hand-written GroupBatch; the counts of the last episode of the last group can be set
 * inconsistent (-1 = consistent). */
typedef struct {
    uint32_t protocol;
    const char *run_id;
    int32_t n_groups, group_size, n_costs, obs_dim, n_actions, length;
    int32_t last_episodes, last_costs, last_obs, last_actions, last_logp;
} s_spec_t;

static s_spec_t s_spec(void)
{
    s_spec_t s = {CG_PROTOCOL_VERSION, RUN_ID, 3, 4, 2, 3, 5, 6, -1, -1, -1, -1, -1};
    return s;
}

static void s_wire_batch(const s_spec_t *s, s_buf_t *out)
{
    s_buf_t batch = {0};
    s_w_uint(&batch, 1, 11); /* policy_version */
    s_w_int(&batch, 2, 7);   /* actor_id */
    s_w_uint(&batch, 3, 5);  /* seq */
    s_w_int(&batch, 4, s->group_size);
    s_w_int(&batch, 5, s->n_costs);
    s_w_int(&batch, 6, s->obs_dim);
    s_w_int(&batch, 7, s->n_actions);
    for (int32_t g = 0; g < s->n_groups; g++) {
        int last_g = g == s->n_groups - 1;
        s_buf_t grp = {0};
        s_w_uint(&grp, 1, 1000 + (uint64_t)g); /* init_seed */
        s_w_int(&grp, 2, 3);                   /* n_checks */
        int32_t n_ep = last_g && s->last_episodes >= 0 ? s->last_episodes : s->group_size;
        for (int32_t i = 0; i < n_ep; i++) {
            int last = last_g && i == n_ep - 1;
            int32_t len = s->length;
            size_t steps = (size_t)(len > 0 ? len : 0);
            size_t n_costs = (size_t)(last && s->last_costs >= 0 ? s->last_costs : s->n_costs);
            size_t n_obs =
                last && s->last_obs >= 0 ? (size_t)s->last_obs : steps * (size_t)s->obs_dim;
            size_t n_act = last && s->last_actions >= 0 ? (size_t)s->last_actions : steps;
            size_t n_logp = last && s->last_logp >= 0 ? (size_t)s->last_logp : steps;
            s_buf_t ep = {0};
            s_w_float(&ep, 1, 0.5f); /* reward */
            s_w_floats(&ep, 2, 1.0f, n_costs);
            s_w_int(&ep, 3, len);
            s_w_float(&ep, 4, 0.7f); /* temperature */
            s_w_floats(&ep, 5, 0.25f, n_obs);
            s_buf_t acts = {0};
            for (size_t t = 0; t < n_act; t++)
                s_varint(&acts, t % (size_t)(s->n_actions > 0 ? s->n_actions : 1));
            s_w_msg(&ep, 6, &acts); /* packed int32 */
            s_w_floats(&ep, 7, -0.5f, n_logp);
            s_w_msg(&grp, 3, &ep);
        }
        s_w_msg(&batch, 8, &grp);
    }
    s_w_envelope(out, s->protocol, s->run_id, 5, &batch);
}

static cg_status_t s_decode_spec(const s_spec_t *s)
{
    s_buf_t b = {0};
    s_wire_batch(s, &b);
    cg_msg_caps_t caps = s_caps();
    cg_status_t rc = s_decode(b.p, b.n, &caps, RUN_ID);
    free(b.p);
    return rc;
}

/* A hand-written Weights message with n_params params, n_lambda lambdas, n_thr thresholds. */
static void s_wire_weights(s_buf_t *out, size_t n_params, size_t n_lambda, size_t n_thr)
{
    s_buf_t w = {0};
    s_w_uint(&w, 1, 3);
    s_w_floats(&w, 2, 0.125f, n_params);
    s_w_floats(&w, 3, 0.5f, n_lambda);
    s_w_floats(&w, 4, 0.1f, n_thr);
    s_w_double(&w, 5, 12.5);
    s_w_envelope(out, CG_PROTOCOL_VERSION, RUN_ID, 6, &w);
}

/* ---- round trips ---- */

static void test_roundtrip_hello(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 101, 0);
    for (int it = 0; it < 50; it++) {
        cg_msg_t m;
        s_make_hello(&rng, &m);
        s_roundtrip_equal(&m);
        cg_msg_free(&m);
    }
}

static void test_roundtrip_welcome(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 102, 0);
    for (int it = 0; it < 50; it++) {
        cg_msg_t m;
        s_make_welcome(&rng, &m);
        s_roundtrip_equal(&m);
        cg_msg_free(&m);
    }
}

static void test_roundtrip_groups(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 103, 0);
    for (int it = 0; it < 20; it++) {
        cg_msg_t m;
        s_make_batch(&rng, &m, 1 + s_below(&rng, 6), 1 + s_below(&rng, 8), s_below(&rng, 4),
                     1 + s_below(&rng, 9), 1 + s_below(&rng, 6), 1 + s_below(&rng, 40));
        s_roundtrip_equal(&m);
        cg_msg_free(&m);
    }
}

static void test_roundtrip_weights(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 104, 0);
    for (int it = 0; it < 20; it++) {
        cg_msg_t m;
        s_make_weights(&rng, &m, 1 + s_below(&rng, 5000), 1 + s_below(&rng, CG_MAX_COSTS + 1));
        s_roundtrip_equal(&m);
        cg_msg_free(&m);
    }
}

static void test_roundtrip_heartbeat(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 105, 0);
    for (int it = 0; it < 50; it++) {
        cg_msg_t m;
        s_make_heartbeat(&rng, &m);
        s_roundtrip_equal(&m);
        cg_msg_free(&m);
    }
}

/* Sizes of real traffic: 64 groups x 16 x 64 steps (65536 steps, obs_dim 16) and 1M
 * parameters; exact round trips, timings printed for the record. */
static void test_roundtrip_large(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 106, 0);
    cg_msg_t m;
    s_make_batch(&rng, &m, 64, 16, 2, 16, 4, 1);
    for (int32_t g = 0; g < 64; g++) /* every episode exactly 64 steps */
        for (int32_t i = 0; i < 16; i++) {
            cg_msg_episode_t *ep = &m.u.groups.groups[g].episodes[i];
            free(ep->obs);
            free(ep->action);
            free(ep->logp);
            ep->length = 64;
            ep->obs = cg_calloc(64 * 16, sizeof(float));
            ep->action = cg_calloc(64, sizeof(int32_t));
            ep->logp = cg_calloc(64, sizeof(float));
            for (int32_t t = 0; t < 64; t++) {
                ep->action[t] = s_below(&rng, 4);
                ep->logp[t] = -s_unif(&rng, 0.0f, 3.0f);
            }
            for (int32_t j = 0; j < 64 * 16; j++)
                ep->obs[j] = (float)cg_rng_normal(&rng);
        }
    double t0 = cg_os_now();
    s_roundtrip_equal(&m);
    double t1 = cg_os_now();
    cg_msg_free(&m);

    s_make_weights(&rng, &m, 1 << 20, 3);
    double t2 = cg_os_now();
    s_roundtrip_equal(&m);
    double t3 = cg_os_now();
    cg_msg_free(&m);
    printf("\n    65536-step batch round trip %.1f ms, 1M-param weights %.1f ms ", 1e3 * (t1 - t0),
           1e3 * (t3 - t2));
}

/* The hand writer and the codec agree on every field number (the documented wire format);
 * unknown fields are skipped (a newer peer may add some). */
static void test_wire_layout(void)
{
    s_spec_t s = s_spec();
    s_buf_t b = {0};
    s_wire_batch(&s, &b);
    s_w_uint(&b, 99, 42); /* an unknown envelope field */
    cg_msg_caps_t caps = s_caps();
    cg_msg_t m;
    CU_ASSERT_EQUAL_FATAL(cg_msg_decode(b.p, b.n, &caps, RUN_ID, &m, s_err, sizeof s_err), CG_OK);
    free(b.p);
    memset(&b, 0, sizeof b);
    CU_ASSERT_EQUAL_FATAL(m.type, CG_MSG_GROUPS);
    CU_ASSERT_STRING_EQUAL(m.run_id, RUN_ID);
    const cg_msg_groups_t *g = &m.u.groups;
    CU_ASSERT_EQUAL(g->policy_version, 11);
    CU_ASSERT_EQUAL(g->actor_id, 7);
    CU_ASSERT_EQUAL(g->seq, 5);
    CU_ASSERT_EQUAL(g->group_size, 4);
    CU_ASSERT_EQUAL(g->n_costs, 2);
    CU_ASSERT_EQUAL(g->obs_dim, 3);
    CU_ASSERT_EQUAL(g->n_actions, 5);
    CU_ASSERT_EQUAL_FATAL(g->n_groups, 3);
    CU_ASSERT_EQUAL(g->groups[2].init_seed, 1002);
    CU_ASSERT_EQUAL(g->groups[2].n_checks, 3);
    const cg_msg_episode_t *ep = &g->groups[2].episodes[3];
    CU_ASSERT_EQUAL(ep->reward, 0.5f);
    CU_ASSERT_EQUAL(ep->cost[0], 1.0f);
    CU_ASSERT_EQUAL(ep->cost[1], 1.0f);
    CU_ASSERT_EQUAL(ep->cost[2], 0.0f);
    CU_ASSERT_EQUAL_FATAL(ep->length, 6);
    CU_ASSERT_EQUAL(ep->temperature, 0.7f);
    CU_ASSERT_EQUAL(ep->obs[17], 0.25f);
    CU_ASSERT_EQUAL(ep->action[5], 0); /* 5 % n_actions */
    CU_ASSERT_EQUAL(ep->action[4], 4);
    CU_ASSERT_EQUAL(ep->logp[5], -0.5f);
    cg_msg_free(&m);

    /* Weights and Hello by hand too. */
    s_wire_weights(&b, 10, 3, 2);
    CU_ASSERT_EQUAL_FATAL(cg_msg_decode(b.p, b.n, &caps, RUN_ID, &m, s_err, sizeof s_err), CG_OK);
    free(b.p);
    memset(&b, 0, sizeof b);
    CU_ASSERT_EQUAL(m.u.weights.version, 3);
    CU_ASSERT_EQUAL(m.u.weights.n_params, 10);
    CU_ASSERT_EQUAL(m.u.weights.n_lambda, 3);
    CU_ASSERT_EQUAL(m.u.weights.thresholds[1], 0.1f);
    CU_ASSERT_EQUAL(m.u.weights.publish_time, 12.5);
    cg_msg_free(&m);

    s_buf_t h = {0};
    s_w_int(&h, 1, 9);
    s_w_str(&h, 2, "node17");
    s_w_int(&h, 3, 4242);
    s_w_str(&h, 4, "gridworld");
    s_w_int(&h, 5, 12);
    s_w_int(&h, 6, 4);
    s_w_int(&h, 7, 16);
    s_w_str(&h, 8, "tok");
    s_w_envelope(&b, CG_PROTOCOL_VERSION, RUN_ID, 3, &h);
    CU_ASSERT_EQUAL_FATAL(cg_msg_decode(b.p, b.n, &caps, RUN_ID, &m, s_err, sizeof s_err), CG_OK);
    free(b.p);
    CU_ASSERT_EQUAL(m.type, CG_MSG_HELLO);
    CU_ASSERT_EQUAL(m.u.hello.actor_id, 9);
    CU_ASSERT_STRING_EQUAL(m.u.hello.host, "node17");
    CU_ASSERT_EQUAL(m.u.hello.pid, 4242);
    CU_ASSERT_STRING_EQUAL(m.u.hello.sim, "gridworld");
    CU_ASSERT_EQUAL(m.u.hello.group_size, 16);
    CU_ASSERT_STRING_EQUAL(m.u.hello.token, "tok");
    cg_msg_free(&m);
}

/* proto3 does not send a scalar equal to zero, and protobuf-c tests that with == 0, so a
 * scalar -0.0 arrives as +0.0 (same value); packed arrays keep every bit. */
static void test_signed_zero(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 107, 0);
    cg_msg_t m, out;
    cg_msg_caps_t caps = s_caps();
    uint8_t *bytes;
    size_t len;
    s_make_batch(&rng, &m, 1, 1, 1, 1, 2, 1);
    cg_msg_episode_t *ep = &m.u.groups.groups[0].episodes[0];
    ep->reward = -0.0f;
    ep->cost[0] = -0.0f;
    ep->obs[0] = -0.0f;
    ep->logp[0] = -0.0f;
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
    CU_ASSERT_EQUAL_FATAL(cg_msg_decode(bytes, len, &caps, RUN_ID, &out, s_err, sizeof s_err),
                          CG_OK);
    const cg_msg_episode_t *oe = &out.u.groups.groups[0].episodes[0];
    CU_ASSERT(oe->reward == 0.0f && !signbit(oe->reward));
    CU_ASSERT(signbit(oe->cost[0]));
    CU_ASSERT(signbit(oe->obs[0]));
    CU_ASSERT(signbit(oe->logp[0]));
    cg_msg_free(&out);
    cg_msg_free(&m);
    free(bytes);
}

/* ---- hostile bytes ---- */

/* Every proper prefix of a valid message is rejected cleanly: the body is the last field, so
 * a cut either truncates it (PROTO) or drops it (PROTO / RUN_ID). */
static void test_truncated(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 201, 0);
    cg_msg_caps_t caps = s_caps();
    for (int which = 0; which < 5; which++) {
        cg_msg_t m;
        uint8_t *bytes;
        size_t len;
        s_make_any(&rng, which, &m);
        CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
        int accepted = 0;
        for (size_t n = 0; n < len; n++) {
            cg_status_t a = s_decode(bytes, n, &caps, NULL);
            cg_status_t b = s_decode(bytes, n, &caps, RUN_ID);
            CU_ASSERT(a == CG_ERR_PROTO);
            CU_ASSERT(b == CG_ERR_PROTO || b == CG_ERR_RUN_ID);
            accepted += a == CG_OK;
        }
        CU_ASSERT_EQUAL(accepted, 0);
        CU_ASSERT_EQUAL(s_decode(bytes, len, &caps, RUN_ID), CG_OK);
        free(bytes);
        cg_msg_free(&m);
    }
}

static void test_random_bytes(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 202, 0);
    cg_msg_caps_t caps = s_caps();
    uint8_t buf[512];
    int accepted = 0;
    for (int it = 0; it < 5000; it++) {
        size_t n = cg_rng_below(&rng, sizeof buf + 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)cg_rng_u32(&rng);
        if (it % 2) /* half of them start like a real envelope */
            memcpy(buf, "\x08\x01\x12\x08" RUN_ID, n < 12 ? n : 12);
        accepted += s_decode(buf, n, &caps, NULL) == CG_OK;
    }
    CU_ASSERT_EQUAL(accepted, 0);
}

/* Valid messages with a few bytes changed: whatever the outcome, no crash, no leak, and the
 * empty-on-failure contract; an accepted mutant re-encodes and decodes to the same message. */
static void test_mutated_bytes(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 203, 0);
    cg_msg_caps_t caps = s_caps();
    int rejected = 0, total = 0;
    for (int which = 0; which < 5; which++) {
        cg_msg_t m;
        uint8_t *bytes;
        size_t len;
        s_make_any(&rng, which, &m);
        CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
        uint8_t *mut = cg_calloc(len, 1);
        for (int it = 0; it < 1500; it++) {
            memcpy(mut, bytes, len);
            int flips = 1 + s_below(&rng, 3);
            for (int f = 0; f < flips; f++)
                mut[cg_rng_below(&rng, (uint32_t)len)] ^= (uint8_t)(1 + cg_rng_below(&rng, 255));
            cg_msg_t out;
            cg_status_t rc = cg_msg_decode(mut, len, &caps, NULL, &out, s_err, sizeof s_err);
            total++;
            if (rc != CG_OK) {
                rejected++;
                CU_ASSERT_EQUAL(out.type, CG_MSG_NONE);
                continue;
            }
            uint8_t *again;
            size_t again_len;
            CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&out, &again, &again_len), CG_OK);
            cg_msg_t twice;
            CU_ASSERT_EQUAL_FATAL(
                cg_msg_decode(again, again_len, &caps, NULL, &twice, s_err, sizeof s_err), CG_OK);
            s_assert_equal(&out, &twice);
            cg_msg_free(&twice);
            cg_msg_free(&out);
            free(again);
        }
        free(mut);
        free(bytes);
        cg_msg_free(&m);
    }
    CU_ASSERT(rejected > total / 4); /* validation does catch most corruption */
}

/* ---- the group-batch fast path against the general decoder ---- */

/* Decodes data both ways: the fast path may only accept what the general decoder accepts,
 * with the same contents, and must accept a group batch in our own (canonical) encoding.
 * Returns 1 when the fast path took it. */
static int s_paths_agree(const uint8_t *data, size_t len, const cg_msg_caps_t *caps,
                         const char *run_id)
{
    cg_msg_t fast, general;
    memset(&fast, 0xAB, sizeof fast);
    int took = cg_msg_decode_batch_fast(data, len, caps, run_id, &fast);
    cg_status_t rc = cg_msg_decode_general(data, len, caps, run_id, &general, s_err, sizeof s_err);
    if (took) {
        CU_ASSERT_EQUAL_FATAL(rc, CG_OK);
        s_assert_equal(&general, &fast);
        cg_msg_free(&fast);
    } else {
        cg_msg_t empty;
        memset(&empty, 0, sizeof empty);
        CU_ASSERT(memcmp(&fast, &empty, sizeof fast) == 0);
        if (rc == CG_OK && general.type == CG_MSG_GROUPS) {
            uint8_t *enc = NULL;
            size_t n = 0;
            CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&general, &enc, &n), CG_OK);
            CU_ASSERT(n != len || memcmp(enc, data, len) != 0); /* canonical: must be taken */
            free(enc);
        }
    }
    cg_msg_free(&general);
    return took;
}

/* One value of a valid batch made invalid, or an edge that stays valid. */
static void s_poison(cg_rng_t *rng, cg_msg_groups_t *b)
{
    cg_msg_group_t *grp = &b->groups[cg_rng_below(rng, (uint32_t)b->n_groups)];
    cg_msg_episode_t *ep = &grp->episodes[cg_rng_below(rng, (uint32_t)b->group_size)];
    size_t t = cg_rng_below(rng, (uint32_t)ep->length);
    size_t o = cg_rng_below(rng, (uint32_t)(ep->length * b->obs_dim));
    const float specials[] = {NAN,  INFINITY, -INFINITY, 1e30f,          -0.0f,
                              0.0f, 1e-40f,   -1e-40f,   CG_MAX_ABS_OBS, -CG_MAX_ABS_OBS,
                              0.5f, 1.0f,     -3.0e38f};
    float v = specials[cg_rng_below(rng, sizeof specials / sizeof *specials)];
    switch (cg_rng_below(rng, 9)) {
    case 0: ep->obs[o] = v; break;
    case 1: ep->logp[t] = v; break;
    case 2: ep->reward = v; break;
    case 3: ep->temperature = v; break;
    case 4:
        if (b->n_costs > 0)
            ep->cost[cg_rng_below(rng, (uint32_t)b->n_costs)] = v;
        break;
    case 5:
        ep->action[t] =
            (int32_t)cg_rng_below(rng, 3) - 1 + (cg_rng_below(rng, 2) ? b->n_actions : 0);
        break;
    case 6: grp->n_checks = -1 - (int32_t)cg_rng_below(rng, 3); break;
    case 7: b->actor_id = -1 - (int32_t)cg_rng_below(rng, 1000); break; /* valid: 10-byte varint */
    default: b->policy_version = 0; break;                              /* valid: omitted */
    }
}

/* Random shapes (actions >= 128 take 2-byte varints; lengths cross the 8-wide blocks), each
 * valid, with one value poisoned, and with bytes flipped, cut or run ids other than ours. */
static void test_fast_path_agrees(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 907, 0);
    cg_msg_caps_t caps = s_caps();
    int valid_taken = 0, poisoned = 0, poisoned_taken = 0, flipped_taken = 0;
    for (int it = 0; it < 400; it++) {
        cg_msg_t m;
        int32_t n_actions =
            cg_rng_below(&rng, 4) ? 2 + s_below(&rng, 20) : 100 + s_below(&rng, 400);
        s_make_batch(&rng, &m, 1 + s_below(&rng, 4), 1 + s_below(&rng, 9), s_below(&rng, 4),
                     1 + s_below(&rng, 20), n_actions, 40);
        uint8_t *bytes;
        size_t len;
        CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
        valid_taken += s_paths_agree(bytes, len, &caps, RUN_ID);
        (void)s_paths_agree(bytes, len, &caps, NULL);
        (void)s_paths_agree(bytes, len, &caps, "another-run");
        (void)s_paths_agree(bytes, 1 + cg_rng_below(&rng, (uint32_t)len), &caps, RUN_ID);
        for (int f = 0; f < 8; f++) {
            uint8_t *mut = cg_calloc(len, 1);
            memcpy(mut, bytes, len);
            mut[cg_rng_below(&rng, (uint32_t)len)] ^= (uint8_t)(1 + cg_rng_below(&rng, 255));
            flipped_taken += s_paths_agree(mut, len, &caps, RUN_ID);
            free(mut);
        }
        free(bytes);
        s_poison(&rng, &m.u.groups);
        if (cg_msg_encode(&m, &bytes, &len) == CG_OK) {
            poisoned++;
            poisoned_taken += s_paths_agree(bytes, len, &caps, RUN_ID);
            free(bytes);
        }
        cg_msg_free(&m);
    }
    CU_ASSERT_EQUAL(valid_taken, 400); /* every valid batch takes the fast path */
    CU_ASSERT(poisoned_taken > 0 && poisoned_taken < poisoned);
    fprintf(stderr, "fast path: %d/400 valid, %d/%d poisoned (edges kept valid), %d/3200 flipped\n",
            valid_taken, poisoned_taken, poisoned, flipped_taken);
}

/* ---- foreign messages ---- */

static void test_wrong_version(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 301, 0);
    cg_msg_caps_t caps = s_caps();
    cg_msg_t m;
    uint8_t *bytes;
    size_t len;
    s_make_heartbeat(&rng, &m);
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
    /* Envelope field 1 (protocol) is first: 0x08, varint 1. */
    CU_ASSERT_FATAL(len > 2 && bytes[0] == 0x08 && bytes[1] == CG_PROTOCOL_VERSION);
    bytes[1] = CG_PROTOCOL_VERSION + 1;
    CU_ASSERT_EQUAL(s_decode(bytes, len, &caps, RUN_ID), CG_ERR_VERSION);
    CU_ASSERT(s_err_has("protocol"));
    /* The version is checked before the run id. */
    CU_ASSERT_EQUAL(s_decode(bytes, len, &caps, "another-run"), CG_ERR_VERSION);
    free(bytes);

    s_spec_t s = s_spec();
    s.protocol = 0; /* absent in proto3 */
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_VERSION);
}

static void test_wrong_run_id(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 302, 0);
    cg_msg_caps_t caps = s_caps();
    for (int which = 0; which < 5; which++) {
        cg_msg_t m;
        s_make_any(&rng, which, &m);
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, "run-other"), CG_ERR_RUN_ID);
        CU_ASSERT(s_err_has("run_id"));
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, ""), CG_ERR_RUN_ID);
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, NULL), CG_OK);
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
        cg_msg_free(&m);
    }
    /* The run id is checked before the body. */
    s_spec_t s = s_spec();
    s.run_id = "run-other";
    s.last_obs = 1;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_RUN_ID);
}

static void test_no_body(void)
{
    cg_msg_caps_t caps = s_caps();
    s_buf_t b = {0};
    s_w_envelope(&b, CG_PROTOCOL_VERSION, RUN_ID, 0, NULL);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, RUN_ID), CG_ERR_PROTO);
    CU_ASSERT(s_err_has("body"));
    /* A body kind from the future (field 9) is unknown to us: no body. */
    s_buf_t empty = {0};
    s_w_msg(&b, 9, &empty);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, RUN_ID), CG_ERR_PROTO);
    free(b.p);
}

/* ---- shapes ---- */

static void test_shape_counts(void)
{
    s_spec_t s = s_spec();
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_OK);

    s = s_spec();
    s.last_episodes = s.group_size - 1;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("groups[2].episodes"));

    s = s_spec();
    s.last_costs = s.n_costs + 1;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("episodes[3].costs"));

    s = s_spec();
    s.last_costs = 0;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);

    s = s_spec();
    s.last_obs = s.length * s.obs_dim - 1;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("episodes[3].obs"));

    s = s_spec();
    s.last_actions = s.length + 1;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("action"));

    s = s_spec();
    s.last_logp = s.length - 1;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("logp"));

    s = s_spec();
    s.length = 0;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("length"));

    s = s_spec();
    s.length = -3;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);

    s = s_spec();
    s.n_groups = 0;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("groups"));

    s = s_spec();
    s.obs_dim = 0;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("obs_dim"));

    s = s_spec();
    s.group_size = 0;
    CU_ASSERT_EQUAL(s_decode_spec(&s), CG_ERR_SHAPE);

    /* Weights: thresholds must number lambdas - 1; params must not be empty. */
    cg_msg_caps_t caps = s_caps();
    s_buf_t b = {0};
    s_wire_weights(&b, 10, 3, 1);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("thresholds"));
    free(b.p);
    memset(&b, 0, sizeof b);
    s_wire_weights(&b, 0, 3, 2);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, RUN_ID), CG_ERR_SHAPE);
    free(b.p);
    memset(&b, 0, sizeof b);
    s_wire_weights(&b, 10, 0, 0);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("lambdas"));
    free(b.p);

    /* Only the final (done) Weights may come without weights. */
    cg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = CG_MSG_WEIGHTS;
    snprintf(m.run_id, sizeof m.run_id, "%s", RUN_ID);
    m.u.weights.version = 9;
    m.u.weights.done = 1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    s_roundtrip_equal(&m);
    m.u.weights.done = 0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("params"));
}

static void test_shape_values(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 401, 0);
    cg_msg_caps_t caps = s_caps();
    cg_msg_t m;

    /* actions outside [0, n_actions) */
    s_make_batch(&rng, &m, 3, 4, 2, 3, 5, 8);
    m.u.groups.groups[2].episodes[1].action[0] = 5;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("groups[2].episodes[1].action[0]"));
    m.u.groups.groups[2].episodes[1].action[0] = -1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    m.u.groups.groups[2].episodes[1].action[0] = 4;
    m.u.groups.groups[0].n_checks = -1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("n_checks"));
    m.u.groups.groups[0].n_checks = 0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    cg_msg_free(&m);

    /* welcome: temperatures 0 or G, valid hidden sizes and activation, params fit the shape */
    s_make_welcome(&rng, &m);
    cg_msg_welcome_t *w = &m.u.welcome;
    free(w->temperatures);
    w->group_size = 4;
    w->n_temperatures = 3;
    w->temperatures = cg_calloc(3, sizeof(float));
    for (int i = 0; i < 3; i++)
        w->temperatures[i] = 1.0f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("temperatures"));
    w->n_temperatures = 0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);

    free(w->params);
    w->obs_dim = 4;
    w->n_actions = 3;
    w->n_hidden = 2;
    w->hidden[0] = 8;
    w->hidden[1] = 5;
    w->n_params = (4 + 1) * 8 + (8 + 1) * 5 + (5 + 1) * 3;
    w->params = cg_calloc((size_t)w->n_params + 1, sizeof(float));
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    w->n_params += 1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("params"));
    w->n_params -= 1;
    w->hidden[1] = 0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("hidden[1]"));
    w->hidden[1] = 5;
    /* the simulator's description: constraints index the cost names, one per lambda after
     * lambda_R; an episode cap in range */
    w->n_costs = 2;
    snprintf(w->cost_names[0], sizeof w->cost_names[0], "lava");
    snprintf(w->cost_names[1], sizeof w->cost_names[1], "battery");
    w->n_constraints = w->n_lambda - 1;
    for (int32_t k = 0; k < w->n_constraints; k++)
        w->constraints[k] = k % 2;
    w->max_steps = 100;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    if (w->n_constraints > 0) {
        w->constraints[0] = 2;
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
        CU_ASSERT(s_err_has("welcome.constraints[0]: 2 is not a cost index"));
        w->constraints[0] = 0;
    }
    w->n_constraints = w->n_lambda; /* one too many */
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("welcome.constraints"));
    w->n_constraints = w->n_lambda - 1;
    w->cost_names[1][0] = '\0';
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("welcome.cost_names[1]: empty"));
    snprintf(w->cost_names[1], sizeof w->cost_names[1], "battery");
    w->max_steps = -1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("max_steps"));
    w->max_steps = 100;
    w->activation = (cg_activation_t)7;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("activation"));
    w->activation = CG_ACT_TANH;
    w->n_actions = 0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    w->n_actions = 3;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    cg_msg_free(&m);

    /* hello: sizes are 0 (not known yet, first contact) or positive */
    s_make_hello(&rng, &m);
    m.u.hello.group_size = 0;
    m.u.hello.obs_dim = 0;
    m.u.hello.n_actions = 0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    m.u.hello.group_size = -1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    CU_ASSERT(s_err_has("group_size"));
    cg_msg_free(&m);
}

/* ---- numbers ---- */

static void test_nonfinite(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 501, 0);
    cg_msg_caps_t caps = s_caps();
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    cg_msg_t m;

    s_make_batch(&rng, &m, 3, 4, 2, 3, 5, 8);
    for (int v = 0; v < 3; v++) {
        cg_msg_episode_t *ep = &m.u.groups.groups[2].episodes[3];
        float keep;
#define S_BAD(lvalue, name)                                                                        \
    do {                                                                                           \
        keep = (lvalue);                                                                           \
        (lvalue) = bad[v];                                                                         \
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_NONFINITE);                  \
        CU_ASSERT(s_err_has(name));                                                                \
        (lvalue) = keep;                                                                           \
    } while (0)
        S_BAD(ep->reward, "episodes[3].reward");
        S_BAD(ep->cost[1], "episodes[3].costs[1]");
        S_BAD(ep->temperature, "temperature");
        S_BAD(ep->obs[ep->length * 3 - 1], "obs");
        S_BAD(ep->logp[ep->length - 1], "logp");
    }
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    /* Finite observations beyond +-CG_MAX_ABS_OBS: out of range, named; the bound is in. */
    {
        cg_msg_episode_t *ep = &m.u.groups.groups[0].episodes[3];
        const float beyond[3] = {3e38f, -nextafterf(CG_MAX_ABS_OBS, INFINITY), 2e6f};
        for (int v = 0; v < 3; v++) {
            ep->obs[2] = beyond[v];
            CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
            CU_ASSERT(s_err_has("episodes[3].obs[2]"));
            CU_ASSERT(s_err_has("beyond +-1e+06"));
        }
        ep->obs[2] = -CG_MAX_ABS_OBS;
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    }
    cg_msg_free(&m);

    s_make_weights(&rng, &m, 100, 3);
    for (int v = 0; v < 3; v++) {
        float keep;
        S_BAD(m.u.weights.params[99], "weights.params[99]");
        S_BAD(m.u.weights.lambda[0], "weights.lambdas[0]");
        S_BAD(m.u.weights.thresholds[1], "weights.thresholds[1]");
    }
    m.u.weights.publish_time = INFINITY;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_NONFINITE);
    cg_msg_free(&m);

    s_make_welcome(&rng, &m);
    free(m.u.welcome.temperatures);
    m.u.welcome.n_temperatures = m.u.welcome.group_size;
    m.u.welcome.temperatures = cg_calloc((size_t)m.u.welcome.group_size, sizeof(float));
    for (int i = 0; i < m.u.welcome.group_size; i++)
        m.u.welcome.temperatures[i] = 1.0f;
    for (int v = 0; v < 3; v++) {
        float keep;
        S_BAD(m.u.welcome.temperatures[0], "welcome.temperatures[0]");
        S_BAD(m.u.welcome.params[0], "welcome.params[0]");
        S_BAD(m.u.welcome.lambda[0], "welcome.lambdas[0]");
    }
#undef S_BAD
    cg_msg_free(&m);

    s_make_heartbeat(&rng, &m);
    m.u.heartbeat.weights_latency_s = NAN;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_NONFINITE);
}

static void test_range(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 601, 0);
    cg_msg_caps_t caps = s_caps();
    cg_msg_t m;

    s_make_batch(&rng, &m, 2, 4, 2, 3, 5, 8);
    cg_msg_episode_t *ep = &m.u.groups.groups[1].episodes[2];
    ep->cost[0] = 0.5f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("groups[1].episodes[2].costs[0]"));
    ep->cost[0] = 2.0f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    ep->cost[0] = 1.0f;
    ep->temperature = 0.0f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("temperature"));
    ep->temperature = -1.0f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    ep->temperature = 1.0f;
    ep->logp[0] = 0.1f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("logp[0]"));
    ep->logp[0] = 0.0f; /* probability 1 is fine */
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    cg_msg_free(&m);

    s_make_weights(&rng, &m, 10, 3);
    m.u.weights.lambda[2] = -0.1f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("lambdas[2]"));
    m.u.weights.lambda[2] = 0.0f;
    m.u.weights.thresholds[0] = 1.5f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("thresholds[0]"));
    m.u.weights.thresholds[0] = 0.0f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    cg_msg_free(&m);

    s_make_welcome(&rng, &m);
    m.u.welcome.lambda[0] = -1.0f;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    m.u.welcome.lambda[0] = 0.5f;
    if (m.u.welcome.n_temperatures > 0) {
        m.u.welcome.temperatures[0] = 0.0f;
        CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
        m.u.welcome.temperatures[0] = 1.0f;
    }
    m.u.welcome.heartbeat_ms = -5;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    m.u.welcome.heartbeat_ms = 500;
    m.u.welcome.quota = -1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("quota"));
    m.u.welcome.quota = 4;
    const int32_t det = m.u.welcome.deterministic;
    m.u.welcome.deterministic = 1;
    m.u.welcome.credits = 1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_PROTO);
    CU_ASSERT(s_err_has("credits"));
    m.u.welcome.deterministic = det;
    m.u.welcome.credits = 0;
    m.u.welcome.data_port = 70000;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("data_port"));
    m.u.welcome.data_port = 5555;
    m.u.welcome.weights_port = -1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("weights_port"));
    m.u.welcome.weights_port = 5556;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    cg_msg_free(&m);

    s_make_heartbeat(&rng, &m);
    m.u.heartbeat.weights_latency_s = -2.0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    m.u.heartbeat.weights_latency_s = -1.0;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    m.u.heartbeat.credit = -1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    CU_ASSERT(s_err_has("credit"));
    m.u.heartbeat.credit = (1 << 20) + 1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_RANGE);
    m.u.heartbeat.credit = 1 << 20;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
}

/* The first failing category wins, in the documented order. */
static void test_check_order(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 602, 0);
    cg_msg_caps_t caps = s_caps();
    cg_msg_t m;
    s_make_batch(&rng, &m, 3, 4, 2, 3, 5, 8);
    cg_msg_groups_t *b = &m.u.groups;
    b->groups[2].episodes[3].cost[0] = 0.5f; /* range, last episode */
    b->groups[1].episodes[0].logp[0] = NAN;  /* non-finite, earlier episode */
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_NONFINITE);
    b->groups[2].episodes[3].action[0] = 99; /* shape, last episode */
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_SHAPE);
    caps.max_steps = 1; /* caps */
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    caps = s_caps();
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, "run-other"), CG_ERR_RUN_ID);
    cg_msg_free(&m);
}

/* ---- sizes ---- */

static void test_caps(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 701, 0);
    cg_msg_caps_t caps;
    cg_msg_t m;

    s_make_batch(&rng, &m, 5, 4, 3, 6, 7, 10);
    caps = s_caps();
    caps.max_groups = 4;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("groups"));
    caps = s_caps();
    caps.max_group_size = 3;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("group_size"));
    caps = s_caps();
    caps.max_costs = 2;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("n_costs"));
    caps = s_caps();
    caps.max_obs_dim = 5;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    caps = s_caps();
    caps.max_actions = 6;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    int32_t longest = 0;
    for (int32_t g = 0; g < 5; g++)
        for (int32_t i = 0; i < 4; i++)
            if (m.u.groups.groups[g].episodes[i].length > longest)
                longest = m.u.groups.groups[g].episodes[i].length;
    caps = s_caps();
    caps.max_steps = longest - 1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has(".length"));
    caps.max_steps = longest;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    cg_msg_free(&m);

    s_make_weights(&rng, &m, 1000, 3);
    caps = s_caps();
    caps.max_params = 999;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("params"));
    caps.max_params = 1000;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    caps.max_costs = 1; /* 3 lambdas need K = 2 */
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    cg_msg_free(&m);

    s_make_welcome(&rng, &m);
    caps = s_caps();
    caps.max_params = m.u.welcome.n_params - 1;
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_ERR_TOOBIG);
    cg_msg_free(&m);

    /* Strings longer than the C buffers (only a foreign writer can produce them). */
    char longname[CG_NAME_LEN + 1];
    memset(longname, 'x', CG_NAME_LEN);
    longname[CG_NAME_LEN] = '\0';
    caps = s_caps();
    s_buf_t h = {0}, b = {0};
    s_w_str(&h, 2, longname);
    s_w_int(&h, 5, 1);
    s_w_int(&h, 6, 1);
    s_w_int(&h, 7, 1);
    s_w_envelope(&b, CG_PROTOCOL_VERSION, RUN_ID, 3, &h);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("hello.host"));
    free(b.p);
    memset(&b, 0, sizeof b);
    s_buf_t hb = {0};
    s_w_int(&hb, 1, 1);
    s_w_envelope(&b, CG_PROTOCOL_VERSION, longname, 7, &hb);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, NULL), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("run_id"));
    longname[CG_NAME_LEN - 1] = '\0'; /* 63 bytes fit */
    free(b.p);
    memset(&b, 0, sizeof b);
    s_w_int(&hb, 1, 1);
    s_w_envelope(&b, CG_PROTOCOL_VERSION, longname, 7, &hb);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, NULL), CG_OK);
    free(b.p);
}

static void test_max_bytes(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 702, 0);
    cg_msg_t m;
    uint8_t *bytes;
    size_t len;
    s_make_weights(&rng, &m, 500, 2);
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
    cg_msg_caps_t caps = s_caps();
    caps.max_bytes = len - 1;
    CU_ASSERT_EQUAL(s_decode(bytes, len, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("bytes"));
    /* Size comes first: even garbage of that size is TOOBIG, not PROTO. */
    memset(bytes, 0xFF, len);
    CU_ASSERT_EQUAL(s_decode(bytes, len, &caps, RUN_ID), CG_ERR_TOOBIG);
    caps.max_bytes = len;
    CU_ASSERT_EQUAL(s_decode(bytes, len, &caps, RUN_ID), CG_ERR_PROTO);
    free(bytes);
    CU_ASSERT_EQUAL_FATAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
    CU_ASSERT_EQUAL(s_decode(bytes, len, &caps, RUN_ID), CG_OK);
    free(bytes);
    cg_msg_free(&m);
}

/* Decoding memory is bounded by the message size: a batch of 200k empty episodes (400 KB)
 * would take ~40 MB of structs and is refused; the densest valid batch still decodes. */
static void test_decode_budget(void)
{
    cg_msg_caps_t caps = s_caps();
    caps.max_group_size = 1 << 20;
    s_buf_t grp = {0}, batch = {0}, b = {0};
    uint8_t empty_ep[2] = {(3 << 3) | S_LEN, 0};
    for (int i = 0; i < 200000; i++)
        s_put(&grp, empty_ep, 2);
    s_w_int(&batch, 4, 200000);
    s_w_msg(&batch, 8, &grp);
    s_w_envelope(&b, CG_PROTOCOL_VERSION, RUN_ID, 5, &batch);
    CU_ASSERT_EQUAL(s_decode(b.p, b.n, &caps, RUN_ID), CG_ERR_TOOBIG);
    CU_ASSERT(s_err_has("expand"));
    free(b.p);

    /* Densest valid content: length-1 episodes, obs_dim 1, reward 0, no costs. */
    cg_rng_t rng;
    cg_rng_seed(&rng, 703, 0);
    cg_msg_t m;
    s_make_batch(&rng, &m, 256, 256, 0, 1, 1, 1);
    for (int32_t g = 0; g < 256; g++)
        for (int32_t i = 0; i < 256; i++) {
            cg_msg_episode_t *ep = &m.u.groups.groups[g].episodes[i];
            ep->reward = 0.0f;
            ep->obs[0] = 0.0f;
            ep->logp[0] = 0.0f;
        }
    caps = s_caps();
    CU_ASSERT_EQUAL(s_roundtrip_status(&m, &caps, RUN_ID), CG_OK);
    cg_msg_free(&m);
}

/* ---- API contract ---- */

static void test_free_and_names(void)
{
    cg_msg_t m;
    memset(&m, 0, sizeof m);
    cg_msg_free(&m);
    CU_ASSERT_EQUAL(m.type, CG_MSG_NONE);
    cg_msg_free(NULL);

    cg_rng_t rng;
    cg_rng_seed(&rng, 801, 0);
    s_make_batch(&rng, &m, 2, 2, 1, 2, 3, 4);
    cg_msg_free(&m);
    CU_ASSERT_EQUAL(m.type, CG_MSG_NONE);
    CU_ASSERT_PTR_NULL(m.u.groups.groups);
    cg_msg_free(&m); /* twice is safe */

    CU_ASSERT_STRING_EQUAL(cg_msg_type_name(CG_MSG_NONE), "none");
    CU_ASSERT_STRING_EQUAL(cg_msg_type_name(CG_MSG_HELLO), "hello");
    CU_ASSERT_STRING_EQUAL(cg_msg_type_name(CG_MSG_WELCOME), "welcome");
    CU_ASSERT_STRING_EQUAL(cg_msg_type_name(CG_MSG_GROUPS), "groups");
    CU_ASSERT_STRING_EQUAL(cg_msg_type_name(CG_MSG_WEIGHTS), "weights");
    CU_ASSERT_STRING_EQUAL(cg_msg_type_name(CG_MSG_HEARTBEAT), "heartbeat");
    CU_ASSERT_STRING_EQUAL(cg_msg_type_name((cg_msg_type_t)42), "unknown");

    /* decode with missing arguments */
    cg_msg_caps_t caps = s_caps();
    uint8_t byte = 0;
    CU_ASSERT_EQUAL(cg_msg_decode(&byte, 1, NULL, NULL, &m, NULL, 0), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_msg_decode(&byte, 1, &caps, NULL, NULL, NULL, 0), CG_ERR_INVAL);
    CU_ASSERT_EQUAL(cg_msg_decode(NULL, 0, &caps, NULL, &m, NULL, 0), CG_ERR_PROTO);
    CU_ASSERT_EQUAL(m.type, CG_MSG_NONE);
}

static void test_encode_invalid(void)
{
    cg_rng_t rng;
    cg_rng_seed(&rng, 802, 0);
    cg_msg_t m;
    uint8_t dummy = 0;
    uint8_t *bytes = &dummy; /* must be reset to NULL on failure */
    size_t len = 7;

    memset(&m, 0, sizeof m);
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_ERR_INVAL); /* type NONE */
    CU_ASSERT_PTR_NULL(bytes);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(cg_msg_encode(NULL, &bytes, &len), CG_ERR_INVAL);

    s_make_heartbeat(&rng, &m);
    memset(m.run_id, 'r', sizeof m.run_id); /* unterminated */
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_ERR_INVAL);

    s_make_weights(&rng, &m, 10, 2);
    float *params = m.u.weights.params;
    m.u.weights.params = NULL;
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_ERR_INVAL);
    m.u.weights.params = params;
    m.u.weights.n_params = -1;
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_ERR_INVAL);
    m.u.weights.n_params = 10;
    cg_msg_free(&m);

    s_make_batch(&rng, &m, 2, 2, 1, 2, 3, 4);
    m.u.groups.n_costs = CG_MAX_COSTS + 1;
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_ERR_INVAL);
    m.u.groups.n_costs = 1;
    m.u.groups.groups[1].episodes[1].length = -1;
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_ERR_INVAL);
    m.u.groups.groups[1].episodes[1].length = 1;
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_OK);
    free(bytes);
    cg_msg_free(&m);

    s_make_welcome(&rng, &m);
    m.u.welcome.n_hidden = CG_MAX_LAYERS + 1;
    CU_ASSERT_EQUAL(cg_msg_encode(&m, &bytes, &len), CG_ERR_INVAL);
    cg_msg_free(&m);
}

static void test_caps_from_config(void)
{
    cg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_msg_bytes = 1 << 20;
    cfg.max_steps_per_episode = 77;
    cfg.groups_per_batch = 64;
    cfg.instances = 16;
    cg_msg_caps_t caps;
    cg_msg_caps_from(&cfg, &caps);
    CU_ASSERT_EQUAL(caps.max_bytes, (size_t)1 << 20);
    CU_ASSERT_EQUAL(caps.max_steps, 77);
    CU_ASSERT(caps.max_groups >= 64);
    CU_ASSERT_EQUAL(caps.max_group_size, CG_MAX_GROUP);
    CU_ASSERT_EQUAL(caps.max_costs, CG_MAX_COSTS);
    CU_ASSERT(caps.max_obs_dim >= 1024);
    CU_ASSERT(caps.max_actions >= 1024);
    CU_ASSERT_EQUAL(caps.max_params, (1 << 20) / 4);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"roundtrip_hello", test_roundtrip_hello},
        {"roundtrip_welcome", test_roundtrip_welcome},
        {"roundtrip_groups", test_roundtrip_groups},
        {"roundtrip_weights", test_roundtrip_weights},
        {"roundtrip_heartbeat", test_roundtrip_heartbeat},
        {"roundtrip_large", test_roundtrip_large},
        {"signed_zero", test_signed_zero},
        {"wire_layout", test_wire_layout},
        {"truncated", test_truncated},
        {"random_bytes", test_random_bytes},
        {"mutated_bytes", test_mutated_bytes},
        {"fast_path_agrees", test_fast_path_agrees},
        {"wrong_version", test_wrong_version},
        {"wrong_run_id", test_wrong_run_id},
        {"no_body", test_no_body},
        {"shape_counts", test_shape_counts},
        {"shape_values", test_shape_values},
        {"nonfinite", test_nonfinite},
        {"range", test_range},
        {"check_order", test_check_order},
        {"caps", test_caps},
        {"max_bytes", test_max_bytes},
        {"decode_budget", test_decode_budget},
        {"free_and_names", test_free_and_names},
        {"encode_invalid", test_encode_invalid},
        {"caps_from_config", test_caps_from_config},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("msg", tests, NULL, NULL);
}
